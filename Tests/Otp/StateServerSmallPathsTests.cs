using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// The short paths of the State Server folder that the feature tests do not reach: a broadcast batch cut by a relay to
/// another location, an entry whose enter frame needs a two-byte length, an activation refused to a channel that gets
/// no answer, the grace of one parked application ending while another's waits, the zone count, and the guards of
/// <see cref="RelayBatch"/>, <see cref="StateObject"/> and <see cref="ZoneGraph"/>.
/// </summary>
[TestClass]
public sealed class StateServerSmallPathsTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Waymark), typeof(OilLamp) });
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xC1));

    private readonly RecordingLogger logger = new();
    private StateServerRig rig = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestCleanup]
    public async Task StopAsync()
    {
        if (rig is not null)
        {
            await rig.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task BroadcastsQueuedForTwoLocations_AreRelayedOnePerLocation_NotOneBatch()
    {
        Start();
        var here = new Waymark { Text = "here" };
        var there = new Waymark { Text = "there" };
        await rig.CreateAsync(here, DoId.Empty, 1, Ai);
        await rig.CreateAsync(there, DoId.Empty, 2, Ai);
        var first = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var second = rig.Listen(Channel.ForLocation(DoId.Empty, 2));
        var a = Registry.GetModel<Waymark>().GetField(nameof(Waymark.A));

        await using (await HoldAsync())
        {
            here.A = 1;
            there.A = 2;
            rig.Send(InternalMessages.SetField(here, a, Ai));
            rig.Send(InternalMessages.SetField(there, a, Ai));
        }

        // The barrier's answer is published after whatever was coalesced before it.
        await rig.BarrierAsync();
        Assert.HasCount(1, first.Received);
        Assert.HasCount(1, second.Received);
        var (relayHere, relayThere) = (first.Received[0], second.Received[0]);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, relayHere.Type, "one relay alone, not a batch");
        Assert.AreEqual(here.DoId, relayHere.Subject);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, relayThere.Type);
        Assert.AreEqual(there.DoId, relayThere.Subject);
        Assert.HasCount(1, first.Received);
        Assert.HasCount(1, second.Received);
    }

    [TestMethod]
    public async Task BroadcastsQueuedForOneLocationFromTwoSenders_AreRelayedOnePerSender_EachWithItsSender()
    {
        Start();
        var other = Channel.ForParticipant(new DoId(0, 0xC5));
        var mine = new Waymark { Text = "mine" };
        var theirs = new Waymark { Text = "theirs" };
        await rig.CreateAsync(mine, DoId.Empty, 1, Ai);
        await rig.CreateAsync(theirs, DoId.Empty, 1, other);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var a = Registry.GetModel<Waymark>().GetField(nameof(Waymark.A));

        await using (await HoldAsync())
        {
            mine.A = 1;
            theirs.A = 2;
            rig.Send(InternalMessages.SetField(mine, a, Ai));
            rig.Send(InternalMessages.SetField(theirs, a, other));
        }

        // The barrier's answer is published after whatever was coalesced before it.
        await rig.BarrierAsync();
        var relays = location.Received;
        Assert.HasCount(2, relays);
        Assert.AreEqual((InternalMessageType.RelayBroadcast, Ai, mine.DoId), (relays[0].Type, relays[0].Sender, relays[0].Subject));
        Assert.AreEqual((InternalMessageType.RelayBroadcast, other, theirs.DoId), (relays[1].Type, relays[1].Sender, relays[1].Subject));
    }

    [TestMethod]
    public async Task BroadcastsQueuedTogetherThatWouldPassTheBatchSize_AreRelayedInTwo()
    {
        Start();
        var first = new Waymark { Text = "first" };
        var second = new Waymark { Text = "second" };
        await rig.CreateAsync(first, DoId.Empty, 1, Ai);
        await rig.CreateAsync(second, DoId.Empty, 1, Ai);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var text = Registry.GetModel<Waymark>().GetField(nameof(Waymark.Text));

        await using (await HoldAsync())
        {
            first.Text = new string('a', 9000);
            second.Text = new string('b', 9000);
            rig.Send(InternalMessages.SetField(first, text, Ai));
            rig.Send(InternalMessages.SetField(second, text, Ai));
        }

        // The barrier's answer is published after whatever was coalesced before it.
        await rig.BarrierAsync();
        var relays = location.Received;
        Assert.HasCount(2, relays, "9 KB and 9 KB do not fit one 16 KiB batch");
        Assert.AreEqual((InternalMessageType.RelayBroadcast, first.DoId), (relays[0].Type, relays[0].Subject));
        Assert.AreEqual((InternalMessageType.RelayBroadcast, second.DoId), (relays[1].Type, relays[1].Subject));
    }

    [TestMethod]
    public async Task AnEntryWhoseEnterFrameIsLongerThan127Bytes_WritesItsLengthInTwoBytes_AndParsesBack()
    {
        Start();
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 3));
        var post = new Waymark { Text = new string('x', 300), A = 7 };

        await rig.CreateAsync(post, DoId.Empty, 3, Ai);

        var enter = await location.NextAsync(TestContext);
        var entry = ObjectEntry.Parse(enter.Payload);
        Assert.AreEqual(Registry.GetModel<Waymark>().ClassId, entry.ClassId);
        Assert.AreEqual(new Location(DoId.Empty, 3), entry.Location);
        foreach (var (frame, type) in new[] { (entry.OtherFrame, MessageType.EnterObject), (entry.OwnerFrame, MessageType.EnterOwnedObject) })
        {
            Assert.IsGreaterThan(127, frame.Length);
            Assert.AreEqual((uint)(frame.Length - 4), BinaryPrimitives.ReadUInt32LittleEndian(frame.Span), "the frame is whole: its length counts what follows it");
            Assert.AreEqual((ushort)type, BinaryPrimitives.ReadUInt16LittleEndian(frame.Span[4..]));
        }

        // The varint of the first frame's length, after class id, parent, zone and owner: two bytes (it is >= 128).
        int length = entry.OtherFrame.Length;
        int at = 4 + DoId.Size + 4 + DoId.Size;
        Assert.AreEqual((byte)(length | 0x80), enter.Payload.Span[at]);
        Assert.AreEqual((byte)(length >> 7), enter.Payload.Span[at + 1]);
        Assert.AreEqual(at + 2, enter.Payload.Length - entry.OtherFrame.Length - entry.OwnerFrame.Length, "the frames follow the two bytes");
    }

    [TestMethod]
    public async Task AnEnterFrameOfExactly128Bytes_TakesTwoLengthBytes()
    {
        Start();
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 6));
        await rig.CreateAsync(new Waymark { Text = "x" }, DoId.Empty, 6, Ai);
        int oneChar = ObjectEntry.Parse((await location.NextAsync(TestContext)).Payload).OtherFrame.Length;

        await rig.CreateAsync(new Waymark { Text = new string('x', 128 - oneChar + 1) }, DoId.Empty, 6, Ai);
        var enter = await location.NextAsync(TestContext);

        int at = 4 + DoId.Size + 4 + DoId.Size;
        Assert.AreEqual(128, ObjectEntry.Parse(enter.Payload).OtherFrame.Length);
        Assert.AreEqual(0x80, enter.Payload.Span[at]);
        Assert.AreEqual(0x01, enter.Payload.Span[at + 1]);
    }

    [TestMethod]
    public async Task AnActivationRefusedToALocationOrToNobody_IsOnlyLogged()
    {
        Start();
        var location = Channel.ForLocation(DoId.Empty, 4);
        var atLocation = rig.Listen(location);
        var id = new DoId(0, 0xAC7);
        var request = DatabaseMessages.ActivateObject(5, Registry.GetModel<OilLamp>(), id, DoId.Empty, 4, DoId.Empty, Ai);
        var payload = request.Payload.ToArray();
        BitConverter.GetBytes(0xDEADu).CopyTo(payload, 4);

        rig.Send(new Envelope(InternalMessageType.ActivateObject, location, id, payload));
        rig.Send(new Envelope(InternalMessageType.ActivateObject, default, id, payload));
        var ai = rig.Listen(Ai);
        rig.Send(new Envelope(InternalMessageType.ActivateObject, Ai, id, payload));
        await rig.BarrierAsync();

        Assert.IsEmpty(atLocation.Received);
        Assert.AreEqual(InternalMessageType.ActivateObjectResp, ai.Received.Single().Type, "a participant is answered");
        var warnings = logger.At(LogLevel.Warning);
        string reason = $"activate {id}: class id 57005 is unknown or has no Db fields";
        CollectionAssert.Contains(warnings, $"State Server refused ActivateObject from {location}: {reason}");
        CollectionAssert.Contains(warnings, $"State Server refused ActivateObject from {default(Channel)}: {reason}");
    }

    [TestMethod]
    public async Task TheGraceOfOneApplicationEnds_WhileAnotherApplicationsAiIsStillParked_EachAisObjectsAreDeletedAtItsOwnEnd()
    {
        Start(new StateServerOptions { AiRestartGrace = TimeSpan.FromMilliseconds(50) });
        var firstAi = Channel.ForParticipant(new DoId(0, 0xC2));
        var otherAi = Channel.ForParticipant(new DoId(0, 0xC3));
        var lastAi = Channel.ForParticipant(new DoId(0, 0xC4));
        var deleted = new Dictionary<Channel, StateServerTests.Recorder>();
        foreach (var ai in new[] { firstAi, otherAi, lastAi })
        {
            await rig.CreateAsync(new Waymark { Text = ai.ToString() }, DoId.Empty, 5, ai);
            deleted[ai] = rig.Listen(ai);
        }

        // Parked in this order, so that the other application's grace ends while the first one still has an AI parked.
        rig.Send(InternalMessages.ParkAiObjects(firstAi, "First"));
        rig.Send(InternalMessages.ParkAiObjects(otherAi, "Other"));
        rig.Send(InternalMessages.ParkAiObjects(lastAi, "First"));

        foreach (var (ai, recorder) in deleted)
        {
            var gone = await recorder.NextAsync(TestContext);
            Assert.AreEqual(InternalMessageType.ObjectDeleted, gone.Type, $"the object of {ai} is deleted when its grace ends");
        }

        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ObjectCount);
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
        Assert.AreEqual(3, logger.At(LogLevel.Warning).Count(l => l.StartsWith("No AI of ", StringComparison.Ordinal)));
        CollectionAssert.Contains(logger.At(LogLevel.Warning), $"No AI of Other came back within 0.05 s: the objects of {otherAi} are deleted");
    }

    [TestMethod]
    public async Task ZoneCount_CountsTheLocationsThatHoldObjects()
    {
        Start();
        await rig.CreateAsync(new Waymark { Text = "a" }, DoId.Empty, 1, Ai);
        await rig.CreateAsync(new Waymark { Text = "b" }, DoId.Empty, 1, Ai);
        await rig.CreateAsync(new Waymark { Text = "c" }, DoId.Empty, 2, Ai);

        Assert.AreEqual(2, rig.Server.ZoneCount);
        Assert.AreEqual(3, rig.Server.ObjectCount);
    }

    [TestMethod]
    public void ARelayBatchShorterThanItsHeader_IsNotRead_AndOneOfExactlyTheHeader_Is()
    {
        Assert.IsFalse(RelayBatch.TryRead(new byte[RelayBatch.HeaderSize - 1], out var none));
        Assert.AreEqual(default, none);

        using var writer = new PooledBufferWriter(64);
        RelayBatch.WriteHeader(writer, new Location(new DoId(0, 9), 4), census: 3);
        Assert.IsTrue(RelayBatch.TryRead(writer.WrittenSpan.ToArray(), out var header));
        Assert.AreEqual(new Location(new DoId(0, 9), 4), header.Location);
        Assert.AreEqual(3, header.Census);
        Assert.AreEqual(0, header.Frames.Length);
    }

    [TestMethod]
    public void AStateObject_StoresItsRamFields_AndItsDbFieldsOnlyWhenDatabaseBacked()
    {
        var model = ModelRegistry.FromTypes(new[] { typeof(Pastry.Tests.Database.DbWallet) }).GetModel<Pastry.Tests.Database.DbWallet>();
        var ram = new StateObject(new DoId(0, 1), new StoredLayout(model, dbBacked: false), Ai);
        var stored = new StateObject(new DoId(0, 2), new StoredLayout(model, dbBacked: true), Ai);
        var holder = model.GetField(nameof(Pastry.Tests.Database.DbWallet.Holder));
        var gold = model.GetField(nameof(Pastry.Tests.Database.DbWallet.Gold));

        Assert.IsTrue(ram.Stores(holder), "Required and Ram: kept in RAM");
        Assert.IsFalse(ram.Stores(gold), "Db only: not kept for an object that is not stored");
        Assert.IsTrue(stored.Stores(holder));
        Assert.IsTrue(stored.Stores(gold), "kept (and written through) for a stored object");
    }

    [TestMethod]
    public void AZoneGraph_RefusesASecondNodeWithAPlacedId()
    {
        var graph = new ZoneGraph();
        var id = new DoId(0, 0x1D);
        graph.Place(new ZoneNode(id), DoId.Empty, 1);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => graph.Place(new ZoneNode(id), DoId.Empty, 2));
        Assert.AreEqual($"Another object with id {id} is already placed.", error.Message);
        Assert.AreEqual(1, graph.Count);
        Assert.AreEqual(1, graph.ZoneCount);
    }

    [TestMethod]
    public async Task ASubscriberThatThrowsOnTheLoopsLastFlush_IsLogged_AndTheStateServerGoesOn()
    {
        Start();
        var post = new Waymark { Text = "post" };
        await rig.CreateAsync(post, DoId.Empty, 1, Ai);
        var faulty = new ThrowsOnce();
        rig.Router.Subscribe(faulty, Channel.ForLocation(DoId.Empty, 1));
        var a = Registry.GetModel<Waymark>().GetField(nameof(Waymark.A));

        // Nothing else is published after the set: its relay goes out when the loop has read everything, outside any
        // one message's handling, and the subscriber throws there.
        post.A = 1;
        rig.Send(InternalMessages.SetField(post, a, Ai));
        await faulty.Thrown.Task.WaitAsync(Timeout);

        await rig.BarrierAsync();
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        post.A = 2;
        rig.Send(InternalMessages.SetField(post, a, Ai));
        await rig.BarrierAsync();
        Assert.AreEqual(InternalMessageType.RelayBroadcast, location.Received.Single().Type, "the next set is relayed as before");
        Assert.AreEqual(1, logger.At(LogLevel.Error).Count(l => l == "State Server failed publishing coalesced broadcast relays; it goes on with the next message"));
    }

    private void Start(StateServerOptions? options = null) => rig = new StateServerRig(TestContext, Registry, options, logger);

    /// <summary>Blocks the State Server's task in a delivery until disposed, so that what is sent meanwhile is handled back to back.</summary>
    private async Task<IAsyncDisposable> HoldAsync()
    {
        var hold = new Hold();
        var channel = Channel.ForSession(new DoId(0x401D, 1));
        rig.Router.Subscribe(hold, channel);
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(1);
        writer.WriteDoId(new DoId(0x401D, 0));
        writer.WriteVarUInt32(0);
        rig.Send(new Envelope(InternalMessageType.QueryZones, channel, DoId.Empty, writer.WrittenSpan.ToArray()));
        Assert.IsTrue(await Task.Run(() => hold.Holding.Wait(Timeout)), "the State Server never answered the query");
        return hold;
    }

    /// <summary>A participant that blocks the State Server's task in its first delivery until disposed.</summary>
    private sealed class Hold : IParticipant, IAsyncDisposable
    {
        private readonly ManualResetEventSlim released = new();

        public ManualResetEventSlim Holding { get; } = new();

        public string Name => "hold";

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (!Holding.IsSet)
            {
                Holding.Set();
                released.Wait(Timeout);
            }
        }

        public ValueTask DisposeAsync()
        {
            released.Set();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A subscriber with a bug: its first delivery throws.</summary>
    private sealed class ThrowsOnce : IParticipant
    {
        public TaskCompletionSource Thrown { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "throws-once";

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (Thrown.TrySetResult())
            {
                throw new InvalidOperationException("a subscriber's bug");
            }
        }
    }
}
