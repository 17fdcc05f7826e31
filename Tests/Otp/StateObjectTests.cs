using System.Buffers.Binary;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>The State Server's per-object value block: one byte array for every stored field of an object.</summary>
[TestClass]
public sealed class StateObjectTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(StreetLamp) });
    private static readonly ModelInfo Model = Registry.GetModel<StreetLamp>();
    private static readonly int Name = Model.GetField(nameof(StreetLamp.Name)).Index;
    private static readonly int X = Model.GetField(nameof(StreetLamp.X)).Index;
    private static readonly int Secret = Model.GetField(nameof(StreetLamp.Secret)).Index;

    private readonly StateObject lamp = new(new DoId(0, 1), new StoredLayout(Model, dbBacked: false), Channel.ForParticipant(new DoId(0, 2)));

    [TestMethod]
    public void NewObject_HasNoValues()
    {
        Assert.IsFalse(lamp.HasValue(Name));
        Assert.IsFalse(lamp.HasValue(X));
        Assert.IsFalse(lamp.HasValue(Secret));
    }

    [TestMethod]
    public void SetValues_ThenValue_ReturnsEachEncodedValue()
    {
        Set((Name, "lamp"), (X, 5), (Secret, 7));

        AssertValue(Name, "lamp");
        AssertValue(X, 5);
        AssertValue(Secret, 7);
    }

    [TestMethod]
    public void SetValues_SameLength_OverwritesOnlyThatField()
    {
        Set((Name, "lamp"), (X, 5), (Secret, 7));

        Set((X, 6));

        AssertValue(Name, "lamp");
        AssertValue(X, 6);
        AssertValue(Secret, 7);
    }

    [TestMethod]
    public void SetValues_OtherLength_KeepsTheOtherFields()
    {
        Set((Name, "lamp"), (X, 5));

        Set((Name, "a much longer name"));
        Set((Secret, 9));
        Set((Name, "z"));

        AssertValue(Name, "z");
        AssertValue(X, 5);
        AssertValue(Secret, 9);
    }

    [TestMethod]
    public void SetValues_TheSameFieldTwice_TheLaterWins()
    {
        Set((X, 1), (X, 2));
        Set((Name, "short"), (Name, "rather longer"));

        AssertValue(X, 2);
        AssertValue(Name, "rather longer");
    }

    [TestMethod]
    public void SetValues_TheFirstFieldAtTheSameLength_IsOverwrittenInPlace()
    {
        Set((Name, "lamp"), (X, 5));

        Set((Name, "camp"));

        AssertValue(Name, "camp");
        AssertValue(X, 5);
    }

    [TestMethod]
    public void SetValues_TheSameFieldTwice_TheLongerFirst_LeavesTheNextFieldAlone()
    {
        Set((Name, "lamp"), (X, 5), (Secret, 7));

        Set((Name, "a much longer name"), (Name, "z"));

        AssertValue(Name, "z");
        AssertValue(X, 5);
        AssertValue(Secret, 7);
    }

    [TestMethod]
    public void SetValues_AFieldThatIsNotStored_IsSkipped_WhereverItIsInTheSet()
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(Knight) });
        var model = registry.GetModel<Knight>();
        var knight = new StateObject(new DoId(0, 3), new StoredLayout(model, dbBacked: false), Channel.ForParticipant(new DoId(0, 2)));
        var banner = model.GetField(nameof(Knight.Banner));
        var x = model.GetField(nameof(Knight.X));
        Assert.IsFalse(knight.Stores(banner), "a Broadcast field that is neither Required nor Ram is relayed, not kept");

        using var payload = new PooledBufferWriter();
        banner.Codec.WriteBoxed(payload, new byte[] { 1, 2, 3 });
        int bannerLength = payload.WrittenCount;
        x.Codec.WriteBoxed(payload, 9);
        knight.SetValues(payload.WrittenSpan, new[] { (banner.Index, 0, bannerLength), (x.Index, bannerLength, payload.WrittenCount - bannerLength) });

        Assert.IsTrue(knight.Value(banner.Index).IsEmpty);
        Assert.AreEqual(9, BinaryPrimitives.ReadInt32LittleEndian(knight.Value(x.Index)));
    }

    [TestMethod]
    public void SetValues_BlockOver64KiB_AndBackBelow_KeepsEveryValue()
    {
        string big = new('n', 70_000);
        Set((X, 5), (Secret, 7));

        Set((Name, big));
        AssertValue(Name, big);
        AssertValue(X, 5);
        AssertValue(Secret, 7);

        Set((X, 8));
        Set((Name, "small"));
        AssertValue(Name, "small");
        AssertValue(X, 8);
        AssertValue(Secret, 7);
    }

    private void Set(params (int Field, object Value)[] values)
    {
        using var payload = new PooledBufferWriter();
        var parsed = new (int Field, int Start, int Length)[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            int start = payload.WrittenCount;
            Model.Fields[values[i].Field].Codec.WriteBoxed(payload, values[i].Value);
            parsed[i] = (values[i].Field, start, payload.WrittenCount - start);
        }

        lamp.SetValues(payload.WrittenSpan, parsed);
    }

    private void AssertValue(int field, object expected)
    {
        using var encoded = new PooledBufferWriter();
        Model.Fields[field].Codec.WriteBoxed(encoded, expected);
        CollectionAssert.AreEqual(encoded.WrittenSpan.ToArray(), lamp.Value(field).ToArray(), Model.Fields[field].Name);
    }
}
