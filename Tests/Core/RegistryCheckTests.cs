namespace Pastry.Tests.Core;

/// <summary>
/// What a game developer sees for each model declaration mistake (the exact sentence, reported once, by itself), and
/// what registration builds from a good declaration: indexes, unique fields, the schema text and JSON.
/// </summary>
[TestClass]
public sealed class RegistryCheckTests
{
    private const string Supported = "int, long, float, double, bool, string, byte[], DateTime, DoId, and arrays of these";

    /// <summary>
    /// A build of <typeparamref name="T"/>'s descriptor that bypasses ModelInfo's cache, so that what is asserted is
    /// what the builder makes now (a cached descriptor may have been built by an earlier test).
    /// </summary>
    internal static ModelInfo Fresh<T>()
    {
        var problems = new List<string>();
        var built = ModelInfoBuilder.Build(typeof(T), problems);
        Assert.IsEmpty(problems);
        return built!;
    }

    private static IReadOnlyList<string> ProblemsOf(params Type[] types) =>
        Assert.ThrowsExactly<ModelDeclarationException>(() => ModelRegistry.FromTypes(types)).Problems;

    [TestMethod]
    public void AbstractModel_IsRejected_ButAssemblyScanningPassesOverIt()
    {
        var error = Assert.ThrowsExactly<ModelDeclarationException>(() => ModelInfo.For<AbstractHeroBase>());

        Assert.AreEqual("Pastry.Tests.Core.AbstractHeroBase is abstract or generic; models must be concrete classes.", error.Problems.Single());
        var scanned = ModelRegistry.FromAssemblies(typeof(AbstractHeroBase).Assembly);
        Assert.IsFalse(scanned.TryGetModel(nameof(AbstractHeroBase), out _));
        Assert.IsTrue(scanned.TryGetModel(nameof(Goblin), out _));
    }

    [TestMethod]
    public void ModelWithoutParameterlessConstructor_IsRejected()
    {
        var type = typeof(Misdeclared<int>.NoDefaultConstructor);

        Assert.AreEqual(
            $"{type.FullName} has no parameterless constructor; add one (it may be private) so that repositories can create instances.",
            ProblemsOf(type).Single());
    }

    [TestMethod]
    public void OverloadedRpc_IsRejected()
    {
        Assert.AreEqual(
            "OverloadedRpc.Poke: [Distributed] methods cannot be overloaded; give each one its own name.",
            ProblemsOf(typeof(Misdeclared<int>.OverloadedRpc)).Single());
    }

    [TestMethod]
    public void GenericRpc_IsRejected()
    {
        Assert.AreEqual(
            "GenericRpc.Poke is [Distributed] and generic; RPCs must have concrete parameter types.",
            ProblemsOf(typeof(Misdeclared<int>.GenericRpc)).Single());
    }

    [TestMethod]
    public void RpcWithRefParameter_IsRejected_NamingTheRefType()
    {
        Assert.AreEqual(
            $"RefParameterRpc.Pay parameter 'amount' has type ref int, which cannot be sent. Supported: {Supported}.",
            ProblemsOf(typeof(Misdeclared<int>.RefParameterRpc)).Single());
    }

    [TestMethod]
    public void KeywordsOnPropertiesWithoutPublicSetter_AreRejected_EachWithItsCSharpType()
    {
        var problems = ProblemsOf(typeof(Misdeclared<int>.KeywordsWithoutSetter));

        string Expected(string property, string type) =>
            $"KeywordsWithoutSetter.{property} has field keywords but no public getter and setter; declare it as 'public partial {type} {property} {{ get; set; }}' in a partial model, or write it as '{{ get => Get<{type}>(); set => Set(value); }}'.";
        CollectionAssert.AreEqual(
            new[]
            {
                Expected("Open", "bool"), Expected("Gold", "long"), Expected("Speed", "float"), Expected("Weight", "double"),
                Expected("Rank", "int?"), Expected("Grid", "int[,]"), Expected("Since", "DateTime"), Expected("Name", "string"),
            },
            problems.ToArray(),
            "Every keyword (and [Required] alone) counts; properties without keywords (Title, Mood) are simply not fields.");
    }

