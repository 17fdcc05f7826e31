using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// The entry the State Server publishes when an object enters a location: its header and both client frames (what
/// other viewers see, and what the owner sees) name the object's parent, zone and owner, byte for byte. A Stryker run
/// of the State Server's folder left the frames' parent, zone and owner writes alive: the Client Agent's tests read
/// them, but none in the State Server's own filter did.
/// </summary>
[TestClass]
public sealed class StateServerEntryTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Waymark) });
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly DoId Owner = new(0, 0x0A11CE);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task AnEntry_AndBothOfItsFrames_NameTheParentZoneAndOwner()
    {
        await using var rig = new StateServerRig(TestContext, Registry);
        var square = new Waymark { Text = "square" };
        await rig.CreateAsync(square, DoId.Empty, 1, Ai);
        var location = rig.Listen(Channel.ForLocation(square.DoId, 7));
        var mark = new Waymark { Text = "well", A = 3 };

        await rig.CreateAsync(mark, square.DoId, 7, Ai, Owner);

        var enter = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.EnterLocation, enter.Type);
        var entry = ObjectEntry.Parse(enter.Payload);
        Assert.AreEqual(new Location(square.DoId, 7), entry.Location);
        Assert.AreEqual(Owner, entry.Owner);
        AssertFrame(entry.OtherFrame, MessageType.EnterObject, mark, square.DoId);
        AssertFrame(entry.OwnerFrame, MessageType.EnterOwnedObject, mark, square.DoId);
    }

    private static void AssertFrame(ReadOnlyMemory<byte> frame, MessageType type, Waymark mark, DoId parent)
    {
        var reader = new WireReader(frame.Span);
        Assert.AreEqual((uint)(frame.Length - Frame.LengthSize), reader.ReadUInt32(), "the frame's length");
        Assert.AreEqual(type, (MessageType)reader.ReadUInt16());
        Assert.AreEqual(mark.DoId, reader.ReadDoId());
        Assert.AreEqual(mark.Model.ClassId, reader.ReadUInt32());
        Assert.AreEqual(parent, reader.ReadDoId(), $"{type}: parent");
        Assert.AreEqual(7u, reader.ReadUInt32(), $"{type}: zone");
        Assert.AreEqual(Owner, reader.ReadDoId(), $"{type}: owner");
    }
}
