using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// The State Server's side of an object moving between OTP nodes (StateServer.NodeMove.cs), in process: two State
/// Servers on a <see cref="TwoNodes"/> router that routes as the NATS backplane does (a move's offer to the holder of
/// the new parent, node-addressed messages to that node) and records what each node holds.
/// </summary>
[TestClass]
public sealed partial class StateServerNodeMoveTests
{
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0xA1, 1));
    private static readonly DoId Owner = new(0xAC, 7);
    private static readonly DoId West = new(0x7E57, 1);
    private static readonly DoId East = new(0xEA57, 1);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task AMoveUnderAParentTheOtherNodeHolds_HandsTheObjectAndItsSubtreeOver_AndARequestReachingTheOldNodeIsForwarded()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var squire = new Knight { DoId = new DoId(0x7415, 2), Name = "Squire" };
        await nodes.CreateAsync(a, tristan, West, 1, Owner);
        await nodes.CreateAsync(a, squire, tristan.DoId, 1);
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));
        var owner = nodes.Listen(Channel.ForAccount(Owner));
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));

        // One ChangingLocation, as for a local move, to the old and new location and the owner.
        foreach (var recorder in new[] { westViewers, eastViewers, owner })
        {
            var moved = await recorder.NextAsync(TestContext);
            Assert.AreEqual(InternalMessageType.ChangingLocation, moved.Type);
            Assert.AreEqual(tristan.DoId, moved.Subject);
            Assert.AreEqual(Ai, moved.Sender, "the mover is the sender, as for a local move");
            var reader = new WireReader(moved.Payload.Span);
            Assert.AreEqual(West, reader.ReadDoId());
            Assert.AreEqual(1u, reader.ReadUInt32());
            var entry = ObjectEntry.Parse(moved.Payload, reader.Position);
            Assert.AreEqual(new Location(East, 2), entry.Location);
            Assert.AreEqual(Owner, entry.Owner);
        }

        await nodes.Logs.WaitForLineAsync(new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape($"Offered Knight {tristan.DoId} and 1 object(s) beneath it to the holder of {East}")));
        await nodes.BarrierAsync();
        CollectionAssert.AreEquivalent(new[] { West }, a.Held.ToList(), "the west node let the knight and his squire go");
        CollectionAssert.AreEquivalent(new[] { East, tristan.DoId, squire.DoId }, b.Held.ToList());
        Assert.AreEqual(1, a.Server.ObjectCount);
        Assert.AreEqual(3, b.Server.ObjectCount);

        // The AI still sends to the west node (the way it remembered): forwarded to the east node, applied and relayed
        // there, and the AI's router is told the knight moved.
        tristan.X = 9;
        a.Send(InternalMessages.SetField(tristan, tristan.Model.Fields.Single(f => f.Name == nameof(Knight.X)), Ai));
        var relayed = await eastViewers.NextAsync(TestContext);
        Assert.IsTrue(relayed.Type is InternalMessageType.RelayBroadcast or InternalMessageType.RelayBroadcastBatch, relayed.Type.ToString());
        await nodes.Logs.WaitForLineAsync(new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape($"Forwarded SetField from {Ai} about {tristan.DoId} to OTP node {b.NodeId}, which holds it now")));
        var told = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectHolderMoved, told.Type);
        Assert.AreEqual(tristan.DoId, told.Subject);
        CollectionAssert.AreEqual(DoIdBytes(b.NodeId), told.Payload.ToArray(), "the node that holds it now, not marked as a probe's answer");

        // The squire's zone is answered by the east node.
        var entries = await nodes.QueryAsync(b, tristan.DoId, 1);
        CollectionAssert.AreEqual(new[] { squire.DoId }, entries);
        Assert.AreEqual((0, 2, 0), a.Server.NodeMoveCounts, "the west node keeps a forwarding entry per object");
        Assert.AreEqual((0, 0, 0), b.Server.NodeMoveCounts, "the east node is done taking it");
    }

    [TestMethod]
    public async Task AMovedParent_ArrivesWithEveryChildAndEveryValue_TheNewNodesEntriesMatchTheOldNodes()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var squires = new[] { new Knight { DoId = new DoId(0x7415, 2), Name = "Squire", X = 3 }, new Knight { DoId = new DoId(0x7415, 3), Name = "Page", X = 4 } };
        await nodes.CreateAsync(a, tristan, West, 1, Owner);
        foreach (var squire in squires)
        {
            await nodes.CreateAsync(a, squire, tristan.DoId, 1);
        }

        var before = (await nodes.QueryEntriesAsync(a, West, 1)).Concat(await nodes.QueryEntriesAsync(a, tristan.DoId, 1)).OrderBy(e => e.Subject.ToString()).ToList();
        Assert.HasCount(3, before);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        await nodes.Logs.WaitForLineAsync(new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape($"Offered Knight {tristan.DoId} and 2 object(s) beneath it to the holder of {East}"))).WaitAsync(TestWaits.Cap(TimeSpan.FromSeconds(10)));
        await nodes.BarrierAsync();

        CollectionAssert.AreEquivalent(new[] { East, tristan.DoId, squires[0].DoId, squires[1].DoId }, b.Held.ToList(), "both children came along");
        var after = (await nodes.QueryEntriesAsync(b, East, 2)).Concat(await nodes.QueryEntriesAsync(b, tristan.DoId, 1)).OrderBy(e => e.Subject.ToString()).ToList();
        CollectionAssert.AreEqual(before.Select(e => e.Subject).ToList(), after.Select(e => e.Subject).ToList());
        for (int i = 0; i < before.Count; i++)
        {
            // An enter frame: header, id, class id, parent, zone, owner, count, then the values. Only the place changed.
            const int Values = Frame.HeaderSize + DoId.Size + 4 + DoId.Size + 4 + DoId.Size;
            var old = ObjectEntry.Parse(before[i].Payload, 4);
            var moved = ObjectEntry.Parse(after[i].Payload, 4);
            Assert.AreEqual((old.ClassId, old.Owner), (moved.ClassId, moved.Owner));
            CollectionAssert.AreEqual(old.OwnerFrame.Span[Values..].ToArray(), moved.OwnerFrame.Span[Values..].ToArray(), $"the values of {before[i].Subject} (owner's view)");
            CollectionAssert.AreEqual(old.OtherFrame.Span[Values..].ToArray(), moved.OtherFrame.Span[Values..].ToArray(), $"the values of {before[i].Subject} (everyone's view)");
            Assert.IsGreaterThan(2, old.OwnerFrame.Length - Values, "the entry has values to compare");
        }
    }

    [TestMethod]
    public async Task AMoveTheOtherNodeRefuses_LeavesTheObjectWhereItWas_TheMoverGetsTheRefusal_AndWhatWaitedIsHandledThere()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        await nodes.CreateAsync(a, tristan, West, 1);

        // The east node has an object with the same id: it refuses the move.
        await nodes.CreateAsync(b, new Knight { DoId = tristan.DoId, Name = "Impostor" }, East, 5);
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        tristan.X = 8;
        a.Send(InternalMessages.SetField(tristan, tristan.Model.Fields.Single(f => f.Name == nameof(Knight.X)), Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual($"set location of {tristan.DoId}: Knight {tristan.DoId} already exists on the node of the new parent", new WireReader(error.Payload.Span).ReadString());
        var relayed = await westViewers.NextAsync(TestContext);
        Assert.IsTrue(relayed.Type is InternalMessageType.RelayBroadcast or InternalMessageType.RelayBroadcastBatch, "the set that waited is applied where the knight stayed");
        await nodes.BarrierAsync();
        Assert.IsEmpty(eastViewers.Received);
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.IsTrue(a.Held.Contains(tristan.DoId));
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
    }

    [TestMethod]
    public async Task AMoveUnderAParentNoNodeHolds_TimesOut_AndTheMoverGetsTheRefusalOfALocalMove()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MoveTimeout = TimeSpan.FromMilliseconds(100) });
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        await nodes.CreateAsync(a, tristan, West, 1);
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual($"set location of {tristan.DoId}: parent {East} does not exist (no OTP node holding it answered within 0.1 s)", new WireReader(error.Payload.Span).ReadString());
        await nodes.BarrierAsync();
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
    }

    [TestMethod]
    public async Task AMoveOfMoreObjectsThanMaxMovedObjects_IsRefusedNamingTheSetting_AndNothingMoves_ButOneOfExactlyThatManyMoves()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MaxMovedObjects = 2 });
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        var squire = new Knight { DoId = new DoId(0x7415, 2), Name = "Squire" };
        await nodes.CreateAsync(a, tristan, West, 1);
        await nodes.CreateAsync(a, squire, tristan.DoId, 1);
        await nodes.CreateAsync(a, new Knight { DoId = new DoId(0x7415, 3), Name = "Page" }, squire.DoId, 1);
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual($"set location of {tristan.DoId}: parent {East} is held by another OTP node, and the object moves there with everything beneath it: more than StateServer:MaxMovedObjects (2) objects; move fewer at a time or raise the limit", new WireReader(error.Payload.Span).ReadString());
        await nodes.Logs.WaitForLineAsync(new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape($"State Server: moving Knight {tristan.DoId} under {East} (another OTP node) would carry more than StateServer:MaxMovedObjects (2) objects")));
        await nodes.BarrierAsync();
        Assert.AreEqual(4, a.Server.ObjectCount);
        Assert.AreEqual(1, b.Server.ObjectCount);
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);

        // The squire and his page are two objects: they move.
        a.Send(InternalMessages.SetLocation(squire.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.AreEqual(3, b.Server.ObjectCount);
        Assert.AreEqual(1, ai.Received.Count, "no second refusal");
    }

    [TestMethod]
    public async Task AStoredObjectMoves_OnlyAfterTheOldNodesDatabaseRoleCommittedItsWriteThroughs_SoTheNewNodesWritesComeAfter()
    {
        await using var nodes = new TwoNodes(TestContext, databaseEnabled: true);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var lamp = new OilLamp { DoId = new DoId(0x1A, 1), Name = "lamp", Oil = 3 };
        a.Send(InternalMessages.CreateObject(lamp, West, 1, DoId.Empty, Ai, databaseBacked: true));
        await nodes.BarrierAsync();
        var database = nodes.Listen(Channel.Database);
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));
        var oil = lamp.Model.Fields.Single(f => f.Name == nameof(OilLamp.Oil));

        // A write-through queued on the west node's Database role, then the move: the west node asks its role for a
        // read first (answered after every write before it committed), and offers the lamp only once it is answered.
        lamp.Oil = 4;
        a.Send(InternalMessages.SetField(lamp, oil, Ai));
        a.Send(InternalMessages.SetLocation(lamp.DoId, East, 2, Ai));
        var written = await database.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbSetFields, written.Type);
        var barrier = await database.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbGetAll, barrier.Type);
        Assert.AreEqual(lamp.DoId, barrier.Subject);
        await nodes.BarrierAsync();
        Assert.IsEmpty(eastViewers.Received, "nothing moves before the west node's writes are committed");
        Assert.AreEqual(2, a.Server.ObjectCount);

        using var answer = new PooledBufferWriter(16);
        answer.WriteUInt32(new WireReader(barrier.Payload.Span).ReadUInt32());
        answer.WriteByte((byte)DatabaseStatus.Ok);
        answer.WriteString(string.Empty);
        answer.WriteUInt16(0);
        a.Send(new Envelope(InternalMessageType.DbGetAllResp, Channel.Database, lamp.DoId, answer.WrittenSpan.ToArray()));
        Assert.AreEqual(InternalMessageType.ChangingLocation, (await eastViewers.NextAsync(TestContext)).Type);

        // The east node keeps the lamp's Db field and writes it through from now on.
        lamp.Oil = 5;
        b.Send(InternalMessages.SetField(lamp, oil, Ai));
        var later = await database.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbSetFields, later.Type);
        await nodes.BarrierAsync();
        Assert.AreEqual(2, b.Server.ObjectCount);
    }

    /// <summary>
    /// Two OTP nodes' State Servers on one in-process router for every channel but the State Server's, which each node
    /// keeps to itself; a request to the State Server role goes to the node that holds what it is about (as
    /// NatsMessageRouter.Placement.cs routes it), or, when no node does (a holder subject nobody subscribes), to
    /// <see cref="Unrouted"/>. A third node, <see cref="NodeC"/>, is played by the test: what the two send to it is
    /// recorded in <see cref="ToNodeC"/>, and the test sends its messages by hand.
    /// </summary>
    private sealed class TwoNodes : IAsyncDisposable
    {
        private readonly TestContext context;
        private uint nextQuery = 0xC000;

        public TwoNodes(TestContext context, StateServerOptions? options = null, bool databaseEnabled = false)
        {
            this.context = context;
            A = new Node(this, new DoId(0x40DE, 0xA), options, databaseEnabled);
            B = new Node(this, new DoId(0x40DE, 0xB), options, databaseEnabled);
        }

        /// <summary>The node the test plays.</summary>
        public static DoId NodeC { get; } = new(0x40DE, 0xC);

        public InProcessRouter Shared { get; } = new();

        /// <summary>Every line both State Servers logged (Debug and above: some paths say what they did only there).</summary>
        public LogCapture Logs { get; } = new(Microsoft.Extensions.Logging.LogLevel.Debug);

        /// <summary>Requests to the State Server role about what neither node holds (an offer to the test's node, say).</summary>
        public StateServerTests.Recorder Unrouted { get; } = new("unrouted");

        /// <summary>What the two nodes sent to <see cref="NodeC"/>'s placement subject.</summary>
        public StateServerTests.Recorder ToNodeC { get; } = new("node-c");

        public Node A { get; }

        public Node B { get; }

        public StateServerTests.Recorder Listen(Channel channel)
        {
            var recorder = new StateServerTests.Recorder(channel.ToString());
            Shared.Subscribe(recorder, channel);
            return recorder;
        }

        public async Task CreateAsync(Node node, DistributedObject obj, DoId parent, uint zone, DoId owner = default)
        {
            node.Send(InternalMessages.CreateObject(obj, parent, zone, owner, Ai));
            await BarrierAsync();
        }

        /// <summary>The two realms most tests move between: <see cref="West"/> held by node A, <see cref="East"/> by node B.</summary>
        public async Task CreateRealmsAsync()
        {
            await CreateAsync(A, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
            await CreateAsync(B, new Realm { DoId = East, Title = "east" }, DoId.Empty, 0);
        }

        /// <summary>Waits until both nodes handled everything sent before (twice: a move's messages go back and forth).</summary>
        public async Task BarrierAsync()
        {
            for (int round = 0; round < 3; round++)
            {
                await QueryAsync(A, new DoId(0xBA, 0), 0);
                await QueryAsync(B, new DoId(0xBA, 0), 0);
            }
        }

        /// <summary>The ids a zone query of <paramref name="node"/> answers.</summary>
        public async Task<List<DoId>> QueryAsync(Node node, DoId parent, uint zone) =>
            (await QueryEntriesAsync(node, parent, zone)).Select(e => e.Subject).ToList();

        /// <summary>The entries (<see cref="InternalMessageType.QueryEntry"/>: context, then the object's entry) a zone query of <paramref name="node"/> answers.</summary>
        public async Task<List<Envelope>> QueryEntriesAsync(Node node, DoId parent, uint zone)
        {
            uint query = ++nextQuery;
            var channel = Channel.ForSession(new DoId(0xBA, query));
            var probe = Listen(channel);
            using var writer = new PooledBufferWriter(32);
            writer.WriteUInt32(query);
            writer.WriteDoId(parent);
            writer.WriteVarUInt32(1);
            writer.WriteUInt32(zone);
            node.Send(new Envelope(InternalMessageType.QueryZones, channel, DoId.Empty, writer.WrittenSpan.ToArray()));
            var entries = new List<Envelope>();
            while (true)
            {
                var answer = await probe.NextAsync(context);
                if (answer.Type == InternalMessageType.QueryDone)
                {
                    Shared.UnsubscribeAll(probe);
                    return entries;
                }

                entries.Add(answer);
            }
        }

        public void RouteToStateServer(Node from, Envelope envelope)
        {
            var key = envelope.Type == InternalMessageType.ObjectMoveOffer ? DoId.Read(envelope.Payload.Span) : envelope.Subject;
            var to = A.Held.Contains(key) ? A : B.Held.Contains(key) ? B : null;
            if (to is null)
            {
                Unrouted.Deliver(envelope, []);
                return;
            }

            to.Deliver(envelope);
        }

        public void SendToNode(DoId node, Envelope envelope)
        {
            if (node == A.NodeId || node == B.NodeId)
            {
                (node == A.NodeId ? A : B).Deliver(envelope);
                return;
            }

            Assert.AreEqual(NodeC, node, "a node-addressed message goes to one of the three nodes");
            ToNodeC.Deliver(envelope, []);
        }

        public async ValueTask DisposeAsync()
        {
            await A.Server.DisposeAsync();
            await B.Server.DisposeAsync();
        }
    }

    /// <summary>One OTP node: its State Server and the placement seam it sees.</summary>
    private sealed class Node : IPlacementRouter
    {
        private readonly TwoNodes world;
        private readonly HashSet<DoId> held = new();
        private IParticipant? stateServer;

        public Node(TwoNodes world, DoId id, StateServerOptions? options, bool databaseEnabled)
        {
            this.world = world;
            NodeId = id;
            Server = new StateServer(this, Deployment.Registry, world.Logs.CreateLogger("state-server"), databaseEnabled, options);
            Server.Start();
        }

        public StateServer Server { get; }

        public DoId NodeId { get; }

        /// <summary>What this node's State Server holds now.</summary>
        public HashSet<DoId> Held
        {
            get
            {
                lock (held)
                {
                    return held.ToHashSet();
                }
            }
        }

        public void Send(Envelope envelope) => Deliver(envelope);

        public void Deliver(Envelope envelope) => stateServer!.Deliver(envelope, [Channel.StateServer]);

        public void Hold(DoId id)
        {
            lock (held)
            {
                held.Add(id);
            }
        }

        public void Release(DoId id)
        {
            lock (held)
            {
                held.Remove(id);
            }
        }

        public void SendToNode(DoId node, Envelope envelope) => world.SendToNode(node, envelope);

        public void Subscribe(IParticipant participant, Channel channel)
        {
            if (channel == Channel.StateServer)
            {
                stateServer = participant;
                return;
            }

            world.Shared.Subscribe(participant, channel);
        }

        public void Unsubscribe(IParticipant participant, Channel channel) => world.Shared.Unsubscribe(participant, channel);

        public void SubscribeRange(IParticipant participant, DoId parent, uint low, uint high) => world.Shared.SubscribeRange(participant, parent, low, high);

        public void UnsubscribeRange(IParticipant participant, DoId parent, uint low, uint high) => world.Shared.UnsubscribeRange(participant, parent, low, high);

        public void UnsubscribeAll(IParticipant participant) => world.Shared.UnsubscribeAll(participant);

        public void Publish(Envelope envelope, Channel target) => Publish(envelope, new ReadOnlySpan<Channel>(in target));

        public void Publish(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (targets.Length == 1 && targets[0] == Channel.StateServer)
            {
                world.RouteToStateServer(this, envelope);
                return;
            }

            world.Shared.Publish(envelope, targets);
        }
    }
}
