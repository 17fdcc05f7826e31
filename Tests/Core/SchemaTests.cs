using Newtonsoft.Json.Linq;

namespace Pastry.Tests.Core;

/// <summary>The schema text and hash depend only on the models, never on the order they were found in.</summary>
[TestClass]
public sealed class SchemaTests
{
    private static readonly Type[] Models = { typeof(Goblin), typeof(Gatekeeper), typeof(Strongbox), typeof(Recruit), typeof(Expedition) };

    private static ModelRegistry Lanterns(Type lantern) => ModelRegistry.FromTypes(new[] { typeof(Goblin), lantern });

    [TestMethod]
    public void SchemaHash_IsTheSame_WhateverTheOrderOfTheModels()
    {
        var reference = ModelRegistry.FromTypes(Models);
        var random = new Random(1234);

        for (int i = 0; i < 20; i++)
        {
            var shuffled = Models.OrderBy(_ => random.Next()).ToList();
            var registry = ModelRegistry.FromTypes(shuffled);

            Assert.AreEqual(reference.SchemaJson, registry.SchemaJson, string.Join(", ", shuffled.Select(t => t.Name)));
            Assert.AreEqual(reference.SchemaHash, registry.SchemaHash);
        }

        var reversed = ModelRegistry.FromTypes(Models.Reverse());
        Assert.AreEqual(reference.SchemaHash, reversed.SchemaHash);
    }

    [TestMethod]
    public void SchemaHash_IsTheFirst64BitsOfTheSha256OfTheSchemaJson()
    {
        var registry = ModelRegistry.FromTypes(Models);

        byte[] digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(registry.SchemaJson));

        Assert.AreEqual(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest), registry.SchemaHash);
        Assert.AreEqual(registry.SchemaHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), registry.SchemaHashText);
    }

    [TestMethod]
    public void SchemaHash_OfTheSameModels_IsTheSameInTwoRegistries()
    {
        Assert.AreEqual(
            Lanterns(typeof(VariantBase.Variant<int>.Lantern)).SchemaHash,
            Lanterns(typeof(VariantBase.Variant<long>.Lantern)).SchemaHash,
            "Two distinct CLR types with the same name and declaration have the same schema.");
    }

    [TestMethod]
    public void SchemaHash_Changes_WhenOneKeywordIsAdded()
    {
        var reference = Lanterns(typeof(VariantBase.Variant<int>.Lantern));
        var changed = Lanterns(typeof(VariantExtraKeyword.Variant<int>.Lantern));

        Assert.AreNotEqual(reference.SchemaHash, changed.SchemaHash);
        Assert.AreNotEqual(reference.SchemaJson, changed.SchemaJson);
    }

    [TestMethod]
    public void SchemaHash_Changes_WhenFieldsAreReordered()
    {
        var reference = Lanterns(typeof(VariantBase.Variant<int>.Lantern));
        var changed = Lanterns(typeof(VariantFieldOrder.Variant<int>.Lantern));

        Assert.AreNotEqual(reference.SchemaHash, changed.SchemaHash);
    }

    [TestMethod]
    public void SchemaHash_Changes_WhenAFieldTypeChanges()
    {
        var reference = Lanterns(typeof(VariantBase.Variant<int>.Lantern));
        var changed = Lanterns(typeof(VariantFieldType.Variant<int>.Lantern));

        Assert.AreNotEqual(reference.SchemaHash, changed.SchemaHash);
    }

    [TestMethod]
    public void SchemaHash_Changes_WhenAModelIsAdded()
    {
        Assert.AreNotEqual(
            ModelRegistry.FromTypes(new[] { typeof(Goblin) }).SchemaHash,
            ModelRegistry.FromTypes(new[] { typeof(Goblin), typeof(Gatekeeper) }).SchemaHash);
    }

    [TestMethod]
    public void SchemaJson_ListsClassesFieldsTypesKeywordsValidatorsAndMethods()
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(Goblin), typeof(Gatekeeper) });

        var schema = JObject.Parse(registry.SchemaJson);

        Assert.AreEqual(1, (int)schema["format"]!);
        var classes = (JArray)schema["classes"]!;
        CollectionAssert.AreEqual(new[] { "Gatekeeper", "Goblin", "LoginManager" }, classes.Select(c => (string)c["name"]!).ToArray());
        var goblin = classes[1];
        Assert.AreEqual(ModelInfo.For<Goblin>().ClassId, (uint)goblin["id"]!);
        var gold = goblin["fields"]![2]!;
        Assert.AreEqual("Gold", (string)gold["name"]!);
        Assert.AreEqual("int32", (string)gold["type"]!);
        CollectionAssert.AreEqual(new[] { "db", "ai" }, gold["keywords"]!.Select(k => (string)k!).ToArray());
        CollectionAssert.AreEqual(new[] { "Range" }, gold["validators"]!.Select(k => (string)k!).ToArray());
        Assert.AreEqual("float32[]", (string)goblin["fields"]![3]!["type"]!);
        var taunt = goblin["methods"]![0]!;
        Assert.AreEqual("Taunt", (string)taunt["name"]!);
        CollectionAssert.AreEqual(new[] { "string", "int32" }, taunt["parameters"]!.Select(p => (string)p["type"]!).ToArray());
        CollectionAssert.AreEqual(new[] { "clsend", "anonymous" }, classes[0]["methods"]![0]!["keywords"]!.Select(k => (string)k!).ToArray());
    }

    [TestMethod]
    public void SchemaTexts_ShowTheHash()
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(Goblin) });

        StringAssert.StartsWith(registry.ToText(), $"schema {registry.SchemaHashText} (2 models)");
        StringAssert.Contains(registry.ToText(), "2 Gold : int32 db ai @Range");
        Assert.AreEqual(registry.SchemaHashText, (string)JObject.Parse(registry.ToIndentedJson())["hash"]!);
    }
}
