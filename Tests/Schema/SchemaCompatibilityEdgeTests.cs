namespace Pastry.Tests.Schema;

/// <summary>
/// The compatibility rules at their edges, on hand-written locks (a lock is data, so each pair of locks stands for a
/// model change): the widening types, the length validators' directions, a parameter's validator, a renamed RPC, a
/// server keyword added, a retired class, and the order of the report. Each asserts the whole line
/// <c>pastry schema --check</c> prints, because the subject and the reason are what the operator reads.
/// </summary>
[TestClass]
public sealed class SchemaCompatibilityEdgeTests
{
    private const string NarrowerReason = "values old clients may send are now refused (eject 127)";
    private const string WiderReason = "every value it allowed is still allowed";

    /// <summary>A lock of one class Hero (class id 1) with the given field and method JSON, and more classes after it.</summary>
    private static SchemaLock Lock(string fields, string methods = "[]", string moreClasses = "") =>
        SchemaLock.Parse($$"""{ "format": 1, "hash": "0123", "classes": [ { "name": "Hero", "id": 1, "fields": {{fields}}, "methods": {{methods}} }{{moreClasses}} ] }""", "test lock");

    private static string Field(int id, string name, string type, string validators = "null", string keywords = "\"ram\"") =>
        $$"""{ "id": {{id}}, "name": "{{name}}", "type": "{{type}}", "keywords": [{{keywords}}], "validators": {{validators}} }""";

    private static string Validator(string kind, string arguments) => $$"""[ { "kind": "{{kind}}", "arguments": { {{arguments}} } } ]""";

    private static string Wave(string name = "Wave", string parameterValidators = "null") =>
        $$"""[ { "id": 0, "name": "{{name}}", "keywords": ["clsend"], "parameters": [ { "name": "to", "type": "string", "validators": {{parameterValidators}} } ] } ]""";

    private static List<string> Lines(SchemaLock old, SchemaLock current) => SchemaCompatibility.Compare(old, current).Select(c => c.ToString()).ToList();

    [TestMethod]
    [DataRow("int32", "int64", true)]
    [DataRow("float32", "float64", true)]
    [DataRow("int32[]", "int64[]", true)]
    [DataRow("float32[]", "float64[]", true)]
    [DataRow("int64", "int32", false)]
    [DataRow("float64", "float32", false)]
    [DataRow("int64[]", "int32[]", false)]
    [DataRow("int32", "float64", false)]
    public void OnlyTheFourWideningTypeChanges_AreCompatible(string from, string to, bool widening)
    {
        var lines = Lines(Lock($"[{Field(0, "Gold", from)}]"), Lock($"[{Field(0, "Gold", to)}]"));
        string expected = widening
            ? $"compatible widen-type              Hero.Gold (field 0): {from} -> {to}: every old value fits the new type"
            : $"breaking   change-field-type       Hero.Gold (field 0): {from} -> {to}: old clients would misread the values";
        CollectionAssert.AreEqual(new[] { expected }, lines, string.Join("\n", lines));
    }

    /// <summary>A larger MinLength, MinimumLength or Minimum accepts less; a larger MaxLength, MaximumLength or Maximum more.</summary>
    [TestMethod]
    [DataRow("MinLength", "\"Length\": \"4\"", "\"Length\": \"2\"", true)]
    [DataRow("MinLength", "\"Length\": \"2\"", "\"Length\": \"4\"", false)]
    [DataRow("MaxLength", "\"Length\": \"-1\"", "\"Length\": \"24\"", false)]
    [DataRow("MaxLength", "\"Length\": \"12\"", "\"Length\": \"24\"", true)]
    [DataRow("StringLength", "\"MaximumLength\": \"10\", \"MinimumLength\": \"2\"", "\"MaximumLength\": \"20\", \"MinimumLength\": \"2\"", true)]
    [DataRow("StringLength", "\"MaximumLength\": \"20\", \"MinimumLength\": \"2\"", "\"MaximumLength\": \"10\", \"MinimumLength\": \"2\"", false)]
    [DataRow("StringLength", "\"MaximumLength\": \"20\", \"MinimumLength\": \"2\"", "\"MaximumLength\": \"20\", \"MinimumLength\": \"1\"", true)]
    [DataRow("StringLength", "\"MaximumLength\": \"20\", \"MinimumLength\": \"1\"", "\"MaximumLength\": \"20\", \"MinimumLength\": \"2\"", false)]
    [DataRow("Range", "\"Maximum\": \"10\", \"Minimum\": \"0\"", "\"Maximum\": \"10.5\", \"Minimum\": \"-0.5\"", true)]
    public void ALengthOrRangeValidator_WidensOrTightens_ByWhatItsArgumentMeans(string kind, string before, string after, bool wider)
    {
        var old = Lock($"[{Field(0, "Name", "string", Validator(kind, before))}]");
        var current = Lock($"[{Field(0, "Name", "string", Validator(kind, after))}]");
        var lines = Lines(old, current);
        string from = old.Find("Hero")!.Fields[0].Validators![0].ToString();
        string to = current.Find("Hero")!.Fields[0].Validators![0].ToString();
        string expected = wider
            ? $"compatible widen-validator         Hero.Name (field 0): {from} -> {to}: {WiderReason}"
            : $"breaking   tighten-validator       Hero.Name (field 0): {from} -> {to}: {NarrowerReason}";
        CollectionAssert.AreEqual(new[] { expected }, lines, string.Join("\n", lines));
    }

