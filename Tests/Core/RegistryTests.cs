using System.ComponentModel.DataAnnotations;
using System.Text;

namespace Pastry.Tests.Core;

[TestClass]
public sealed class RegistryTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Goblin), typeof(Gatekeeper), typeof(Strongbox) });

    private static uint Fnv1a(string text)
    {
        uint hash = 2166136261;
        foreach (byte b in Encoding.ASCII.GetBytes(text))
        {
            hash = (hash ^ b) * 16777619;
        }

        return hash;
    }

    [TestMethod]
    public void FromAssemblies_FindsEveryConcreteModel_AndSkipsBasesAndHiddenDeclarations()
    {
        var registry = ModelRegistry.FromAssemblies(typeof(Goblin).Assembly);

        var names = registry.Models.Select(m => m.Name).ToList();
        CollectionAssert.IsSubsetOf(new[] { "Expedition", "Gatekeeper", "Goblin", "Recruit", "Strongbox" }, names);
        CollectionAssert.DoesNotContain(names, "CreatureBase`1");
        CollectionAssert.DoesNotContain(names, "Lantern");
        CollectionAssert.DoesNotContain(names, "NonVoidRpc");
        CollectionAssert.AreEqual(names.OrderBy(n => n, StringComparer.Ordinal).ToList(), names, "Models are ordered by name.");
    }

    [TestMethod]
    public void FromTypes_RegistersExactlyTheGivenModels_PlusTheBuiltInUberDogs()
    {
        CollectionAssert.AreEqual(new[] { "Gatekeeper", "Goblin", "LoginManager", "Strongbox" }, Registry.Models.Select(m => m.Name).ToArray());
    }

    [TestMethod]
    public void Fields_AreInDeclarationOrder_BaseClassFirst_WithIndexes()
    {
        var model = Registry.GetModel<Goblin>();

        CollectionAssert.AreEqual(
            new[] { "Species", "Level", "Gold", "Position", "Appearance", "Mood" },
            model.Fields.Select(f => f.Name).ToArray());
        CollectionAssert.AreEqual(Enumerable.Range(0, model.Fields.Count).ToArray(), model.Fields.Select(f => f.Index).ToArray());
        CollectionAssert.AreEqual(
            new[] { typeof(string), typeof(int), typeof(int), typeof(float[]), typeof(byte[]), typeof(long) },
            model.Fields.Select(f => f.ClrType).ToArray());
    }

    [TestMethod]
    public void NotDistributedAndGetOnlyProperties_AreNotFields()
    {
        var model = Registry.GetModel<Goblin>();

        Assert.IsFalse(model.TryGetField(nameof(Goblin.Nickname), out _));
        Assert.IsFalse(model.TryGetField(nameof(Goblin.Title), out _));
        Assert.IsFalse(model.TryGetField(nameof(Goblin.LastTaunt), out _));
        Assert.ThrowsExactly<KeyNotFoundException>(() => model.GetField(nameof(Goblin.Title)));
    }

    [TestMethod]
    public void Keywords_AreReadFromTheAttributes()
    {
        var model = Registry.GetModel<Goblin>();

        Assert.AreEqual(FieldKeywords.Required | FieldKeywords.Ram | FieldKeywords.Broadcast, model.GetField("Species").Keywords);
        Assert.AreEqual(FieldKeywords.Ram | FieldKeywords.Db, model.GetField("Level").Keywords);
        Assert.AreEqual(FieldKeywords.Db | FieldKeywords.Ai, model.GetField("Gold").Keywords);
        Assert.AreEqual(FieldKeywords.Ram | FieldKeywords.Broadcast | FieldKeywords.ClSend, model.GetField("Position").Keywords);
        Assert.AreEqual(FieldKeywords.Db | FieldKeywords.OwnSend, model.GetField("Appearance").Keywords);
        Assert.AreEqual(FieldKeywords.None, model.GetField("Mood").Keywords);

        var species = model.GetField("Species");
        Assert.IsTrue(species.IsRequired && species.IsRam && species.IsBroadcast && species.IsStored);
        Assert.IsFalse(species.IsDb || species.IsClSend || species.IsOwnSend || species.IsAi);
        Assert.IsFalse(model.GetField("Mood").IsStored, "A field with neither Required nor Ram is relayed, not stored.");
        Assert.IsTrue(model.HasDbFields);
    }

    [TestMethod]
    public void Validators_AreTheFieldsValidationAttributes()
    {
        var model = Registry.GetModel<Goblin>();

        var gold = model.GetField("Gold").Validators.Single();
        Assert.IsInstanceOfType<RangeAttribute>(gold);
        Assert.AreEqual(1_000_000, ((RangeAttribute)gold).Maximum);
        Assert.AreEqual(32, ((MaxLengthAttribute)model.GetField("Appearance").Validators.Single()).Length);
        Assert.IsInstanceOfType<RequiredAttribute>(model.GetField("Species").Validators.Single());
        Assert.IsEmpty(model.GetField("Mood").Validators);
    }

    [TestMethod]
    public void CleanMethods_AreFoundByName()
    {
        var model = ModelInfo.For<Recruit>();

        Assert.AreEqual("CleanName", model.GetField("Name").CleanMethod?.Name);
        Assert.AreEqual("CleanCallSign", model.GetField("CallSign").CleanMethod?.Name);
        Assert.IsNull(model.GetField("Guild").CleanMethod);
    }

    [TestMethod]
    public void Methods_AreTheDistributedMethods_InDeclarationOrder_WithParametersAndKeywords()
    {
        var goblin = Registry.GetModel<Goblin>();

        CollectionAssert.AreEqual(new[] { "Taunt", "Reward" }, goblin.Methods.Select(m => m.Name).ToArray());
        var taunt = goblin.GetMethod("Taunt");
        Assert.AreEqual(0, taunt.Index);
        Assert.AreEqual(FieldKeywords.ClSend | FieldKeywords.Broadcast, taunt.Keywords);
        CollectionAssert.AreEqual(new[] { "text", "volume" }, taunt.Parameters.Select(p => p.Name).ToArray());
        CollectionAssert.AreEqual(new[] { typeof(string), typeof(int) }, taunt.Parameters.Select(p => p.Codec.ClrType).ToArray());
        Assert.IsInstanceOfType<MaxLengthAttribute>(taunt.Parameters[0].Validators.Single());
        Assert.AreEqual(FieldKeywords.Ai, goblin.GetMethod("Reward").Keywords);

        var knock = Registry.GetModel<Gatekeeper>().GetMethod("Knock");
        Assert.IsTrue(knock.IsAnonymous && knock.IsClSend);
        Assert.IsTrue(Registry.GetModel<Gatekeeper>().GetMethod("Leave").IsOwnSend);
        Assert.ThrowsExactly<KeyNotFoundException>(() => goblin.GetMethod("Nickname"));
    }

    [TestMethod]
    public void Invoke_RunsTheMethodBody()
    {
        var goblin = new Goblin();
        goblin.Model.GetMethod("Taunt").Invoke(goblin, new object?[] { "Oi", 3 });

        Assert.AreEqual("Oi!!!", goblin.LastTaunt);
    }

    [TestMethod]
    public void ClassId_IsTheFnv1aHashOfTheName()
    {
        Assert.AreEqual(0xbf9cf968u, ModelInfo.StableClassId("foobar"), "FNV-1a 32-bit test vector");
        foreach (var model in Registry.Models)
        {
            Assert.AreEqual(Fnv1a(model.Name), model.ClassId, model.Name);
        }
    }

    [TestMethod]
    public void ClassId_DoesNotDependOnTheOtherRegisteredModels()
    {
        var alone = ModelRegistry.FromTypes(new[] { typeof(Goblin) });

        Assert.AreEqual(Registry.GetModel<Goblin>().ClassId, alone.GetModel<Goblin>().ClassId);
        Assert.AreSame(Registry.GetModel<Goblin>(), alone.GetModel<Goblin>(), "ModelInfo is built once per type and shared.");
    }

    [TestMethod]
    public void Lookup_ByTypeIdAndName_FindsTheSameModel()
    {
        Type type = typeof(Goblin);
        var model = Registry.GetModel(type);

        Assert.AreEqual("Goblin", model.Name);
        Assert.AreEqual(typeof(Goblin), model.ClrType);
        Assert.IsTrue(Registry.TryGetModel(model.ClassId, out var byId));
        Assert.AreSame(model, byId);
        Assert.IsTrue(Registry.TryGetModel("Goblin", out var byName));
        Assert.AreSame(model, byName);
        Assert.AreSame(model, Registry.GetModel<Goblin>());
    }

    [TestMethod]
    public void Lookup_OfAnUnknownModel_FailsClearly()
    {
        Assert.IsFalse(Registry.TryGetModel("goblin", out _), "Names are case-sensitive.");
        Assert.IsFalse(Registry.TryGetModel(ModelInfo.For<Recruit>().ClassId, out _));
        var error = Assert.ThrowsExactly<KeyNotFoundException>(() => Registry.GetModel<Recruit>());
        StringAssert.Contains(error.Message, "Recruit");
    }

    [TestMethod]
    public void CreateInstance_MakesAStandaloneObjectWithDefaults()
    {
        var box = (Strongbox)Registry.GetModel<Strongbox>().CreateInstance();

        Assert.AreEqual(ObjectState.Standalone, box.State);
        Assert.AreEqual(string.Empty, box.StringValue);
        Assert.IsEmpty(box.Int32Array);
        Assert.AreEqual(DateTimeKind.Utc, box.DateTimeValue.Kind);
        Assert.IsFalse(box.IsAssigned(box.Model.GetField("StringValue")));
    }
}
