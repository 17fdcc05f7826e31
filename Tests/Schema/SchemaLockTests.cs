namespace Pastry.Tests.Schema;

/// <summary>The schema lock: ids kept across inserts, reorders and renames, retired for good, and used on the wire when embedded.</summary>
[TestClass]
public sealed class SchemaLockTests
{
    private static ModelRegistry Registry(string source, string? schemaLock = null) => ModelRegistry.FromAssemblies(ModelAssembly.Load(source, schemaLock));

    private static ModelInfo Model(ModelRegistry registry, string name) => registry.TryGetModel(name, out var model) ? model : throw new AssertFailedException("no model " + name);

    private static LockedClass Hero(SchemaLock schemaLock) => schemaLock.Find("Hero")!;

    private static int IdOf(LockedClass model, string field) => model.Fields.Single(f => f.Name == field).Id;

    [TestMethod]
    public void AssignIds_KeepsLockedIds_ByNameThenFormerName_AndGivesNewMembersTheNextIdsInOrder()
    {
        var locked = new[] { new LockedMember { Id = 0, Name = "A" }, new LockedMember { Id = 1, Name = "B" } };
        var retired = new[] { new LockedMember { Id = 2, Name = "Gone" } };
        var ids = SchemaLock.AssignIds(locked, retired, new (string, IReadOnlyList<string>)[] { ("New1", Array.Empty<string>()), ("C", new[] { "B" }), ("A", Array.Empty<string>()), ("New2", Array.Empty<string>()) });
        CollectionAssert.AreEqual(new[] { 3, 1, 0, 4 }, ids, "New members start after the retired id 2; B renamed to C keeps 1; A keeps 0 though it moved.");
    }

    [TestMethod]
    public void Lock_OfTheFirstVersion_NumbersInDeclarationOrder_SoTheWireAndHashStayAsTheyWere()
    {
        var v1 = Registry(HeroVersions.V1);
        var schemaLock = SchemaLock.Update(v1, previous: null);
        var hero = Hero(schemaLock);
        CollectionAssert.AreEqual(new[] { "Name", "Gold", "Motto" }, hero.Fields.Select(f => f.Name).ToList());
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, hero.Fields.Select(f => f.Id).ToList());
        Assert.AreEqual(v1.SchemaHashText, schemaLock.Hash);

