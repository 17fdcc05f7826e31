using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>A channel on the wire (a link frame names its targets) and in the logs.</summary>
[TestClass]
public sealed class ChannelTests
{
    [TestMethod]
    public void EveryKind_RoundTripsThroughTheWire()
    {
        var id = new DoId(0x0102030405060708, 0x1112131415161718);
        foreach (var channel in new[] { Channel.ForObject(id), Channel.ForLocation(id, 4_000_000_000), Channel.ForSession(id), Channel.ForAccount(id), Channel.ForParticipant(id), Channel.StateServer, Channel.SessionEvents })
        {
            using var writer = new PooledBufferWriter();
            channel.Write(writer);
            var reader = new WireReader(writer.WrittenSpan);
            Assert.AreEqual(channel, Channel.Read(ref reader));
            Assert.IsTrue(reader.IsAtEnd);
        }
    }

    [TestMethod]
    public void AnUnknownKind_FromALink_IsAWireErrorNamingIt()
    {
        using var writer = new PooledBufferWriter();
        Channel.ForObject(new DoId(1, 1)).Write(writer);
        var bytes = writer.WrittenSpan.ToArray();
        bytes[0] = (byte)(ChannelKind.Participant + 1);

        var problem = Assert.ThrowsExactly<WireFormatException>(() =>
        {
            var reader = new WireReader(bytes);
            Channel.Read(ref reader);
        });

        Assert.AreEqual(WireError.InvalidValue, problem.Error);
        StringAssert.Contains(problem.Message, $"Unknown channel kind {(byte)(ChannelKind.Participant + 1)}.");
    }

    [TestMethod]
    public void ToString_NamesTheRolesAndShowsTheLocationsZone()
    {
        var id = new DoId(0, 42);
        Assert.AreEqual("state-server", Channel.StateServer.ToString());
        Assert.AreEqual("database", Channel.Database.ToString());
        Assert.AreEqual("diagnostics", Channel.Diagnostics.ToString());
        Assert.AreEqual("session-events", Channel.SessionEvents.ToString());
        Assert.AreEqual($"location({id}, 7)", Channel.ForLocation(id, 7).ToString());
        Assert.AreEqual($"object({id})", Channel.ForObject(id).ToString());
        Assert.AreEqual($"session({id})", Channel.ForSession(id).ToString());
    }
}