    [TestMethod]
    public void FieldsOfUnsupportedTypes_AreRejected_EachWithItsCSharpType()
    {
        var problems = ProblemsOf(typeof(Misdeclared<int>.UnsupportedTypes));

        string Expected(string property, string type) =>
            $"UnsupportedTypes.{property} has type {type}, which is not a field type. Supported: {Supported}. Mark the property [NotDistributed] if it is not meant to be synchronised.";
        CollectionAssert.AreEqual(
            new[]
            {
                Expected("Small", "byte"), Expected("SignedSmall", "sbyte"), Expected("Letter", "char"), Expected("Short", "short"),
                Expected("UnsignedShort", "ushort"), Expected("Unsigned", "uint"), Expected("UnsignedLong", "ulong"),
                Expected("Anything", "object"), Expected("Day", "DayOfWeek"), Expected("Table", "Dictionary<string, int[]>"),
                Expected("Plane", "long[,]"), Expected("Maybe", "double?"),
            },
            problems.ToArray());
    }

    [TestMethod]
    public void SeveralCleanMethodsForOneField_AreRejected()
    {
        Assert.AreEqual(
            "SeveralCleanMethods has 2 methods named CleanName; keep one, declared as 'string CleanName(string value)'.",
            ProblemsOf(typeof(Misdeclared<int>.SeveralCleanMethods)).Single());
    }

    [TestMethod]
    public void UniqueOrIndexedField_ThatIsNotDb_IsRejected_NamingTheAttribute()
    {
        Assert.AreEqual(
            "UniqueNotDb.Handle is in [Unique] but is not [Db]; indexes and unique constraints live in the database, so add [Db].",
            ProblemsOf(typeof(Misdeclared<int>.UniqueNotDb)).Single());
        Assert.AreEqual(
            "IndexedNotDb.Level is in [Indexed] but is not [Db]; indexes and unique constraints live in the database, so add [Db].",
            ProblemsOf(typeof(Misdeclared<int>.IndexedNotDb)).Single());
    }

    [TestMethod]
    public void UniqueIgnoreCase_OnAFieldThatCannotBeIndexed_ReportsOnlyThatItCannotBeIndexed()
    {
        Assert.AreEqual(
            "IgnoreCaseIntNotDb.Level is in [Unique] but is not [Db]; indexes and unique constraints live in the database, so add [Db].",
            ProblemsOf(typeof(Misdeclared<int>.IgnoreCaseIntNotDb)).Single());
        Assert.AreEqual(
            "IgnoreCaseIntArray.Scores is in [Unique] but is an array (int32[]), which is stored as JSON text; index a scalar field instead.",
            ProblemsOf(typeof(Misdeclared<int>.IgnoreCaseIntArray)).Single());
    }

    [TestMethod]
    public void UniqueIgnoreCase_OnANonStringField_IsRejected()
    {
        Assert.AreEqual(
            "IgnoreCaseInt.Level is [Unique(IgnoreCase = true)] but its type is Int32; only string fields have a letter case.",
            ProblemsOf(typeof(Misdeclared<int>.IgnoreCaseInt)).Single());
    }

    [TestMethod]
    public void TogetherIndexes_WithoutFields_AreRejected_WithAnExample()
    {
        CollectionAssert.AreEquivalent(
            new[]
            {
                "TogetherWithoutFields has [UniqueTogether] without fields; name them, for example [UniqueTogether(nameof(Owner), nameof(Slot))].",
                "TogetherWithoutFields has [IndexTogether] without fields; name them, for example [IndexTogether(nameof(Owner), nameof(Slot))].",
            },
            ProblemsOf(typeof(Misdeclared<int>.TogetherWithoutFields)).ToArray());
    }

    [TestMethod]
    public void TogetherIndexes_NamingAnUnknownFieldOrOneFieldTwice_AreRejected()
    {
        CollectionAssert.AreEquivalent(
            new[]
            {
                "TogetherWrongNames has [IndexTogether] naming 'Nope', which is not a field of TogetherWrongNames; use nameof(...) with its properties.",
                "TogetherWrongNames has [UniqueTogether] naming Level twice.",
            },
            ProblemsOf(typeof(Misdeclared<int>.TogetherWrongNames)).ToArray());
    }