        var locked = Registry(HeroVersions.V1, schemaLock.ToJson());
        Assert.IsTrue(Model(locked, "Hero").HasLockedIds);
        Assert.AreEqual(v1.SchemaHash, locked.SchemaHash, "A lock that keeps the declaration order leaves the schema hash as it was.");
    }

    [TestMethod]
    public void Lock_AfterInsertRenameAndAdd_KeepsEveryId_AndRecordsTheRename_AndTheOldVersionInHistory()
    {
        var first = SchemaLock.Update(Registry(HeroVersions.V1), previous: null);
        var second = SchemaLock.Update(Registry(HeroVersions.V2), first);
        var hero = Hero(second);
        Assert.AreEqual(0, IdOf(hero, "Name"));
        Assert.AreEqual(1, IdOf(hero, "Coins"), "Renamed with [RenamedFrom], Gold's id stays.");
        Assert.AreEqual(2, IdOf(hero, "Motto"));
        Assert.AreEqual(3, IdOf(hero, "Level"), "Inserted above the others, it gets the next id and moves none.");
        CollectionAssert.AreEqual(new[] { "Gold" }, hero.Fields.Single(f => f.Name == "Coins").FormerNames);
        Assert.AreEqual(1, hero.Methods.Single(m => m.Name == "Cheer").Id);
        Assert.IsTrue(hero.Methods.Single(m => m.Name == "Wave").Parameters[1].Optional);
        Assert.HasCount(1, second.History);
        Assert.AreEqual(first.Hash, second.History[0].Hash);

        // Written again from the same models, the lock does not change (stable text, small diffs).
        Assert.AreEqual(second.ToJson(), SchemaLock.Update(Registry(HeroVersions.V2), second).ToJson());
        Assert.AreEqual(second.ToJson(), SchemaLock.Parse(second.ToJson(), "test").ToJson());
    }

    [TestMethod]
    public void RemovedField_RetiresItsId_AndANewFieldNeverGetsItAgain()
    {
        var first = SchemaLock.Update(Registry(HeroVersions.V1), previous: null);
        var third = SchemaLock.Update(Registry(HeroVersions.V3), first);
        CollectionAssert.AreEqual(new[] { 2 }, Hero(third).RetiredFields!.Select(r => r.Id).ToList());
        Assert.AreEqual("Motto", Hero(third).RetiredFields![0].Name);

        var fourth = SchemaLock.Update(Registry(HeroVersions.V4), third);
        Assert.AreEqual(3, IdOf(Hero(fourth), "Title"), "Id 2 is Motto's forever.");
    }

    [TestMethod]
    public void EmbeddedLock_GivesTheWireIds_ByArrayLookup_AndTheSchemaHashCarriesThem()
    {
        var first = SchemaLock.Update(Registry(HeroVersions.V1), previous: null);
        var second = SchemaLock.Update(Registry(HeroVersions.V2), first);
        var locked = Model(Registry(HeroVersions.V2, second.ToJson()), "Hero");
        var level = locked.GetField("Level");
        Assert.AreEqual(0, level.Index, "The slot stays the declaration position.");
        Assert.AreEqual(3, level.WireId);
        Assert.AreSame(level, locked.FindFieldByWireId(3));
        Assert.AreSame(locked.GetField("Coins"), locked.FindFieldByWireId(1));
        Assert.IsNull(locked.FindFieldByWireId(4));
        Assert.IsNull(locked.FindFieldByWireId(65535));
        Assert.AreEqual(1, locked.GetMethod("Cheer").WireId);

        var unlocked = Registry(HeroVersions.V2);
        Assert.AreEqual(0, Model(unlocked, "Hero").GetField("Level").WireId, "Without a lock the wire id is the declaration index.");
        Assert.AreNotEqual(unlocked.SchemaHash, Registry(HeroVersions.V2, second.ToJson()).SchemaHash, "Builds that number fields differently must not pass each other's hello.");
        Assert.AreEqual(second.Hash, Registry(HeroVersions.V2, second.ToJson()).SchemaHashText, "The lock records the hash of a build that embeds it, though it was written from a build without it.");
    }

    [TestMethod]
    public void AnEmbeddedLockThatIsNotALock_FailsRegistration_NamingTheResource()
    {
        var problem = Assert.ThrowsExactly<ModelDeclarationException>(() => Registry(HeroVersions.V1, "{ \"format\": 1, \"classes\": [ { \"name\": \"Hero\", \"fields\": [ { \"id\": 0, \"name\": \"A\" }, { \"id\": 0, \"name\": \"B\" } ] } ] }"));
        StringAssert.Contains(problem.Message, "pastry.schema.lock");
        StringAssert.Contains(problem.Message, "field id 0 twice");
    }

    [TestMethod]
    public void Check_OfCompatibleChanges_ListsEachWithItsRule_AndNothingBreaking()
    {
        var first = SchemaLock.Update(Registry(HeroVersions.V1), previous: null);
        var changes = SchemaCompatibility.Compare(first, SchemaLock.Update(Registry(HeroVersions.V2), first));
        Assert.IsFalse(changes.Any(c => c.IsBreaking), string.Join("\n", changes));
        // Every line `pastry schema --check` prints for V1 -> V2, in its order: rename and validator of a field before the
        // class's new fields, then its RPCs, then the new classes.
        CollectionAssert.AreEqual(
            new[]
            {
                "compatible rename-field            Hero.Gold (field 1): renamed to Coins; the wire id is kept, so old clients are unaffected and 'pastry migrate' renames the column",
                "compatible widen-validator         Hero.Gold (field 1): Range(ConvertValueInInvariantCulture=false, Maximum=1000, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false) -> Range(ConvertValueInInvariantCulture=false, Maximum=5000, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false): every value it allowed is still allowed",
                "compatible add-field               Hero.Level (field 3): a new int32 field; old clients are never sent it",
                "compatible add-optional-parameter  Hero.Wave() (rpc 0) parameter times: old clients end the call before it and get its default",
                "compatible add-rpc                 Hero.Cheer() (rpc 1): a new RPC; old clients never call it and are never sent it",
                "compatible add-class               Pet: a new model; old clients are never sent its objects",
            },
            changes.Select(c => c.ToString()).ToList(),
            string.Join("\n", changes));
    }

    [TestMethod]
    public void Check_OfBreakingChanges_NamesTheRule_BreakingFirst()
    {
        var first = SchemaLock.Update(Registry(HeroVersions.V1), previous: null);
        var changes = SchemaCompatibility.Compare(first, SchemaLock.Update(Registry(HeroVersions.V3), first));
        Assert.IsTrue(changes[0].IsBreaking);
        var breaking = changes.Where(c => c.IsBreaking).Select(c => c.Rule + " " + c.Subject).ToList();
        CollectionAssert.AreEquivalent(new[] { "remove-field Hero.Motto (field 2)", "tighten-validator Hero.Name (field 0)" }, breaking, string.Join("\n", changes));
        StringAssert.Contains(changes.Single(c => c.Rule == "tighten-validator").Detail, "MaxLength(Length=24) -> MaxLength(Length=12)");
    }

    /// <summary>
    /// Each rule on one edit of the V1 lock's JSON (the lock is data, so an edit stands for a model change), with the whole
    /// line <c>pastry schema --check</c> prints for it: the operator reads the subject and the reason, so they are pinned.
    /// </summary>
    [TestMethod]
    [DataRow("Gold int32 -> int64", false, "widen-type", "compatible widen-type              Hero.Gold (field 1): int32 -> int64: every old value fits the new type")]
    [DataRow("Gold int32 -> string", true, "change-field-type", "breaking   change-field-type       Hero.Gold (field 1): int32 -> string: old clients would misread the values")]
    [DataRow("Motto ownsend -> none", true, "revoke-client-send", "breaking   revoke-client-send      Hero.Motto (field 2): clients could send it (ram, db, ownsend), now none may; an old client that sends it would be ejected")]
    [DataRow("Gold ai -> clsend", false, "grant-client-send", "compatible grant-client-send       Hero.Gold (field 1): more clients may send it than before")]
    [DataRow("Gold db dropped", false, "change-keywords", "compatible change-keywords         Hero.Gold (field 1): [db, ai] -> [ai]: these keywords decide storage and routing on the server, not the wire format")]
    [DataRow("Gold Range 0..1000 -> 10..1000", true, "tighten-validator", "breaking   tighten-validator       Hero.Gold (field 1): Range(ConvertValueInInvariantCulture=false, Maximum=1000, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false) -> Range(ConvertValueInInvariantCulture=false, Maximum=1000, MaximumIsExclusive=false, Minimum=10, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false): values old clients may send are now refused (eject 127)")]
    [DataRow("Gold Range 0..1000 -> -5..2000", false, "widen-validator", "compatible widen-validator         Hero.Gold (field 1): Range(ConvertValueInInvariantCulture=false, Maximum=1000, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false) -> Range(ConvertValueInInvariantCulture=false, Maximum=2000, MaximumIsExclusive=false, Minimum=-5, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false): every value it allowed is still allowed")]
    [DataRow("Gold Range dropped", false, "widen-validator", "compatible widen-validator         Hero.Gold (field 1): Range(ConvertValueInInvariantCulture=false, Maximum=1000, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false) removed: every value it allowed is still allowed")]
    [DataRow("Name MaxLength 24 -> unlimited", false, "widen-validator", "compatible widen-validator         Hero.Name (field 0): MaxLength(Length=24) -> MaxLength(Length=-1): every value it allowed is still allowed")]
    [DataRow("Name RegularExpression added", true, "tighten-validator", "breaking   tighten-validator       Hero.Name (field 0): RegularExpression(Pattern=^[a-z]+$) added: values old clients may send are now refused (eject 127)")]
    [DataRow("Name MaxLength argument of unknown direction", true, "change-validator", "breaking   change-validator        Hero.Name (field 0): MaxLength(Length=24) -> MaxLength(Flavour=strict, Length=24): cannot tell whether it allows every value it allowed before, so it counts as tightened")]
    [DataRow("Wave removed", true, "remove-rpc", "breaking   remove-rpc              Hero.Wave() (rpc 0): the RPC is gone and its id is retired; old clients still call or receive it")]
    [DataRow("Wave required parameter added", true, "add-required-parameter", "breaking   add-required-parameter  Hero.Wave() (rpc 0) parameter times: old clients do not send it; give it a default value to make it optional")]
    [DataRow("Wave parameter removed", true, "remove-parameter", "breaking   remove-parameter        Hero.Wave() (rpc 0) parameter to: old clients still send it")]
    [DataRow("Wave parameter int32", true, "change-parameter-type", "breaking   change-parameter-type   Hero.Wave() (rpc 0) parameter to: string -> int32: the values on the wire change")]
    [DataRow("Wave clsend -> ownsend", true, "revoke-client-send", "breaking   revoke-client-send      Hero.Wave() (rpc 0): clients could send it (broadcast, clsend), now only its owner may; an old client that sends it would be ejected")]
    [DataRow("Hero removed", true, "remove-class", "breaking   remove-class            Hero: the model is gone; old clients still expect its objects (keep it, or ship a new app version)")]
    public void Check_Rule(string edit, bool breaking, string rule, string line)
    {
        var old = SchemaLock.Update(Registry(HeroVersions.V1), previous: null);
        var current = SchemaLock.Parse(old.ToJson(), "copy");
        var hero = Hero(current);
        var gold = hero.Fields.Single(f => f.Name == "Gold");
        var name = hero.Fields.Single(f => f.Name == "Name");
        var motto = hero.Fields.Single(f => f.Name == "Motto");
        var wave = hero.Methods.Single();
        var maxLength = name.Validators!.Single(v => v.Kind == "MaxLength");
        var range = gold.Validators!.Single(v => v.Kind == "Range");
        switch (edit)
        {
            case "Gold int32 -> int64": gold.Type = "int64"; break;
            case "Gold int32 -> string": gold.Type = "string"; break;
            case "Motto ownsend -> none": motto.Keywords.Remove("ownsend"); break;
            case "Gold ai -> clsend": gold.Keywords.Remove("ai"); gold.Keywords.Add("clsend"); break;
            case "Gold db dropped": gold.Keywords.Remove("db"); break;
            case "Gold Range 0..1000 -> 10..1000": range.Arguments!["Minimum"] = "10"; break;
            case "Gold Range 0..1000 -> -5..2000": range.Arguments!["Minimum"] = "-5"; range.Arguments!["Maximum"] = "2000"; break;
            case "Gold Range dropped": gold.Validators!.Remove(range); break;
            case "Name MaxLength 24 -> unlimited": maxLength.Arguments!["Length"] = "-1"; break;
            case "Name RegularExpression added": name.Validators!.Add(new LockedValidator { Kind = "RegularExpression", Arguments = new() { ["Pattern"] = "^[a-z]+$" } }); break;
            case "Name MaxLength argument of unknown direction": maxLength.Arguments!["Flavour"] = "strict"; break;
            case "Wave removed": hero.Methods.Clear(); break;
            case "Wave required parameter added": wave.Parameters.Add(new LockedParameter { Name = "times", Type = "int32" }); break;
            case "Wave parameter removed": wave.Parameters.Clear(); break;
            case "Wave parameter int32": wave.Parameters[0].Type = "int32"; break;
            case "Wave clsend -> ownsend": wave.Keywords.Remove("clsend"); wave.Keywords.Add("ownsend"); break;
            case "Hero removed": current.Classes.Remove(hero); break;
            default: Assert.Fail("unknown edit " + edit); break;
        }

        var changes = SchemaCompatibility.Compare(old, current);
        var found = changes.Where(c => c.Rule == rule).ToList();
        Assert.HasCount(1, found, string.Join("\n", changes));
        Assert.AreEqual(breaking, found[0].IsBreaking, found[0].ToString());
        Assert.AreEqual(breaking, changes.Any(c => c.IsBreaking), string.Join("\n", changes));
        Assert.AreEqual(line, found[0].ToString(), "the line `pastry schema --check` prints");
    }
}
