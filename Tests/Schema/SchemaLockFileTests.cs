namespace Pastry.Tests.Schema;

/// <summary>
/// The lock file itself: what a broken or hand-edited file is refused with (the message says how to fix it), the
/// id bounds, the JSON it is written as, and how ids and retired classes carry from one lock to the next.
/// </summary>
[TestClass]
public sealed class SchemaLockFileTests
{
    private const string Fix = "'pastry schema --lock'";

    private static SchemaLockException Refused(string json) => Assert.ThrowsExactly<SchemaLockException>(() => SchemaLock.Parse(json, "game.lock"));

    private static string OneClass(string fields, string retired = "null", string methods = "[]") =>
        $$"""{ "format": 1, "hash": "ab", "classes": [ { "name": "Hero", "id": 1, "fields": {{fields}}, "methods": {{methods}}, "retiredFields": {{retired}} } ] }""";

    private static string Field(int id, string name = "F") => $$"""{ "id": {{id}}, "name": "{{name}}{{id}}", "type": "int32", "keywords": [] }""";

    [TestMethod]
    public void TextThatIsNotJson_IsRefused_NamingTheSource_TheParsersReason_AndTheFix()
    {
        var problem = Refused("this is not json");
        StringAssert.StartsWith(problem.Message, "game.lock is not a schema lock: ");
        StringAssert.EndsWith(problem.Message, $" Write it with {Fix}.");
        Assert.IsInstanceOfType<Newtonsoft.Json.JsonException>(problem.InnerException);
    }

    [TestMethod]
    public void ANullDocumentOrAnotherFormat_IsRefused_NamingTheFormat()
    {
        Assert.AreEqual($"game.lock is not a schema lock of format 1 (format ); write it with {Fix}.", Refused("null").Message);
        Assert.AreEqual($"game.lock is not a schema lock of format 1 (format 2); write it with {Fix}.", Refused("""{ "format": 2 }""").Message);
        StringAssert.Contains(Refused("""{ "format": 1, "colour": "blue" }""").Message, "colour");
    }

    [TestMethod]
    public void AMinimalLock_HasNoHashNoClassesAndNoHistory_AndMissingNamesAreEmpty()
    {
        var minimal = SchemaLock.Parse("""{ "format": 1 }""", "game.lock");
        Assert.AreEqual(string.Empty, minimal.Hash);
        Assert.IsEmpty(minimal.Classes);
        Assert.IsEmpty(minimal.History);

        var nameless = SchemaLock.Parse(
            """{ "format": 1, "classes": [ { "id": 1, "fields": [ { "id": 0, "type": "int32", "keywords": [] } ], "methods": [ { "id": 0, "keywords": [], "parameters": [ { "type": "string" } ] } ] } ], "history": [ { "classes": [] } ] }""",
            "game.lock");
        var model = nameless.Classes.Single();
        Assert.AreEqual(string.Empty, model.Name);
        Assert.AreEqual(string.Empty, model.Fields[0].Name);
        Assert.AreEqual(string.Empty, model.Methods[0].Parameters[0].Name);
        Assert.AreEqual(string.Empty, nameless.History[0].Hash);
    }

    [TestMethod]
    public void AMissingFile_IsRefused_WithItsFullPath_AndTheFix()
    {
        string path = Path.Combine(Path.GetTempPath(), "pastry-no-lock-" + Guid.NewGuid().ToString("N"), SchemaLock.FileName);
        var problem = Assert.ThrowsExactly<SchemaLockException>(() => SchemaLock.Load(path));
        Assert.AreEqual($"no schema lock at {Path.GetFullPath(path)}; write one with {Fix}.", problem.Message);
    }

    [TestMethod]
    public void Ids_FitTheWiresSixteenBits_AndAreNeverUsedTwice_EvenByARetiredMember()
    {
        Assert.AreEqual(ushort.MaxValue, SchemaLock.Parse(OneClass($"[{Field(ushort.MaxValue)}]"), "game.lock").Classes[0].Fields[0].Id);
        Assert.AreEqual(
            $"game.lock: Hero uses field id 65536 twice or out of range (0 to 65535); restore the file from version control or write it again with {Fix}.",
            Refused(OneClass($"[{Field(ushort.MaxValue + 1)}]")).Message);
        StringAssert.Contains(Refused(OneClass($"[{Field(-1)}]")).Message, "uses field id -1 twice or out of range");
        StringAssert.Contains(Refused(OneClass($"[{Field(3)}]", retired: """[ { "id": 3, "name": "Old" } ]""")).Message, "uses field id 3 twice");
        const string TwoWaves = """[ { "id": 0, "name": "A", "keywords": [], "parameters": [] }, { "id": 0, "name": "B", "keywords": [], "parameters": [] } ]""";
        StringAssert.Contains(Refused(OneClass("[]", methods: TwoWaves)).Message, "Hero uses method id 0 twice");
    }

    [TestMethod]
    public void AClassInTheHistory_IsCheckedToo()
    {
        string json = $$"""{ "format": 1, "classes": [], "history": [ { "hash": "aa", "classes": [ { "name": "Old", "id": 1, "fields": [ {{Field(2)}}, {{Field(2, "G")}} ], "methods": [] } ] } ] }""";
        StringAssert.Contains(Refused(json).Message, "game.lock: Old uses field id 2 twice");
    }

