using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>A model for the State Server tests: a broadcast Required field, a client-sendable one and a private one.</summary>
public sealed class StreetLamp : DistributedObject<StreetLamp>
{
    [Required, Ram, Broadcast]
    public string Name { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public int X { get => Get<int>(); set => Set(value); }

    [Ram, OwnSend]
    public int Secret { get => Get<int>(); set => Set(value); }
}

[TestClass]
public sealed class StateServerTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(StreetLamp) });
    private static readonly DoId Owner = new(0, 0xACC);
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));

    private readonly InProcessRouter router = new();
    private StateServer server = null!;
    private Recorder ai = null!;
    private Recorder owner = null!;
    private DoId street;
    private uint nextContext = 1000;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>The parent of most test objects: itself an object, since a parent must exist.</summary>
    private DoId Street => street;

    [TestInitialize]
    public async Task StartAsync()
    {
        server = new StateServer(router, Registry, NullLogger.Instance);
        server.Start();
        var streets = Listen(Channel.ForLocation(DoId.Empty, 99));
        var streetLamp = NewLamp("street");
        Send(InternalMessages.CreateObject(streetLamp, DoId.Empty, 99, DoId.Empty, Ai));
        Assert.AreEqual(InternalMessageType.EnterLocation, (await streets.NextAsync(TestContext)).Type);
        router.UnsubscribeAll(streets);
        street = streetLamp.DoId;
        ai = Listen(Ai);
        owner = Listen(Channel.ForAccount(Owner));
    }

    [TestCleanup]
    public async Task StopAsync() => await server.DisposeAsync();

    [TestMethod]
    public async Task CreateObject_PublishesEnterLocationToTheLocation()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var lamp = NewLamp("north", x: 7, secret: 42);

        Send(InternalMessages.CreateObject(lamp, Street, 3, Owner, Ai));

        var enter = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.EnterLocation, enter.Type);
        Assert.AreEqual(lamp.DoId, enter.Subject);
        Assert.AreEqual(Channel.StateServer, enter.Sender);
        var entry = ObjectEntry.Parse(enter.Payload);
        Assert.AreEqual(lamp.Model.ClassId, entry.ClassId);
        Assert.AreEqual(new Location(Street, 3), entry.Location);
        Assert.AreEqual(Owner, entry.Owner);
        Assert.AreEqual(MessageType.EnterObject, FrameType(entry.OtherFrame.Span));
        Assert.AreEqual(MessageType.EnterOwnedObject, FrameType(entry.OwnerFrame.Span));

        await BarrierAsync();
        Assert.AreEqual(2, server.ObjectCount, "the street and the lamp");
        Assert.IsEmpty(ai.Received, "nothing is refused");
    }

    [TestMethod]
    public async Task CreateObject_MissingARequiredField_IsRefusedWithAnErrorToTheSender_AndPublishesNothing()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var lamp = new StreetLamp { X = 1 };

        Send(InternalMessages.CreateObject(lamp, Street, 3, Owner, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(lamp.DoId, error.Subject);
        StringAssert.Contains(ReadString(error.Payload), "missing Required field(s) Name");
        await BarrierAsync();
        Assert.IsEmpty(location.Received);
        Assert.IsEmpty(owner.Received);
        Assert.AreEqual(1, server.ObjectCount, "only the street");
    }

    [TestMethod]
    public async Task SetField_Broadcast_PublishesRelayBroadcastWithAClientSetFieldFrame_ToTheLocation()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var lamp = await CreateAsync("north", Street, 3, location);
        lamp.X = 99;
        var field = lamp.Model.GetField(nameof(StreetLamp.X));

        Send(InternalMessages.SetField(lamp, field, Ai));

        var relay = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, relay.Type);
        Assert.AreEqual(lamp.DoId, relay.Subject);
        Assert.AreEqual(Ai, relay.Sender);
        CollectionAssert.AreEqual(SetFieldFrame(lamp, field), relay.Payload.ToArray());
        Assert.AreEqual(InternalMessageType.EnterLocation, (await owner.NextAsync(TestContext)).Type, "the owner sees what it owns arrive");
        var own = await owner.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayPrivate, own.Type, "and gets its updates through its account, wherever it is");
        CollectionAssert.AreEqual(SetFieldFrame(lamp, field), own.Payload.ToArray());
        await BarrierAsync();
        Assert.IsEmpty(ai.Received);
    }

    [TestMethod]
    public async Task SetField_BroadcastsQueuedTogether_AreRelayedAsOneBatch_InOrder()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var north = await CreateAsync("north", Street, 3, location);
        var south = await CreateAsync("south", Street, 3, location);
        var x = north.Model.GetField(nameof(StreetLamp.X));
        var frames = new List<byte[]>();
        await using (var hold = await HoldStateServerAsync())
        {
            foreach (var (lamp, value) in new[] { (north, 1), (south, 2), (north, 3) })
            {
                lamp.X = value;
                frames.Add(SetFieldFrame(lamp, x));
                Send(InternalMessages.SetField(lamp, x, Ai));
            }
        }

        var relay = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcastBatch, relay.Type);
        Assert.AreEqual(Ai, relay.Sender);
        Assert.AreEqual(DoId.Empty, relay.Subject, "a batch is about several objects");
        Assert.IsTrue(RelayBatch.TryRead(relay.Payload, out var batch));
        Assert.AreEqual(new Location(Street, 3), batch.Location);
        Assert.AreEqual(2, batch.Census, "two objects at the location when the sets were relayed");
        Assert.AreEqual(3, batch.FrameCount, "the header counts the frames, so that a session forwarding the block whole need not");
        Assert.IsTrue(batch.AboutOwned, "the lamps have an owner, whose sessions take their updates from the account");
        CollectionAssert.AreEqual(frames.SelectMany(f => f).ToArray(), batch.Frames.ToArray(), "every frame, in the order the sets arrived");
        await BarrierAsync();
        Assert.AreEqual(0, location.Unread);
    }

    [TestMethod]
    public async Task SetField_Batch_OfUnownedObjects_CarriesTheCensus_AndAnArrivalStartsANewBatch()
    {
        var location = Listen(Channel.ForLocation(Street, 5));
        var north = NewLamp("north");
        Send(InternalMessages.CreateObject(north, Street, 5, DoId.Empty, Ai));
        Assert.AreEqual(InternalMessageType.EnterLocation, (await location.NextAsync(TestContext)).Type);
        var x = north.Model.GetField(nameof(StreetLamp.X));
        var south = NewLamp("south");
        await using (var hold = await HoldStateServerAsync())
        {
            north.X = 1;
            Send(InternalMessages.SetField(north, x, Ai));
            north.X = 2;
            Send(InternalMessages.SetField(north, x, Ai));
            Send(InternalMessages.CreateObject(south, Street, 5, DoId.Empty, Ai));
            north.X = 3;
            Send(InternalMessages.SetField(north, x, Ai));
            south.X = 4;
            Send(InternalMessages.SetField(south, x, Ai));
        }

        var first = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcastBatch, first.Type);
        Assert.IsTrue(RelayBatch.TryRead(first.Payload, out var before));
        Assert.AreEqual(1, before.Census, "one object at the location before the second arrived");
        Assert.IsFalse(before.AboutOwned, "no frame is about an owned object: every session that sees the location sends it whole");
        Assert.AreEqual(InternalMessageType.EnterLocation, (await location.NextAsync(TestContext)).Type);
        var second = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcastBatch, second.Type);
        Assert.IsTrue(RelayBatch.TryRead(second.Payload, out var after));
        Assert.AreEqual(2, after.Census);
        north.X = 3;
        CollectionAssert.AreEqual(SetFieldFrame(north, x).Concat(SetFieldFrame(south, x)).ToArray(), after.Frames.ToArray());
    }

    [TestMethod]
    public async Task SetField_Batching_NeverReordersRelaysAroundOtherMessages()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var north = await CreateAsync("north", Street, 3, location);
        var south = await CreateAsync("south", Street, 3, location);
        var x = north.Model.GetField(nameof(StreetLamp.X));
        await using (var hold = await HoldStateServerAsync())
        {
            north.X = 1;
            Send(InternalMessages.SetField(north, x, Ai));
            south.X = 2;
            Send(InternalMessages.SetField(south, x, Ai));
            Send(InternalMessages.SetLocation(south.DoId, Street, 4, Ai));
            north.X = 3;
            Send(InternalMessages.SetField(north, x, Ai));
        }

        var first = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcastBatch, first.Type);
        north.X = 1;
        south.X = 2;
        Assert.IsTrue(RelayBatch.TryRead(first.Payload, out var batch));
        CollectionAssert.AreEqual(SetFieldFrame(north, x).Concat(SetFieldFrame(south, x)).ToArray(), batch.Frames.ToArray());
        Assert.AreEqual(InternalMessageType.ChangingLocation, (await location.NextAsync(TestContext)).Type);
        var last = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, last.Type, "one relay alone is a plain RelayBroadcast");
        Assert.AreEqual(north.DoId, last.Subject);
        north.X = 3;
        CollectionAssert.AreEqual(SetFieldFrame(north, x), last.Payload.ToArray());
    }

    [TestMethod]
    public async Task SetField_NotBroadcast_PublishesRelayPrivate_ToTheOwnerAccountOnly()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var lamp = await CreateAsync("north", Street, 3, location);
        lamp.Secret = 1234;
        var field = lamp.Model.GetField(nameof(StreetLamp.Secret));

        Send(InternalMessages.SetField(lamp, field, Ai));

        Assert.AreEqual(InternalMessageType.EnterLocation, (await owner.NextAsync(TestContext)).Type);
        var relay = await owner.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayPrivate, relay.Type);
        Assert.AreEqual(lamp.DoId, relay.Subject);
        CollectionAssert.AreEqual(SetFieldFrame(lamp, field), relay.Payload.ToArray());
        await BarrierAsync();
        Assert.AreEqual(0, location.Unread, "the location hears only the create");
        Assert.IsEmpty(ai.Received);
    }

    [TestMethod]
    public async Task SetField_NoSuchObject_IsRefusedWithAnError()
    {
        var lamp = NewLamp("never created");

        Send(InternalMessages.SetField(lamp, lamp.Model.GetField(nameof(StreetLamp.X)), Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        StringAssert.Contains(ReadString(error.Payload), "no object");
    }

    [TestMethod]
    public async Task SetLocation_PublishesChangingLocationToBothTheOldAndTheNewLocation()
    {
        var oldLocation = Listen(Channel.ForLocation(Street, 3));
        var newLocation = Listen(Channel.ForLocation(Street, 4));
        var lamp = await CreateAsync("north", Street, 3, oldLocation);

        Send(InternalMessages.SetLocation(lamp.DoId, Street, 4, Ai));

        foreach (var recorder in new[] { oldLocation, newLocation })
        {
            var moved = await recorder.NextAsync(TestContext);
            Assert.AreEqual(InternalMessageType.ChangingLocation, moved.Type);
            Assert.AreEqual(lamp.DoId, moved.Subject);
            var reader = new WireReader(moved.Payload.Span);
            Assert.AreEqual(Street, reader.ReadDoId(), "old parent");
            Assert.AreEqual(3u, reader.ReadUInt32(), "old zone");
            var entry = ObjectEntry.Parse(moved.Payload, reader.Position);
            Assert.AreEqual(new Location(Street, 4), entry.Location);
        }

        await BarrierAsync();
        Assert.HasCount(1, newLocation.Received);
        Assert.HasCount(2, oldLocation.Received, "the create, then the move");
    }

    [TestMethod]
    public async Task SetLocation_UnderItsOwnChild_IsRefused_AndPublishesNothing()
    {
        var root = Listen(Channel.ForLocation(DoId.Empty, 0));
        var parent = await CreateAsync("parent", DoId.Empty, 0, root);
        var childLocation = Listen(Channel.ForLocation(parent.DoId, 1));
        var child = await CreateAsync("child", parent.DoId, 1, childLocation);
        var underChild = Listen(Channel.ForLocation(child.DoId, 2));

        Send(InternalMessages.SetLocation(parent.DoId, child.DoId, 2, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        StringAssert.Contains(ReadString(error.Payload), "cycle");
        await BarrierAsync();
        Assert.HasCount(1, root.Received, "only the create");
        Assert.IsEmpty(underChild.Received);
    }

    [TestMethod]
    public async Task DeleteObject_OfAParent_PublishesObjectDeletedForTheChildBeforeTheParent()
    {
        var root = Listen(Channel.ForLocation(DoId.Empty, 0));
        var parent = await CreateAsync("parent", DoId.Empty, 0, root);
        var childLocation = Listen(Channel.ForLocation(parent.DoId, 1));
        var child = await CreateAsync("child", parent.DoId, 1, childLocation);
        var grandchild = await CreateAsync("grandchild", child.DoId, 2, Listen(Channel.ForLocation(child.DoId, 2)));

        Send(InternalMessages.DeleteObject(parent.DoId, Ai));

        // The AI hears every deletion of its objects in order: deepest first.
        var deletions = new List<Envelope>();
        for (int i = 0; i < 3; i++)
        {
            deletions.Add(await ai.NextAsync(TestContext));
        }

        Assert.IsTrue(deletions.All(d => d.Type == InternalMessageType.ObjectDeleted));
        CollectionAssert.AreEqual(new[] { grandchild.DoId, child.DoId, parent.DoId }, deletions.Select(d => d.Subject).ToList());
        var childDeleted = await childLocation.NextAsync(TestContext);
        Assert.AreEqual(child.DoId, childDeleted.Subject);
        var parentDeleted = await root.NextAsync(TestContext);
        Assert.AreEqual(parent.DoId, parentDeleted.Subject);
        var leave = new WireReader(parentDeleted.Payload.Span);
        leave.ReadUInt32();
        Assert.AreEqual((ushort)MessageType.LeaveObject, leave.ReadUInt16());
        Assert.AreEqual(parent.DoId, leave.ReadDoId());
        Assert.AreEqual((byte)LeaveReason.Deleted, leave.ReadByte());

        await BarrierAsync();
        Assert.AreEqual(1, server.ObjectCount, "only the street");
        Assert.HasCount(3, owner.Received.Where(e => e.Type == InternalMessageType.ObjectDeleted), "the owner hears each deletion once");
        Assert.HasCount(3, owner.Received.Where(e => e.Type == InternalMessageType.EnterLocation), "and each arrival once");
    }

    [TestMethod]
    public async Task DeleteObject_ThenSetField_IsRefused()
    {
        var location = Listen(Channel.ForLocation(Street, 3));
        var lamp = await CreateAsync("north", Street, 3, location);
        Send(InternalMessages.DeleteObject(lamp.DoId, Ai));
        Assert.AreEqual(InternalMessageType.ObjectDeleted, (await ai.NextAsync(TestContext)).Type);

        Send(InternalMessages.SetField(lamp, lamp.Model.GetField(nameof(StreetLamp.X)), Ai));

        Assert.AreEqual(InternalMessageType.Error, (await ai.NextAsync(TestContext)).Type);
    }

    [TestMethod]
    public async Task QueryZones_AnswersAQueryEntryPerObject_ThenQueryDone_ToTheSender()
    {
        var zone3 = Listen(Channel.ForLocation(Street, 3));
        var zone4 = Listen(Channel.ForLocation(Street, 4));
        var zone5 = Listen(Channel.ForLocation(Street, 5));
        var north = await CreateAsync("north", Street, 3, zone3);
        var south = await CreateAsync("south", Street, 3, zone3);
        var east = await CreateAsync("east", Street, 4, zone4);
        await CreateAsync("elsewhere", Street, 5, zone5);
        var session = Channel.ForSession(new DoId(0, 0x5E5));
        var asker = Listen(session);

        Send(QueryZones(session, 77, Street, 3, 4, 6));

        var answers = new List<Envelope>();
        for (int i = 0; i < 4; i++)
        {
            answers.Add(await asker.NextAsync(TestContext));
        }

        var entries = answers.Take(3).ToList();
        Assert.IsTrue(entries.All(e => e.Type == InternalMessageType.QueryEntry));
        CollectionAssert.AreEquivalent(new[] { north.DoId, south.DoId, east.DoId }, entries.Select(e => e.Subject).ToList());
        foreach (var entry in entries)
        {
            Assert.AreEqual(77u, new WireReader(entry.Payload.Span).ReadUInt32(), "the context comes first");
            var parsed = ObjectEntry.Parse(entry.Payload, 4);
            Assert.AreEqual(Street, parsed.Location.Parent);
        }

        var done = answers[3];
        Assert.AreEqual(InternalMessageType.QueryDone, done.Type);
        Assert.AreEqual(77u, new WireReader(done.Payload.Span).ReadUInt32());
        Assert.AreEqual(4, done.Payload.Length);
    }

    [TestMethod]
    public async Task QueryZones_OfEmptyZones_AnswersOnlyQueryDone()
    {
        var session = Channel.ForSession(new DoId(0, 0x5E6));
        var asker = Listen(session);

        Send(QueryZones(session, 5, Street, 1, 2));

        var done = await asker.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.QueryDone, done.Type);
        Assert.AreEqual(5u, new WireReader(done.Payload.Span).ReadUInt32());
    }

    private static StreetLamp NewLamp(string name, int x = 0, int secret = 0) => new() { Name = name, X = x, Secret = secret };

    private async Task<StreetLamp> CreateAsync(string name, DoId parent, uint zone, Recorder location)
    {
        var lamp = NewLamp(name);
        Send(InternalMessages.CreateObject(lamp, parent, zone, Owner, Ai));
        var enter = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.EnterLocation, enter.Type);
        Assert.AreEqual(lamp.DoId, enter.Subject);
        return lamp;
    }

    /// <summary>
    /// Blocks the State Server's task inside a delivery until the returned handle is disposed, so that messages sent
    /// meanwhile are queued and handled back to back.
    /// </summary>
    private async Task<IAsyncDisposable> HoldStateServerAsync()
    {
        var hold = new Hold();
        var channel = Channel.ForSession(new DoId(0x401D, ++nextContext));
        router.Subscribe(hold, channel);
        Send(QueryZones(channel, nextContext, new DoId(0x401D, 0), 0));
        Assert.IsTrue(await Task.Run(() => hold.Holding.Wait(Timeout)), "the State Server never answered the query");
        return hold;
    }

    private Recorder Listen(Channel channel)
    {
        var recorder = new Recorder(channel.ToString());
        router.Subscribe(recorder, channel);
        return recorder;
    }

    private void Send(Envelope envelope) => router.Publish(envelope, Channel.StateServer);

    /// <summary>
    /// Waits until the State Server has handled everything sent before: it handles messages in order and publishes
    /// synchronously, so once an empty query is answered every earlier publish has been delivered.
    /// </summary>
    private async Task BarrierAsync()
    {
        uint context = ++nextContext;
        var channel = Channel.ForSession(new DoId(0xBA, context));
        var probe = Listen(channel);
        Send(QueryZones(channel, context, new DoId(0xBA, 0), 0));
        var done = await probe.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.QueryDone, done.Type);
        router.UnsubscribeAll(probe);
    }

    private static Envelope QueryZones(Channel sender, uint context, DoId parent, params uint[] zones)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt32(context);
        writer.WriteDoId(parent);
        writer.WriteVarUInt32((uint)zones.Length);
        foreach (uint zone in zones)
        {
            writer.WriteUInt32(zone);
        }

        return new Envelope(InternalMessageType.QueryZones, sender, DoId.Empty, writer.WrittenSpan.ToArray());
    }

    /// <summary>The client frame <c>length: uint32, type: uint16 (SetField), doid, field: uint16, value</c>.</summary>
    private static byte[] SetFieldFrame(StreetLamp lamp, FieldDescriptor field)
    {
        using var writer = new PooledBufferWriter(64);
        int start = writer.BeginFrame(MessageType.SetField);
        writer.WriteDoId(lamp.DoId);
        writer.WriteUInt16((ushort)field.Index);
        field.Encode(lamp, writer);
        writer.EndFrame(start);
        var frame = writer.WrittenSpan.ToArray();
        Assert.AreEqual((ushort)120, BitConverter.ToUInt16(frame, 4), "SetField is client message 120");
        Assert.AreEqual(frame.Length - 4, (int)BitConverter.ToUInt32(frame, 0), "the length counts everything after itself");
        return frame;
    }

    private static MessageType FrameType(ReadOnlySpan<byte> frame)
    {
        var reader = new WireReader(frame);
        reader.ReadUInt32();
        return (MessageType)reader.ReadUInt16();
    }

    private static string ReadString(ReadOnlyMemory<byte> payload) => new WireReader(payload.Span).ReadString();

    /// <summary>A participant that blocks the State Server's task in its first delivery until disposed.</summary>
    private sealed class Hold : IParticipant, IAsyncDisposable
    {
        private readonly ManualResetEventSlim released = new();

        public ManualResetEventSlim Holding { get; } = new();

        public string Name => "hold";

        public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets)
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

    /// <summary>
    /// Records deliveries (on the delivering thread) and lets a test await them one by one: the one recorder of the
    /// Otp tests (State Server, AI take-over, Message Director link, and <see cref="StateServerRig"/>'s tests).
    /// </summary>
    internal sealed class Recorder : IParticipant
    {
        private readonly System.Threading.Channels.Channel<Envelope> queue = System.Threading.Channels.Channel.CreateUnbounded<Envelope>();
        private readonly List<Envelope> received = new();

        public Recorder(string name = "recorder") => Name = name;

        public string Name { get; }

        /// <summary>Everything delivered so far.</summary>
        public List<Envelope> Received
        {
            get
            {
                lock (received)
                {
                    return received.ToList();
                }
            }
        }

        /// <summary>How many deliveries <see cref="NextAsync"/> has not taken yet.</summary>
        public int Unread => queue.Reader.Count;

        public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets)
        {
            lock (received)
            {
                received.Add(envelope);
            }

            queue.Writer.TryWrite(envelope);
        }

        /// <summary>The next delivery not yet taken, if one has arrived.</summary>
        public bool TryNext(out Envelope? envelope) => queue.Reader.TryRead(out envelope);

        /// <summary>The next delivery not yet taken by this method, or a timeout.</summary>
        public Task<Envelope> NextAsync() => NextAsync(CancellationToken.None);

        /// <summary>The next delivery not yet taken by this method, or a timeout.</summary>
        public Task<Envelope> NextAsync(TestContext context) => NextAsync(context.CancellationToken);

        private async Task<Envelope> NextAsync(CancellationToken cancellation)
        {
            try
            {
                return await queue.Reader.ReadAsync(cancellation).AsTask().WaitAsync(Timeout, cancellation);
            }
            catch (TimeoutException)
            {
                throw new AssertFailedException($"{Name}: nothing delivered within {Timeout.TotalSeconds} s");
            }
        }
    }
}