    [TestMethod]
    public void ArgumentsThatMoveBothWays_OrAnArgumentDropped_CountAsAChangeOfUnknownDirection()
    {
        const string Unknown = "cannot tell whether it allows every value it allowed before, so it counts as tightened";
        var both = Lines(
            Lock($"[{Field(0, "Name", "string", Validator("StringLength", "\"MaximumLength\": \"10\", \"MinimumLength\": \"2\""))}]"),
            Lock($"[{Field(0, "Name", "string", Validator("StringLength", "\"MaximumLength\": \"20\", \"MinimumLength\": \"3\""))}]"));
        CollectionAssert.AreEqual(new[] { $"breaking   change-validator        Hero.Name (field 0): StringLength(MaximumLength=10, MinimumLength=2) -> StringLength(MaximumLength=20, MinimumLength=3): {Unknown}" }, both);

        var dropped = Lines(
            Lock($"[{Field(0, "Name", "string", Validator("MaxLength", "\"Length\": \"24\""))}]"),
            Lock($"[{Field(0, "Name", "string", Validator("MaxLength", string.Empty))}]"));
        CollectionAssert.AreEqual(new[] { $"breaking   change-validator        Hero.Name (field 0): MaxLength(Length=24) -> MaxLength(): {Unknown}" }, dropped);
    }

    [TestMethod]
    public void AParametersValidator_IsCompared_AndTheLineNamesTheParameter()
    {
        var lines = Lines(
            Lock("[]", Wave(parameterValidators: Validator("MaxLength", "\"Length\": \"10\""))),
            Lock("[]", Wave(parameterValidators: Validator("MaxLength", "\"Length\": \"5\""))));
        CollectionAssert.AreEqual(new[] { $"breaking   tighten-validator       Hero.Wave() (rpc 0) parameter to: MaxLength(Length=10) -> MaxLength(Length=5): {NarrowerReason}" }, lines);
    }

    [TestMethod]
    public void ARenamedRpc_IsCompatible_BecauseOnlyItsIdIsOnTheWire()
    {
        var lines = Lines(Lock("[]", Wave()), Lock("[]", Wave("Greet")));
        CollectionAssert.AreEqual(new[] { "compatible rename-rpc              Hero.Wave() (rpc 0): renamed to Greet; the wire id is kept" }, lines);
    }

    [TestMethod]
    public void AServerKeywordAdded_IsReported_ButAClientSendKeywordTakenAway_IsOnlyARevoke()
    {
        var added = Lines(Lock($"[{Field(0, "Gold", "int32")}]"), Lock($"[{Field(0, "Gold", "int32", keywords: "\"ram\", \"broadcast\"")}]"));
        CollectionAssert.AreEqual(new[] { "compatible change-keywords         Hero.Gold (field 0): [ram] -> [ram, broadcast]: these keywords decide storage and routing on the server, not the wire format" }, added);

        var revoked = Lines(Lock($"[{Field(0, "Motto", "string", keywords: "\"ram\", \"clsend\"")}]"), Lock($"[{Field(0, "Motto", "string")}]"));
        CollectionAssert.AreEqual(new[] { "breaking   revoke-client-send      Hero.Motto (field 0): clients could send it (ram, clsend), now none may; an old client that sends it would be ejected" }, revoked);
    }

    [TestMethod]
    public void BreakingChanges_AreListedBeforeCompatibleOnes_WhateverOrderTheyWereFoundIn()
    {
        var lines = Lines(
            Lock($"[{Field(0, "Gold", "int32")}, {Field(1, "Motto", "string")}]"),
            Lock($"[{Field(0, "Gold", "int64")}]"));
        CollectionAssert.AreEqual(
            new[]
            {
                "breaking   remove-field            Hero.Motto (field 1): the field is gone and its id is retired; old clients still read or send it (keep it, or ship a new app version)",
                "compatible widen-type              Hero.Gold (field 0): int32 -> int64: every old value fits the new type",
            },
            lines);
    }

    [TestMethod]
    public void AClassRetiredInBothLocks_IsNoChange_AndOneThatComesBack_IsANewClass()
    {
        const string RetiredPet = """, { "name": "Pet", "id": 2, "removed": true, "fields": [], "methods": [], "retiredFields": [ { "id": 0, "name": "Kind" } ] }""";
        const string LivePet = """, { "name": "Pet", "id": 2, "fields": [ { "id": 1, "name": "Kind", "type": "string", "keywords": ["ram"] } ], "methods": [] }""";
        string hero = $"[{Field(0, "Gold", "int32")}]";
        Assert.IsEmpty(Lines(Lock(hero, moreClasses: RetiredPet), Lock(hero, moreClasses: RetiredPet)));
        CollectionAssert.AreEqual(
            new[] { "compatible add-class               Pet: a new model; old clients are never sent its objects" },
            Lines(Lock(hero, moreClasses: RetiredPet), Lock(hero, moreClasses: LivePet)));
    }
}