    [TestMethod]
    public void AValidatorWithoutArguments_PrintsItsKindAlone()
    {
        Assert.AreEqual("EmailAddress", new LockedValidator { Kind = "EmailAddress" }.ToString());
        Assert.AreEqual("Range(Maximum=9, Minimum=1)", new LockedValidator { Kind = "Range", Arguments = new() { ["Minimum"] = "1", ["Maximum"] = "9" } }.ToString());
    }

    [TestMethod]
    public void AssignIds_PrefersTheMembersOwnName_ThenAFormerName_AndAnUnknownFormerNameGetsANewId()
    {
        var locked = new[] { new LockedMember { Id = 0, Name = "A" }, new LockedMember { Id = 1, Name = "B" } };
        var retired = new[] { new LockedMember { Id = 4, Name = "Gone" } };
        var ids = SchemaLock.AssignIds(locked, retired, new (string, IReadOnlyList<string>)[] { ("B", new[] { "A" }), ("C", new[] { "Nobody" }), ("D", new[] { "Nobody", "A" }) });
        CollectionAssert.AreEqual(new[] { 1, 5, 0 }, ids);
    }

    [TestMethod]
    public void Update_KeepsAGoneClassRetired_WritesCamelCaseJsonWithTheValidatorsArgumentsAsDeclared_AndEndsWithANewline()
    {
        var first = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1)), previous: null);
        var second = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(PetOnly)), first);

        CollectionAssert.AreEqual(new[] { "Hero", "LoginManager", "Pet" }, second.Classes.Select(c => c.Name).ToList(), string.Join(", ", second.Classes.Select(c => c.Name)));
        var hero = second.Find("Hero")!;
        Assert.IsTrue(hero.Removed);
        Assert.IsFalse(second.Find("Pet")!.Removed);
        Assert.IsFalse(second.Find("LoginManager")!.Removed, "the built-in login UberDOG is in every lock");
        CollectionAssert.AreEqual(new[] { "0 Name", "1 Gold", "2 Motto" }, hero.RetiredFields!.Select(m => $"{m.Id} {m.Name}").ToList());
        CollectionAssert.AreEqual(new[] { "0 Wave" }, hero.RetiredMethods!.Select(m => $"{m.Id} {m.Name}").ToList());
        Assert.HasCount(1, second.History, "the locked version before the change goes to the history");

        string json = first.ToJson();
        StringAssert.EndsWith(json, "}\n");
        StringAssert.Contains(json, "\"classes\": [");
        StringAssert.Contains(json, "\"Maximum\": \"1000\"");
        Assert.AreEqual(json, SchemaLock.Parse(json, "again").ToJson());
    }

    [TestMethod]
    public void Update_ListsMembersInIdOrder_EvenWhenANewFieldIsDeclaredFirst_AndOmitsEmptyValidators()
    {
        var first = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1)), previous: null);
        var second = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V2)), first);

        var hero = second.Find("Hero")!;
        CollectionAssert.AreEqual(new[] { "0 Name", "1 Coins", "2 Motto", "3 Level" }, hero.Fields.Select(f => $"{f.Id} {f.Name}").ToList(), "Level is declared first but is the newest id");
        CollectionAssert.AreEqual(new[] { "0 Wave", "1 Cheer" }, hero.Methods.Select(m => $"{m.Id} {m.Name}").ToList());
        Assert.IsNull(hero.Fields[3].Validators, "a field without validators records none, not an empty list");
        Assert.IsNull(hero.Methods[0].Parameters[0].Validators, "a parameter without validators records none, not an empty list");
        Assert.AreEqual(
            "Range(ConvertValueInInvariantCulture=false, Maximum=5000, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=false, OperandType=Int32, ParseLimitsInInvariantCulture=false)",
            hero.Fields[1].Validators!.Single().ToString(),
            "the kind drops the Attribute suffix; the arguments are the validator's public properties, sorted");
        Assert.AreEqual(
            "Range(ConvertValueInInvariantCulture=false, Maximum=10, MaximumIsExclusive=false, Minimum=0, MinimumIsExclusive=true, OperandType=Int32, ParseLimitsInInvariantCulture=false)",
            SchemaLock.Describe(new System.ComponentModel.DataAnnotations.RangeAttribute(0, 10) { MinimumIsExclusive = true }).ToString(),
            "a true flag is recorded as true");
        Assert.AreEqual(second.Hash, SchemaLock.Parse(second.ToJson(), "again").Hash);
        Assert.IsFalse(string.IsNullOrEmpty(second.Hash), "the lock records the registry's schema hash");
    }

    [TestMethod]
    public void Update_AddsNoHistory_WhenThePreviousLockHasNoHash()
    {
        var registry = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1));
        var hashless = SchemaLock.Parse(SchemaLock.Update(registry, previous: null).ToJson(), "hashless");
        hashless.Hash = string.Empty;
        hashless.Find("Hero")!.Fields[0].Type = "int64";
        Assert.IsEmpty(SchemaLock.Update(registry, hashless).History);
    }

    private const string PetOnly = """
        public sealed class Pet : DistributedObject<Pet>
        {
            [Ram, Broadcast] public string Kind { get => Get<string>(); set => Set(value); }
        }
        """;
}