    [TestMethod]
    public void TheSameIndexDeclaredTwice_IsRejected_NamingIt()
    {
        CollectionAssert.AreEquivalent(
            new[]
            {
                "SameIndexTwice declares the index index SameIndexTwice(Level) 2 times; keep one.",
                "SameIndexTwice declares the index unique ignore-case SameIndexTwice(Handle) 2 times; keep one.",
            },
            ProblemsOf(typeof(Misdeclared<int>.SameIndexTwice)).ToArray());
    }

    [TestMethod]
    public void TwoModelsWhoseClassIdsCollide_AreRejected()
    {
        // FNV-1a of both names is 1149495314 (found by a search over generated names).
        Assert.AreEqual(ModelInfo.StableClassId("Relicojif"), ModelInfo.StableClassId("RelicWxah"));

        Assert.AreEqual(
            "Models RelicWxah and Relicojif hash to the same class id 1149495314; rename one of them.",
            ProblemsOf(typeof(Misdeclared<int>.Relicojif), typeof(Misdeclared<int>.RelicWxah)).Single());
    }

    [TestMethod]
    public void Indexes_AreBuiltFromFieldAndClassAttributes_AndMarkTheirFieldsUnique()
    {
        var model = Fresh<WellDeclared<int>.Vault>();

        CollectionAssert.AreEqual(
            new[] { "ux__Vault__Handle__ci", "ix__Vault__Level", "ux__Vault__Holder__Slot__ci", "ux__Vault__Slot__Rank", "ix__Vault__Level__Slot" },
            model.Indexes.Select(i => i.Name).ToArray());
        CollectionAssert.AreEqual(
            new[] { "unique ignore-case Vault(Handle)", "index Vault(Level)", "unique ignore-case Vault(Holder, Slot)", "unique Vault(Slot, Rank)", "index Vault(Level, Slot)" },
            model.Indexes.Select(i => i.ToString()).ToArray());

        // Slot is in two unique indexes; Level only in plain ones.
        CollectionAssert.AreEqual(
            new[] { "Holder", "Slot", "Rank", "Handle" },
            model.Fields.Where(f => f.IsUnique).Select(f => f.Name).ToArray());

        // Case is ignored only for a string field alone in a case-insensitive index.
        Assert.IsTrue(model.IgnoresCase(model.GetField("Handle")));
        Assert.IsFalse(model.IgnoresCase(model.GetField("Holder")));
        var holderSlot = model.Indexes[2];
        Assert.IsTrue(holderSlot.IgnoresCaseOf(model.GetField("Holder")));
        Assert.IsFalse(holderSlot.IgnoresCaseOf(model.GetField("Slot")));
        Assert.AreSame(model, holderSlot.Model);
    }

    [TestMethod]
    public void TogetherIndexes_OfABaseClass_ApplyToTheModelsDerivedFromIt()
    {
        var model = Fresh<WellDeclared<int>.Champion>();

        CollectionAssert.AreEqual(new[] { "ux__Champion__Realm__Level", "ix__Champion__Level__Realm" }, model.Indexes.Select(i => i.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "Realm", "Level", "Wins" }, model.Fields.Select(f => f.Name).ToArray(), "Base class fields come first.");
    }

    [TestMethod]
    public void OverridingABaseClassRpc_IsTheSameRpc_AndRunsTheOverride()
    {
        // Before the fix, registration refused the model: "ChurchBell.Ring: [Distributed] methods cannot be overloaded".
        var model = Fresh<WellDeclared<int>.ChurchBell>();
        var bell = new WellDeclared<int>.ChurchBell();

        var ring = model.Methods.Single();
        Assert.AreEqual("Ring", ring.Name);
        Assert.IsTrue(ring.IsClSend, "The base's keywords rule.");
        ring.Invoke(bell, new object?[] { 3 });
        Assert.AreEqual("church 3", bell.Rung);
    }

    [TestMethod]
    public void RenamedFrom_WithoutNames_HasNoFormerNames()
    {
        Assert.IsEmpty(new RenamedFromAttribute(null!).FormerNames);
        CollectionAssert.AreEqual(new[] { "Coins", "Money" }, new RenamedFromAttribute("Coins", "Money").FormerNames.ToArray());
    }

