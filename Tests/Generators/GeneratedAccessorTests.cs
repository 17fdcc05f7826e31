using System.Buffers;
using Pastry.Wire;

namespace Pastry.Tests.Generators;

/// <summary>
/// Models in the short form (partial properties, bodies written by Pastry.Core.Generators) register, validate,
/// stream changes and travel over the wire exactly like hand-written ones.
/// </summary>
[TestClass]
public sealed class GeneratedAccessorTests
{
    [TestMethod]
    public void ShortForm_RegistersEveryField_InDeclarationOrder_WithItsKeywordsAndValidators()
    {
        var model = ModelRegistry.FromTypes(new[] { typeof(Tankard) }).GetModel<Tankard>();

        CollectionAssert.AreEqual(new[] { "Name", "Sips", "Foam", "Crest", "Brewer", "Filled", "Toasts" }, model.Fields.Select(f => f.Name).ToArray());
        Assert.AreEqual(FieldKeywords.Required | FieldKeywords.Ram | FieldKeywords.Broadcast, model.GetField("Name").Keywords);
        Assert.AreEqual(FieldKeywords.Ram | FieldKeywords.Db | FieldKeywords.Ai, model.GetField("Sips").Keywords);
        Assert.AreEqual(2, model.GetField("Name").Validators.Count, "Required and MaxLength");
        Assert.IsNotNull(model.GetField("Name").CleanMethod);
        Assert.AreEqual("Clink", model.Methods.Single().Name);
    }

    [TestMethod]
    public void ShortForm_HasTheSameSchemaHash_AsTheHandWrittenForm()
    {
        var shortForm = ModelRegistry.FromTypes(new[] { typeof(Twins<int>.Short.Flagon) });
        var longForm = ModelRegistry.FromTypes(new[] { typeof(Twins<int>.Long.Flagon) });

        Assert.AreEqual(longForm.SchemaJson, shortForm.SchemaJson);
        Assert.AreEqual(longForm.SchemaHash, shortForm.SchemaHash);
    }

    [TestMethod]
    public void ShortForm_SetterCleansValidatesAndStreams_LikeTheHandWrittenForm()
    {
        var tankard = new Tankard { Name = "  Oak  ", Sips = 3 };
        var changes = new List<FieldChange>();
        using var subscription = tankard.Changes.Subscribe(changes.Add);

        var error = Assert.ThrowsExactly<ModelValidationException>(() => tankard.Sips = 101);
        tankard.Sips = 4;
        tankard.Foam = new[] { 1f };

        Assert.AreEqual("Oak", tankard.Name, "CleanName ran on the generated setter.");
        Assert.IsTrue(error.Errors.ContainsKey("Sips"));
        Assert.AreEqual(4, tankard.Sips);
        CollectionAssert.AreEqual(new[] { "Sips", "Foam" }, changes.Select(c => c.Field.Name).ToArray());
        Assert.AreEqual(3, changes[0].OldValue);
        tankard.FullClean();
    }

    [TestMethod]
    public void ShortForm_RoundTripsThroughTheRegistry_FieldByFieldOverTheWire()
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(Tankard) });
        var model = registry.GetModel<Tankard>();
        var brewer = DoId.NewId();
        var filled = new DateTime(2026, 11, 29, 23, 0, 0, DateTimeKind.Utc);
        var sent = new Tankard
        {
            Name = "Oak", Sips = 7, Foam = new[] { 0.5f, 1.5f }, Crest = new byte[] { 1, 2, 3 }, Brewer = brewer, Filled = filled,
            Toasts = new[] { "to Ann", "to Bob" },
        };

        var received = (Tankard)model.CreateInstance();
        foreach (var field in model.Fields)
        {
            var buffer = new ArrayBufferWriter<byte>();
            field.Encode(sent, buffer);
            var reader = new WireReader(buffer.WrittenSpan);
            field.DecodeAndApply(received, ref reader, ChangeOrigin.Remote, validate: true);
        }

        Assert.AreEqual("Oak", received.Name);
        Assert.AreEqual(7, received.Sips);
        CollectionAssert.AreEqual(new[] { 0.5f, 1.5f }, received.Foam);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, received.Crest);
        Assert.AreEqual(brewer, received.Brewer);
        Assert.AreEqual(filled, received.Filled);
        CollectionAssert.AreEqual(new[] { "to Ann", "to Bob" }, received.Toasts);
        Assert.AreEqual(sent.ToString().Replace(sent.DoId.ToString(), string.Empty, StringComparison.Ordinal), received.ToString().Replace(received.DoId.ToString(), string.Empty, StringComparison.Ordinal));
    }
}
