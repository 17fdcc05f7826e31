using System.Collections.Concurrent;
using Pastry.Messaging;
using Pastry.Nats;

namespace Pastry.Tests.Nats;

/// <summary>
/// <see cref="NatsMessageRouter"/> over a real nats-server: two routers are two processes (each its own connection),
/// and what <see cref="IMessageRouter"/> promises (ARCHITECTURE 4) holds across them.
/// </summary>
[TestClass]
public sealed class NatsMessageRouterTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));
    private static readonly DoId Parent = DoId.NewId();

    [TestMethod]
    public async Task APublish_ReachesSubscribersInBothProcesses_OnceEach_EvenWhenTheyMatchSeveralTargets()
    {
        await using var nats = await NatsServer.StartAsync();
        await using var a = await RouterAsync(nats);
        await using var b = await RouterAsync(nats);
        var local = new Recorder("local");
        var remote = new Recorder("remote");
        var ranged = new Recorder("ranged");
        var target1 = Channel.ForObject(DoId.NewId());
        var target2 = Channel.ForLocation(Parent, 7);
        a.Subscribe(local, target1);
        b.Subscribe(remote, target1);
        b.Subscribe(remote, target2);
        b.SubscribeRange(ranged, Parent, 0, 10);
        b.SubscribeRange(ranged, Parent, 5, 600);
        await b.FlushAsync();

        var message = Envelope(1);
        a.Publish(message, [target1, target2, target2]);
        var seen = await remote.NextAsync();
        var seenByRange = await ranged.NextAsync();
        var seenLocally = await local.NextAsync();

        Assert.AreSame(message, seenLocally.Envelope, "In the publisher's process the same envelope reaches its participants.");
        Assert.AreEqual(message.Subject, seen.Envelope.Subject);
        CollectionAssert.AreEqual(new[] { target1, target2, target2 }, seen.Targets, "The full target list travels with the message.");
        Assert.AreEqual(message.Subject, seenByRange.Envelope.Subject);

        // Nothing more arrives: a marker published after it is the next thing each of them sees.
        var marker = Envelope(2);
        a.Publish(marker, [target1, target2]);
        Assert.AreEqual(marker.Subject, (await remote.NextAsync()).Envelope.Subject, "remote got the first message twice");
        Assert.AreEqual(marker.Subject, (await ranged.NextAsync()).Envelope.Subject, "ranged got the first message twice");
        Assert.AreEqual(marker.Subject, (await local.NextAsync()).Envelope.Subject, "local got the first message twice");
    }

    [TestMethod]
    public async Task ZoneRanges_HearOnlyTheirZones_ThroughShardWildcards_OrTheWholeParent()
    {
        await using var nats = await NatsServer.StartAsync();
        await using var a = await RouterAsync(nats);
        await using var b = await RouterAsync(nats);
        var block = new Recorder("block");
        var everything = new Recorder("everything");
        b.SubscribeRange(block, Parent, 300, 520);                 // shards 1 and 2
        b.SubscribeRange(everything, Parent, 0, uint.MaxValue);    // the whole parent
        await b.FlushAsync();

        foreach (uint zone in new uint[] { 299, 300, 520, 521, 100_000 })
        {
            a.Publish(Envelope(zone), Channel.ForLocation(Parent, zone));
        }

        a.Publish(Envelope(999), Channel.ForLocation(DoId.NewId(), 300));
        var marker = Envelope(7777);
        a.Publish(marker, [Channel.ForLocation(Parent, 400), Channel.ForLocation(Parent, 500)]);

        CollectionAssert.AreEqual(new[] { 300UL, 520UL, 7777UL }, await block.SubjectsUntilAsync(7777));
        CollectionAssert.AreEqual(new[] { 299UL, 300UL, 520UL, 521UL, 100_000UL, 7777UL }, await everything.SubjectsUntilAsync(7777));

        // Unsubscribed, the range hears nothing more; the other still does.
        b.UnsubscribeRange(block, Parent, 300, 520);
        await b.FlushAsync();
        a.Publish(Envelope(301), Channel.ForLocation(Parent, 301));
        CollectionAssert.AreEqual(new[] { 301UL }, await everything.SubjectsUntilAsync(301));
        Assert.AreEqual(0, block.Count);
    }

    [TestMethod]
    public async Task MessagesOfOneProcess_ArriveInTheOrderTheyWerePublished_AcrossChannels_AndASubscribeIsOnTheWireBeforeLaterPublishes()
    {
        await using var nats = await NatsServer.StartAsync();
        await using var a = await RouterAsync(nats);
        await using var b = await RouterAsync(nats);
        var receiver = new Recorder("receiver");
        var channels = Enumerable.Range(0, 5).Select(_ => Channel.ForObject(DoId.NewId())).ToArray();
        foreach (var channel in channels)
        {
            b.Subscribe(receiver, channel);
        }

        await b.FlushAsync();
        const int count = 2000;
        for (int i = 0; i < count; i++)
        {
            a.Publish(Envelope((ulong)i), channels[i % channels.Length]);
        }

        var order = await receiver.SubjectsUntilAsync(count - 1);
        CollectionAssert.AreEqual(Enumerable.Range(0, count).Select(i => (ulong)i).ToArray(), order);

        // Request and reply: b subscribes its reply channel and publishes the request at once; a answers on delivery.
        var replies = new Recorder("replies");
        var requests = new Responder(a, Channel.ForObject(DoId.NewId()));
        a.Subscribe(requests, requests.Inbox);
        await a.FlushAsync();
        var replyTo = Channel.ForParticipant(DoId.NewId());
        b.Subscribe(replies, replyTo);
        b.Publish(new Envelope(InternalMessageType.QueryZones, replyTo, DoId.Empty, Array.Empty<byte>()), requests.Inbox);
        Assert.AreEqual(InternalMessageType.QueryDone, (await replies.NextAsync()).Envelope.Type);
    }

    [TestMethod]
    public async Task AKeeper_RoutesTheCleanupOfAProcessThatStopsSendingHeartbeats_AndAtOnceOnGoodbye()
    {
        await using var nats = await NatsServer.StartAsync();
        var options = FastHeartbeatOptions(nats);
        await using var otp = new NatsMessageRouter(options, keeper: true);
        using var keeper = new PostRemoveKeeper(otp);
        await otp.StartAsync();
        var stateServer = new Recorder("state server");
        otp.Subscribe(stateServer, Channel.StateServer);
        await otp.FlushAsync();

        // A goodbye routes at once.
        var polite = new NatsMessageRouter(options);
        await polite.StartAsync();
        var politeAi = Channel.ForParticipant(DoId.NewId());
        polite.AddPostRemove(InternalMessages.DeleteAiObjects(politeAi), Channel.StateServer);
        await polite.DisposeAsync();
        var cleanup = await stateServer.NextAsync();
        Assert.AreEqual(InternalMessageType.DeleteAiObjects, cleanup.Envelope.Type);
        Assert.AreEqual(politeAi, cleanup.Envelope.Sender);

        // Silence routes after the timeout: this process stops its heartbeats without a goodbye (as a killed one does).
        var silent = new NatsMessageRouter(options);
        await silent.StartAsync();
        var silentAi = Channel.ForParticipant(DoId.NewId());
        silent.AddPostRemove(InternalMessages.DeleteAiObjects(silentAi), Channel.StateServer);
        silent.ClearPostRemoves();
        silent.AddPostRemove(InternalMessages.DeleteAiObjects(silentAi), Channel.StateServer);
        await silent.FlushAsync();
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        silent.PostRemovesRan += (_, _) => ran.TrySetResult();
        silent.SuspendHeartbeats();
        var expired = await stateServer.NextAsync();
        Assert.AreEqual(InternalMessageType.DeleteAiObjects, expired.Envelope.Type);
        Assert.AreEqual(silentAi, expired.Envelope.Sender);
        Assert.AreEqual(2L, keeper.Routed, "One post-remove each: the cleared one is gone.");

        // It lived on: it is told, registers again, and its next death routes them again.
        await ran.Task.WaitAsync(Timeout);
        silent.ResumeHeartbeats();
        await silent.FlushAsync();
        await silent.DisposeAsync();
        Assert.AreEqual(silentAi, (await stateServer.NextAsync()).Envelope.Sender);
    }

    [TestMethod]
    public async Task AnOtpNodesOwnedPostRemoves_RunOnTheOtherKeeperWhenItGoesSilent_ExceptThoseRemoved_AndAClearLeavesThem()
    {
        await using var nats = await NatsServer.StartAsync();
        var options = FastHeartbeatOptions(nats);
        await using var survivor = new NatsMessageRouter(options, keeper: true);
        using var keeper = new PostRemoveKeeper(survivor);
        await survivor.StartAsync();
        var events = new Recorder("session events");
        survivor.Subscribe(events, Channel.SessionEvents);
        await survivor.FlushAsync();

        // Three sessions of another OTP node log in; one closes cleanly, one logs in again (replaced, not doubled),
        // and the node's own (unowned) post-removes are cleared, which leaves the sessions'.
        await using var dying = new NatsMessageRouter(options, keeper: true);
        await dying.StartAsync();
        Channel[] sessions = [new(ChannelKind.Participant, DoId.NewId(), 0), new(ChannelKind.Participant, DoId.NewId(), 0), new(ChannelKind.Participant, DoId.NewId(), 0)];
        DoId[] accounts = [DoId.NewId(), DoId.NewId(), DoId.NewId()];
        for (int i = 0; i < 3; i++)
        {
            dying.AddOwnedPostRemove(new Envelope(InternalMessageType.SessionClosed, sessions[i], accounts[i], Array.Empty<byte>()), Channel.SessionEvents);
        }

        dying.RemoveOwnedPostRemove(sessions[1]);
        dying.RemoveOwnedPostRemove(sessions[1]);
        dying.AddOwnedPostRemove(new Envelope(InternalMessageType.SessionClosed, sessions[2], accounts[2], Array.Empty<byte>()), Channel.SessionEvents);
        dying.ClearPostRemoves();
        await dying.FlushAsync();
        dying.SuspendHeartbeats();

        var closed = new[] { (await events.NextAsync()).Envelope, (await events.NextAsync()).Envelope };
        Assert.IsTrue(closed.All(e => e.Type == InternalMessageType.SessionClosed));
        CollectionAssert.AreEquivalent(new[] { accounts[0], accounts[2] }, closed.Select(e => e.Subject).ToArray());
        CollectionAssert.AreEquivalent(new[] { sessions[0], sessions[2] }, closed.Select(e => e.Sender).ToArray());
        await TestWaits.UntilAsync(() => keeper.Routed >= 2, () => "the keeper counts what it routed", Timeout);
        Assert.AreEqual(2L, keeper.Routed, "The session that closed cleanly is not closed again; the one that logged in again runs once.");
        Assert.AreEqual(0, events.Count);
    }

    [TestMethod]
    public async Task AnAiProcess_WaitsForAReadyOtp_AndRestoresItsObjects_WhenTheOtpIsReplaced()
    {
        await using var nats = await NatsServer.StartAsync();
        var options = FastHeartbeatOptions(nats);

        // The AI process comes first: nothing to wait for yet.
        await using var ai = new NatsMessageRouter(options);
        await ai.StartAsync();
        var restored = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        ai.PostRemovesRan += (_, _) => restored.Writer.TryWrite(true);
        var waiting = ai.WaitForKeeperAsync();
        Assert.IsFalse(ai.HasLiveKeeper);

        // An OTP that is connected but has not said its roles are subscribed does not count: its State Server may not listen yet.
        var first = new NatsMessageRouter(options, keeper: true);
        await first.StartAsync();
        await first.FlushAsync();
        var notReady = await Task.WhenAny(waiting, Task.Delay(options.HeartbeatInterval * 4));
        Assert.AreNotSame(waiting, notReady, "An OTP that is not ready must not release the AI.");
        first.AnnounceReady();
        await waiting.WaitAsync(Timeout);
        Assert.IsTrue(ai.HasLiveKeeper);
        Assert.AreEqual(0, restored.Reader.Count, "The first OTP held nothing of the AI's: nothing to restore.");

        // A clean restart: the goodbye alone restores nothing (no OTP to create in), the new OTP's first ready heartbeat does.
        await first.DisposeAsync();
        await using var second = new NatsMessageRouter(options, keeper: true);
        await second.StartAsync();
        second.AnnounceReady();
        Assert.IsTrue(await restored.Reader.ReadAsync().AsTask().WaitAsync(Timeout));

        // A kill: the OTP goes silent, and a third one comes; the AI restores once the silent one has timed out.
        await using var third = new NatsMessageRouter(options, keeper: true);
        await third.StartAsync();
        third.AnnounceReady();
        await third.FlushAsync();
        second.SuspendHeartbeats();
        Assert.IsTrue(await restored.Reader.ReadAsync().AsTask().WaitAsync(Timeout));
        Assert.AreEqual(0, restored.Reader.Count, "Once per lost OTP.");
    }

    [TestMethod]
    public async Task EveryProcess_SeesTheSameReadyOtpNodes_AndPlacesAKeyOnTheSameNode_ThroughAJoinAndALeave()
    {
        await using var nats = await NatsServer.StartAsync();
        var options = FastHeartbeatOptions(nats);
        await using var ai = new NatsMessageRouter(options);
        await ai.StartAsync();
        await using var a = new NatsMessageRouter(options, keeper: true);
        await a.StartAsync();
        Assert.AreEqual(0, a.LiveOtpNodes.Length, "A keeper whose roles are not subscribed yet is not a placement node, not even for itself.");
        a.AnnounceReady();
        await ai.WaitForKeeperAsync().WaitAsync(Timeout);
        CollectionAssert.AreEqual(new[] { a.NodeId }, a.LiveOtpNodes);
        CollectionAssert.AreEqual(new[] { a.NodeId }, ai.LiveOtpNodes);

        // A second OTP node joins: every process sees both, in the same order, and maps every key to the same node.
        var b = new NatsMessageRouter(options, keeper: true);
        await b.StartAsync();
        b.AnnounceReady();
        var both = new[] { a.NodeId, b.NodeId }.Order().ToArray();
        await TestWaits.UntilAsync(() => ai.LiveOtpNodes.SequenceEqual(both) && a.LiveOtpNodes.SequenceEqual(both) && b.LiveOtpNodes.SequenceEqual(both), () => "every process sees both OTP nodes", Timeout);
        var keys = Enumerable.Range(0, 200).Select(_ => DoId.NewId()).ToArray();
        var placed = keys.Select(ai.OtpNodeFor).ToArray();
        CollectionAssert.AreEqual(placed, keys.Select(a.OtpNodeFor).ToArray());
        CollectionAssert.AreEqual(placed, keys.Select(b.OtpNodeFor).ToArray());
        Assert.IsTrue(placed.Contains(a.NodeId) && placed.Contains(b.NodeId), "200 keys over two nodes use both.");

        // b leaves (goodbye): its keys go to a, and a's keys stay.
        await b.DisposeAsync();
        await TestWaits.UntilAsync(() => ai.LiveOtpNodes.Length == 1 && a.LiveOtpNodes.Length == 1, () => "b's goodbye is heard", Timeout);
        Assert.IsTrue(keys.All(key => ai.OtpNodeFor(key) == a.NodeId));
    }

    /// <summary>
    /// A take-over is asked of every OTP node and each answers with its entries and a done, as a claim: the asker's router
    /// passes every node's entries and only the last done, also when the nodes answer long after the request (they answer
    /// once the old AI stopped); when a node never answers, the asker gets a done twice the node timeout after the first.
    /// </summary>
    [TestMethod]
    public async Task ATakeOverAnsweredByEveryNode_ReachesTheAskerWithEveryEntryAndOneDone_HoweverLateTheNodesAnswer()
    {
        await using var nats = await NatsServer.StartAsync();
        var options = FastHeartbeatOptions(nats);
        await using var asker = new NatsMessageRouter(options);
        await asker.StartAsync();
        await using var a = new NatsMessageRouter(options, keeper: true);
        await a.StartAsync();
        await using var b = new NatsMessageRouter(options, keeper: true);
        await b.StartAsync();
        var (aStateServer, bStateServer, newAi) = (new Recorder("a's State Server"), new Recorder("b's State Server"), new Recorder("the new AI"));
        a.Subscribe(aStateServer, Channel.StateServer);
        b.Subscribe(bStateServer, Channel.StateServer);
        a.AnnounceReady();
        b.AnnounceReady();
        var ai = new Channel(ChannelKind.Participant, DoId.NewId(), 0);
        asker.Subscribe(newAi, ai);
        await asker.FlushAsync();
        await TestWaits.UntilAsync(() => asker.LiveOtpNodes.Length == 2, () => "the asker sees both OTP nodes", Timeout);

        // 1. Both nodes answer three node timeouts after the request (an old AI that took its time to stop).
        asker.Publish(new Envelope(InternalMessageType.TakeOverAi, ai, DoId.Empty, BitConverter.GetBytes(1u)), Channel.StateServer);
        await aStateServer.NextAsync();
        await bStateServer.NextAsync();
        var since = System.Diagnostics.Stopwatch.StartNew();
        while (since.Elapsed < options.NodeTimeout * 3)
        {
            await Task.Delay(options.HeartbeatInterval); // time must pass here: the asker's heartbeat timer checks the gather meanwhile
        }

        Answer(a, ai, 1, entry: 1);
        Assert.AreEqual((InternalMessageType.ClaimedAiObject, 1ul), Seen(await newAi.NextAsync()));
        Answer(b, ai, 1, entry: 2);
        Assert.AreEqual((InternalMessageType.ClaimedAiObject, 2ul), Seen(await newAi.NextAsync()));
        Assert.AreEqual((InternalMessageType.QueryDone, 0ul), Seen(await newAi.NextAsync()), "One done, after every node's entries.");
        b.Publish(new Envelope(InternalMessageType.ClaimedAiObject, Channel.StateServer, new DoId(0, 3), BitConverter.GetBytes(1u)), ai);
        Assert.AreEqual((InternalMessageType.ClaimedAiObject, 3ul), Seen(await newAi.NextAsync()), "Only one done reached the asker.");

        // 2. Node b never answers: the asker gets a's entry, then a done twice the node timeout after a's answer.
        asker.Publish(new Envelope(InternalMessageType.TakeOverAi, ai, DoId.Empty, BitConverter.GetBytes(2u)), Channel.StateServer);
        await aStateServer.NextAsync();
        await bStateServer.NextAsync();
        Answer(a, ai, 2, entry: 4);
        Assert.AreEqual((InternalMessageType.ClaimedAiObject, 4ul), Seen(await newAi.NextAsync()));
        Assert.AreEqual((InternalMessageType.QueryDone, 0ul), Seen(await newAi.NextAsync()), "The done of the node that answered, once the other is given up.");

        static void Answer(NatsMessageRouter node, Channel ai, uint context, ulong entry)
        {
            node.Publish(new Envelope(InternalMessageType.ClaimedAiObject, Channel.StateServer, new DoId(0, entry), BitConverter.GetBytes(context)), ai);
            node.Publish(new Envelope(InternalMessageType.QueryDone, Channel.StateServer, DoId.Empty, BitConverter.GetBytes(context)), ai);
        }

        static (InternalMessageType Type, ulong Entry) Seen((Envelope Envelope, Channel[] Targets) received) => (received.Envelope.Type, received.Envelope.Subject.Low);
    }

    private static NatsBackplaneOptions Options(NatsServer nats) => new() { Url = nats.Url, SubjectPrefix = "t" + Guid.NewGuid().ToString("N")[..12] };

    /// <summary>Options whose heartbeats (100 ms) and node timeout (600 ms) let a test see a silent node go within a second.</summary>
    private static NatsBackplaneOptions FastHeartbeatOptions(NatsServer nats)
    {
        var options = Options(nats);
        options.HeartbeatInterval = TimeSpan.FromMilliseconds(100);
        options.NodeTimeout = TimeSpan.FromMilliseconds(600);
        return options;
    }

    private static async Task<NatsMessageRouter> RouterAsync(NatsServer nats, NatsBackplaneOptions? options = null)
    {
        var router = new NatsMessageRouter(options ?? new NatsBackplaneOptions { Url = nats.Url, SubjectPrefix = "router-tests" });
        await router.StartAsync();
        return router;
    }

    /// <summary>An envelope whose subject's low half is <paramref name="mark"/>, to recognise it on arrival.</summary>
    private static Envelope Envelope(ulong mark) => new(InternalMessageType.SetField, default, new DoId(0, mark), new byte[] { 1, 2, 3 });

    private sealed class Recorder(string name) : IParticipant
    {
        private readonly System.Threading.Channels.Channel<(Envelope, Channel[])> inbox = System.Threading.Channels.Channel.CreateUnbounded<(Envelope, Channel[])>();

        public string Name => name;

        public int Count => inbox.Reader.Count;

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets) => inbox.Writer.TryWrite((envelope, targets.ToArray()));

        public async Task<(Envelope Envelope, Channel[] Targets)> NextAsync()
        {
            try
            {
                return await inbox.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
            }
            catch (TimeoutException)
            {
                throw new AssertFailedException($"{name} received nothing within {Timeout}.");
            }
        }

        /// <summary>The marks of what arrives, up to and with <paramref name="last"/>.</summary>
        public async Task<ulong[]> SubjectsUntilAsync(ulong last)
        {
            var marks = new List<ulong>();
            while (true)
            {
                var (envelope, _) = await NextAsync();
                marks.Add(envelope.Subject.Low);
                if (envelope.Subject.Low == last)
                {
                    return marks.ToArray();
                }
            }
        }
    }

    /// <summary>Answers every request with a <see cref="InternalMessageType.QueryDone"/> to its sender, from inside Deliver.</summary>
    private sealed class Responder(IMessageRouter router, Channel inbox) : IParticipant
    {
        public Channel Inbox => inbox;

        public string Name => "responder";

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets) =>
            router.Publish(new Envelope(InternalMessageType.QueryDone, inbox, DoId.Empty, Array.Empty<byte>()), envelope.Sender);
    }
}