    [TestMethod]
    public void SchemaText_ListsEachFieldRpcAndIndexWithItsKeywordsAndValidators()
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(WellDeclared<int>.Ledger), typeof(WellDeclared<int>.Vault) });
        var ledger = registry.GetModel<WellDeclared<int>.Ledger>();
        var vault = registry.GetModel<WellDeclared<int>.Vault>();

        string text = registry.ToText();

        StringAssert.StartsWith(text, $"schema {registry.SchemaHashText} (3 models){Environment.NewLine}");
        string expected = string.Join(
            Environment.NewLine,
            $"class Ledger  id {ledger.ClassId}",
            "  0 Gold : int32 required ram broadcast @Required @Range",
            "  1 Note : string db ownsend @NotBlank @MaxLength",
            "  2 Seen : datetime ram clsend",
            "  3 Keeper : doid ram ai",
            "  4 Tag : string ram",
            "  rpc 0 Say(text : string, volume : int32) clsend anonymous",
            "  rpc 1 Shout(text : string, volume : int32) ownsend",
            "  rpc 2 Ring() broadcast ai",
            $"class LoginManager  id {registry.GetModel<LoginManager>().ClassId}");
        StringAssert.Contains(text, expected);
        StringAssert.EndsWith(
            text,
            string.Join(
                Environment.NewLine,
                $"class Vault  id {vault.ClassId}",
                "  0 Holder : string db",
                "  1 Slot : int32 db",
                "  2 Rank : int32 db",
                "  3 Handle : string db",
                "  4 Level : int32 db",
                "  unique ignorecase (Handle)",
                "  index (Level)",
                "  unique ignorecase (Holder, Slot)",
                "  unique (Slot, Rank)",
                "  index (Level, Slot)",
                string.Empty));
    }

    [TestMethod]
    public void SchemaJson_OfAModelWithoutLock_HasNoWireIds_AndTheHashIsItsSha256Prefix()
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(WellDeclared<int>.Ledger) });
        var ledger = registry.GetModel<WellDeclared<int>.Ledger>();

        StringAssert.Contains(
            registry.SchemaJson,
            "{\"name\":\"Ledger\",\"id\":" + ledger.ClassId + ",\"fields\":["
            + "{\"name\":\"Gold\",\"type\":\"int32\",\"keywords\":[\"required\",\"ram\",\"broadcast\"],\"validators\":[\"Required\",\"Range\"]},"
            + "{\"name\":\"Note\",\"type\":\"string\",\"keywords\":[\"db\",\"ownsend\"],\"validators\":[\"NotBlank\",\"MaxLength\"]},"
            + "{\"name\":\"Seen\",\"type\":\"datetime\",\"keywords\":[\"ram\",\"clsend\"],\"validators\":[]},"
            + "{\"name\":\"Keeper\",\"type\":\"doid\",\"keywords\":[\"ram\",\"ai\"],\"validators\":[]},"
            + "{\"name\":\"Tag\",\"type\":\"string\",\"keywords\":[\"ram\"],\"validators\":[]}],"
            + "\"methods\":["
            + "{\"name\":\"Say\",\"parameters\":[{\"name\":\"text\",\"type\":\"string\"},{\"name\":\"volume\",\"type\":\"int32\"}],\"keywords\":[\"clsend\",\"anonymous\"]},"
            + "{\"name\":\"Shout\",\"parameters\":[{\"name\":\"text\",\"type\":\"string\"},{\"name\":\"volume\",\"type\":\"int32\"}],\"keywords\":[\"ownsend\"]},"
            + "{\"name\":\"Ring\",\"parameters\":[],\"keywords\":[\"broadcast\",\"ai\"]}]}");

        byte[] digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(registry.SchemaJson));
        Assert.AreEqual(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest), registry.SchemaHash);
        Assert.AreEqual(registry.SchemaHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), registry.SchemaHashText);
    }

    [TestMethod]
    public void KeywordNames_AreListedInTheirFixedOrder()
    {
        CollectionAssert.AreEqual(
            new[] { "required", "ram", "db", "broadcast", "clsend", "ownsend", "ai", "anonymous" },
            ModelRegistry.KeywordNames((FieldKeywords)0xFF).ToArray());
        Assert.IsFalse(ModelRegistry.KeywordNames(FieldKeywords.None).Any());
    }

    [TestMethod]
    public void MembersAndExcludedProperties_AreFoundInDeclarationOrder()
    {
        var model = Fresh<WellDeclared<int>.Ledger>();

        CollectionAssert.AreEqual(new[] { "Gold", "Note", "Seen", "Keeper", "Tag" }, model.Fields.Select(f => f.Name).ToArray(), "Not the indexer, not [NotDistributed] ones, not the get-only ones.");
        CollectionAssert.AreEqual(new[] { "Say", "Shout", "Ring" }, model.Methods.Select(m => m.Name).ToArray());
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, model.Methods.Select(m => (int)m.WireId).ToArray());
        Assert.IsFalse(model.HasLockedIds);
        Assert.IsTrue(model.HasDbFields);
        Assert.IsFalse(ModelInfo.For<Gatekeeper>().HasDbFields);
    }

    [TestMethod]
    public void Lookups_ByNameAndWireId_FindEachMember_AndNameWhatIsMissing()
    {
        var model = Fresh<WellDeclared<int>.Ledger>();

        var field = Assert.ThrowsExactly<KeyNotFoundException>(() => model.GetField("Gems"));
        Assert.AreEqual("Ledger has no field named 'Gems'. Fields: Gold, Note, Seen, Keeper, Tag.", field.Message);
        var method = Assert.ThrowsExactly<KeyNotFoundException>(() => model.GetMethod("Gems"));
        Assert.AreEqual("Ledger has no [Distributed] method named 'Gems'.", method.Message);

        Assert.AreSame(model.Fields[0], model.FindFieldByWireId(0));
        Assert.AreSame(model.Fields[4], model.FindFieldByWireId(4));
        Assert.IsNull(model.FindFieldByWireId(5));
        Assert.IsNull(model.FindFieldByWireId(-1));
        Assert.AreSame(model.Methods[0], model.FindMethodByWireId(0));
        Assert.AreSame(model.Methods[2], model.FindMethodByWireId(2));
        Assert.IsNull(model.FindMethodByWireId(3));
        Assert.IsNull(model.FindMethodByWireId(-1));
        Assert.AreEqual("Ledger", model.ToString());
    }

    [TestMethod]
    public void HandWrittenAccessors_WithAWrongTypeOrName_SayWhatIsWrong()
    {
        var ledger = new WellDeclared<int>.Ledger { Gold = 7 };

        var wrongType = Assert.ThrowsExactly<InvalidOperationException>(() => ledger.GoldAsLong);
        Assert.AreEqual("Ledger.Gold is a Int32 field, but it was accessed as Int64. Use Get<Int32>() / Set(value) with the property's own type.", wrongType.Message);
        var notField = Assert.ThrowsExactly<InvalidOperationException>(() => ledger.Ghost);
        Assert.AreEqual(
            "Ledger.Ghost is not a field. Get<T>() and Set(value) may only be called from the getter and setter of a public read-write property of the model (not marked [NotDistributed]).",
            notField.Message);
        Assert.AreEqual(7, ledger.Gold, "The right accessor still works.");
    }

    [TestMethod]
    public void DeclarationException_Message_ListsEachProblemOnItsOwnLine()
    {
        string nl = Environment.NewLine;

        Assert.AreEqual($"Model declaration error:{nl}  A is wrong.", new ModelDeclarationException(new[] { "A is wrong." }).Message);
        Assert.AreEqual($"Model declaration errors:{nl}  A is wrong.{nl}  B is wrong.", new ModelDeclarationException(new[] { "A is wrong.", "B is wrong." }).Message);
    }

    [TestMethod]
    public void ValidationException_Message_ListsEachFieldAndItsMessages()
    {
        var errors = new Dictionary<string, IReadOnlyList<string>>
        {
            ["Gold"] = new[] { "too much", "odd" },
            [ModelValidationException.ObjectKey] = new[] { "broken" },
        };

        var error = new ModelValidationException("Ledger", errors);

        Assert.AreEqual("Ledger is not valid: Gold: too much; odd | __all__: broken", error.Message);
        Assert.AreEqual("Ledger", error.ModelName);
        Assert.AreSame(errors, error.Errors);
        Assert.AreEqual("Ledger is not valid: Tag: taken", new ModelValidationException("Ledger", "Tag", "taken").Message);
    }
}
