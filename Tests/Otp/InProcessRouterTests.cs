using Pastry.Messaging;
using Pastry.Otp.MessageDirector;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class InProcessRouterTests
{
    private static readonly DoId Town = new(0, 20);
    private static readonly DoId Forest = new(0, 21);
    private static readonly Channel Alpha = Channel.ForObject(new DoId(0, 1));
    private static readonly Channel Beta = Channel.ForObject(new DoId(0, 2));
    private static readonly Channel Gamma = Channel.ForObject(new DoId(0, 3));

    private readonly InProcessRouter router = new();

    [TestMethod]
    public void Publish_DeliversTheSameEnvelopeToEverySubscriberOfTheChannel()
    {
        var first = new Recorder("first");
        var second = new Recorder("second");
        var other = new Recorder("other");
        router.Subscribe(first, Alpha);
        router.Subscribe(second, Alpha);
        router.Subscribe(other, Beta);
        var envelope = NewEnvelope();

        router.Publish(envelope, Alpha);

        Assert.AreSame(envelope, first.Received.Single());
        Assert.AreSame(envelope, second.Received.Single());
        Assert.IsEmpty(other.Received);
    }

    [TestMethod]
    public void Publish_ToAChannelWithoutSubscribers_DoesNothing()
    {
        router.Publish(NewEnvelope(), Alpha);
        router.Publish(NewEnvelope(), new[] { Alpha, Beta });

        Assert.AreEqual(0, router.ChannelCount);
    }

    [TestMethod]
    public void Unsubscribe_StopsDelivery_AndForgetsTheEmptyChannel()
    {
        var recorder = new Recorder("r");
        router.Subscribe(recorder, Alpha);
        router.Publish(NewEnvelope(), Alpha);

        router.Unsubscribe(recorder, Alpha);
        router.Publish(NewEnvelope(), Alpha);

        Assert.HasCount(1, recorder.Received);
        Assert.AreEqual(0, router.ChannelCount);
    }

    [TestMethod]
    public void Unsubscribe_OneOfSeveral_KeepsTheOthers()
    {
        var first = new Recorder("first");
        var second = new Recorder("second");
        var third = new Recorder("third");
        router.Subscribe(first, Alpha);
        router.Subscribe(second, Alpha);
        router.Subscribe(third, Alpha);

        router.Unsubscribe(second, Alpha);
        router.Publish(NewEnvelope(), Alpha);

        Assert.HasCount(1, first.Received);
        Assert.IsEmpty(second.Received);
        Assert.HasCount(1, third.Received);
    }

    [TestMethod]
    public void Unsubscribe_WhenNotSubscribed_IsHarmless()
    {
        var recorder = new Recorder("r");
        var other = new Recorder("other");
        router.Subscribe(other, Alpha);

        router.Unsubscribe(recorder, Alpha);
        router.Unsubscribe(recorder, Beta);
        router.Publish(NewEnvelope(), Alpha);

        Assert.HasCount(1, other.Received);
        Assert.AreEqual(1, router.ChannelCount);
    }

    [TestMethod]
    public void Subscribe_Twice_IsTheSameAsOnce()
    {
        var recorder = new Recorder("r");
        router.Subscribe(recorder, Alpha);
        router.Subscribe(recorder, Alpha);

        router.Publish(NewEnvelope(), Alpha);
        Assert.HasCount(1, recorder.Received);

        router.Unsubscribe(recorder, Alpha);
        router.Publish(NewEnvelope(), Alpha);
        Assert.HasCount(1, recorder.Received, "one Unsubscribe undoes both Subscribes");
    }

    [TestMethod]
    public void SubscribeRange_DeliversOnlyForZonesInsideTheInclusiveRange()
    {
        var recorder = new Recorder("r");
        router.SubscribeRange(recorder, Town, 10, 20);

        foreach (uint zone in new uint[] { 9, 10, 15, 20, 21 })
        {
            router.Publish(NewEnvelope(zone), Channel.ForLocation(Town, zone));
        }

        CollectionAssert.AreEqual(new uint[] { 10, 15, 20 }, recorder.Received.Select(ZoneOf).ToList());
    }

    [TestMethod]
    public void SubscribeRange_DeliversOnlyForLocationChannelsOfThatParent()
    {
        var recorder = new Recorder("r");
        router.SubscribeRange(recorder, Town, 0, uint.MaxValue);

        router.Publish(NewEnvelope(), Channel.ForLocation(Forest, 5));
        router.Publish(NewEnvelope(), Channel.ForObject(Town));
        router.Publish(NewEnvelope(), new Channel(ChannelKind.Session, Town, 5));
        router.Publish(NewEnvelope(), new[] { Channel.ForObject(Town), Channel.ForLocation(Forest, 5) });
        Assert.IsEmpty(recorder.Received);

        router.Publish(NewEnvelope(), Channel.ForLocation(Town, 5));
        Assert.HasCount(1, recorder.Received);
    }

    [TestMethod]
    public void SubscribeRange_WithLowAboveHigh_Throws()
    {
        Assert.ThrowsExactly<ArgumentException>(() => router.SubscribeRange(new Recorder("r"), Town, 5, 4));
    }

    [TestMethod]
    public void UnsubscribeRange_StopsDelivery_OnlyForThoseExactBounds()
    {
        var recorder = new Recorder("r");
        router.SubscribeRange(recorder, Town, 1, 5);
        router.SubscribeRange(recorder, Town, 10, 20);

        router.UnsubscribeRange(recorder, Town, 1, 4);
        router.UnsubscribeRange(recorder, Town, 10, 20);
        router.Publish(NewEnvelope(3), Channel.ForLocation(Town, 3));
        router.Publish(NewEnvelope(15), Channel.ForLocation(Town, 15));

        CollectionAssert.AreEqual(new uint[] { 3 }, recorder.Received.Select(ZoneOf).ToList());
    }

    [TestMethod]
    public void Publish_ToAChannelAndAnOverlappingRange_DeliversOnce()
    {
        var recorder = new Recorder("r");
        router.Subscribe(recorder, Channel.ForLocation(Town, 5));
        router.SubscribeRange(recorder, Town, 0, 10);

        router.Publish(NewEnvelope(), Channel.ForLocation(Town, 5));

        Assert.HasCount(1, recorder.Received);
    }

    [TestMethod]
    public void Publish_ToOneLocationInTwoOverlappingRangesOfOneParticipant_DeliversOnce()
    {
        var recorder = new Recorder("r");
        var other = new Recorder("other");
        router.SubscribeRange(recorder, Town, 0, 10);
        router.SubscribeRange(recorder, Town, 5, 15);
        router.SubscribeRange(other, Town, 5, 5);

        router.Publish(NewEnvelope(), Channel.ForLocation(Town, 7));
        Assert.HasCount(1, recorder.Received, "single target");
        Assert.IsEmpty(other.Received);

        router.Publish(NewEnvelope(), new[] { Channel.ForLocation(Town, 5) });
        Assert.HasCount(2, recorder.Received, "one-element span");
        Assert.HasCount(1, other.Received);
    }

    [TestMethod]
    public void Publish_ToSeveralTargets_DeliversOncePerParticipant_AcrossChannelsAndRanges()
    {
        var everywhere = new Recorder("everywhere");
        var onlyBeta = new Recorder("onlyBeta");
        var onlyRange = new Recorder("onlyRange");
        var nowhere = new Recorder("nowhere");
        router.Subscribe(everywhere, Alpha);
        router.Subscribe(everywhere, Beta);
        router.Subscribe(everywhere, Channel.ForLocation(Town, 3));
        router.SubscribeRange(everywhere, Town, 0, 10);
        router.Subscribe(onlyBeta, Beta);
        router.SubscribeRange(onlyRange, Town, 1, 4);
        router.SubscribeRange(onlyRange, Town, 2, 8);
        router.Subscribe(nowhere, Gamma);
        var envelope = NewEnvelope();

        router.Publish(envelope, new[] { Alpha, Beta, Channel.ForLocation(Town, 3), Channel.ForLocation(Town, 4), Alpha });

        Assert.AreSame(envelope, everywhere.Received.Single());
        Assert.AreSame(envelope, onlyBeta.Received.Single());
        Assert.AreSame(envelope, onlyRange.Received.Single());
        Assert.IsEmpty(nowhere.Received);
    }

    [TestMethod]
    public void Publish_ToSeveralTargets_ForgetsWhoWasServedBetweenPublishes()
    {
        var recorder = new Recorder("r");
        router.Subscribe(recorder, Alpha);
        router.Subscribe(recorder, Beta);

        router.Publish(NewEnvelope(), new[] { Alpha, Beta });
        router.Publish(NewEnvelope(), new[] { Beta, Alpha });

        Assert.HasCount(2, recorder.Received);
    }

    [TestMethod]
    public void UnsubscribeAll_RemovesChannelAndRangeSubscriptions_AndKeepsOtherParticipants()
    {
        var leaving = new Recorder("leaving");
        var staying = new Recorder("staying");
        router.Subscribe(leaving, Alpha);
        router.Subscribe(leaving, Beta);
        router.SubscribeRange(leaving, Town, 0, 10);
        router.SubscribeRange(leaving, Town, 5, 20);
        router.SubscribeRange(leaving, Forest, 0, 0);
        router.Subscribe(staying, Alpha);
        router.SubscribeRange(staying, Town, 0, 10);

        router.UnsubscribeAll(leaving);
        router.Publish(NewEnvelope(), Alpha);
        router.Publish(NewEnvelope(), Beta);
        router.Publish(NewEnvelope(), Channel.ForLocation(Town, 7));
        router.Publish(NewEnvelope(), Channel.ForLocation(Town, 15));
        router.Publish(NewEnvelope(), Channel.ForLocation(Forest, 0));

        Assert.IsEmpty(leaving.Received);
        Assert.HasCount(2, staying.Received);
        Assert.AreEqual(1, router.ChannelCount, "only Alpha still has a subscriber");
    }

    [TestMethod]
    public void UnsubscribeAll_ThenSubscribeAgain_Delivers()
    {
        var recorder = new Recorder("r");
        router.Subscribe(recorder, Alpha);
        router.UnsubscribeAll(recorder);

        router.Subscribe(recorder, Alpha);
        router.Publish(NewEnvelope(), Alpha);

        Assert.HasCount(1, recorder.Received);
    }

    [TestMethod]
    public void Deliver_IsPassedTheTargetsOfThatPublish()
    {
        var recorder = new Recorder("r");
        router.Subscribe(recorder, Beta);
        router.SubscribeRange(recorder, Town, 0, 0);

        router.Publish(NewEnvelope(), Beta);
        router.Publish(NewEnvelope(), new[] { Alpha, Beta, Gamma });
        router.Publish(NewEnvelope(), new[] { Alpha, Beta, Gamma, Channel.ForObject(Town), Channel.ForObject(Forest), Channel.ForLocation(Town, 0) });

        Assert.HasCount(3, recorder.TargetsSeen);
        CollectionAssert.AreEqual(new[] { Beta }, recorder.TargetsSeen[0]);
        CollectionAssert.AreEqual(new[] { Alpha, Beta, Gamma }, recorder.TargetsSeen[1]);
        CollectionAssert.AreEqual(new[] { Alpha, Beta, Gamma, Channel.ForObject(Town), Channel.ForObject(Forest), Channel.ForLocation(Town, 0) }, recorder.TargetsSeen[2]);
    }

    [TestMethod]
    public void NestedPublish_FromInsideDeliver_LeavesTheOuterDeliveryItsTargets()
    {
        var outerTargets = new[] { Alpha, Beta };
        var inner = new Recorder("inner");
        var after = new Recorder("after");
        var republisher = new Recorder("republisher");
        republisher.OnDeliver = (envelope, targets) =>
        {
            republisher.Note("before nested", targets.ToArray());
            router.Publish(NewEnvelope(), new[] { Gamma, Channel.ForLocation(Town, 1) });
            router.Publish(NewEnvelope(), Gamma);
            republisher.Note("after nested", targets.ToArray());
        };
        router.Subscribe(republisher, Alpha);
        router.Subscribe(after, Beta);
        router.Subscribe(inner, Gamma);

        router.Publish(NewEnvelope(), outerTargets);

        CollectionAssert.AreEqual(outerTargets, republisher.Notes["before nested"]);
        CollectionAssert.AreEqual(outerTargets, republisher.Notes["after nested"]);
        Assert.HasCount(2, inner.TargetsSeen);
        CollectionAssert.AreEqual(new[] { Gamma, Channel.ForLocation(Town, 1) }, inner.TargetsSeen[0]);
        CollectionAssert.AreEqual(new[] { Gamma }, inner.TargetsSeen[1]);
        CollectionAssert.AreEqual(outerTargets, after.TargetsSeen.Single(), "the participant served after the nested publish sees the outer targets");
    }

    [TestMethod]
    public void NestedPublish_ToSeveralTargets_DoesNotDisturbTheOuterOncePerParticipantRule()
    {
        // The outer publish dedupes with a set; a nested one must not clear it halfway through.
        var both = new Recorder("both");
        var republisher = new Recorder("republisher");
        republisher.OnDeliver = (_, _) => router.Publish(NewEnvelope(), new[] { Gamma, Channel.ForLocation(Town, 1) });
        router.Subscribe(both, Alpha);
        router.Subscribe(republisher, Alpha);
        router.Subscribe(both, Beta);

        router.Publish(NewEnvelope(), new[] { Alpha, Beta });

        Assert.HasCount(1, both.Received);
        Assert.HasCount(1, republisher.Received);
    }

    [TestMethod]
    public async Task ConcurrentSubscribeAndUnsubscribe_WhilePublishing_DoesNotThrow()
    {
        const int Workers = 4;
        const int Rounds = 2_000;
        const int Publishes = 20_000;
        var channels = new[] { Alpha, Beta, Gamma, Channel.ForLocation(Town, 1), Channel.ForLocation(Town, 2) };
        var steady = new Counter("steady");
        router.Subscribe(steady, Alpha);

        var publisher = Task.Run(() =>
        {
            for (int i = 0; i < Publishes; i++)
            {
                router.Publish(NewEnvelope(), channels[i % channels.Length]);
                router.Publish(NewEnvelope(), channels);
            }
        });

        var countersByWorker = Enumerable.Range(0, Workers).Select(w => Enumerable.Range(0, 8).Select(i => new Counter($"w{w}-{i}")).ToArray()).ToArray();
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(() =>
        {
            var counters = countersByWorker[w];
            for (int round = 0; round < Rounds; round++)
            {
                var counter = counters[round % counters.Length];
                var channel = channels[(round + w) % channels.Length];
                uint low = (uint)(round % 3);
                router.Subscribe(counter, channel);
                router.SubscribeRange(counter, Town, low, 5);
                router.Unsubscribe(counter, channel);
                router.UnsubscribeRange(counter, Town, low, 5);
                if (round % 17 == 0)
                {
                    router.Subscribe(counter, channel);
                    router.SubscribeRange(counter, Town, low, 5);
                    router.UnsubscribeAll(counter);
                }
            }
        }));

        await Task.WhenAll(workers.Append(publisher)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.AreEqual(Publishes + (Publishes / channels.Length), steady.Count, "every publish to Alpha reached the steady subscriber once");
        Assert.AreEqual(1, router.ChannelCount, "every worker subscription was undone; only the steady one is left");
        var everyCounter = countersByWorker.SelectMany(c => c).ToArray();
        var countsBefore = everyCounter.Select(c => c.Count).ToArray();
        router.Publish(NewEnvelope(), channels);
        for (uint zone = 0; zone <= 5; zone++)
        {
            router.Publish(NewEnvelope(), Channel.ForLocation(Town, zone));
        }

        CollectionAssert.AreEqual(countsBefore, everyCounter.Select(c => c.Count).ToArray(), "no worker subscription or range is left over");
    }

    private static Envelope NewEnvelope(uint zone = 0) =>
        new(InternalMessageType.RelayBroadcast, Channel.StateServer, DoId.Empty, BitConverter.GetBytes(zone));

    private static uint ZoneOf(Envelope envelope) => BitConverter.ToUInt32(envelope.Payload.Span);

    private delegate void DeliverHandler(Envelope envelope, ReadOnlySpan<Channel> targets);

    /// <summary>Records what it receives and the targets it was given; thread-safe.</summary>
    private sealed class Recorder : IParticipant
    {
        private readonly object gate = new();
        private readonly List<Envelope> received = new();
        private readonly List<Channel[]> targetsSeen = new();

        public Recorder(string name) => Name = name;

        public string Name { get; }

        public DeliverHandler? OnDeliver { get; set; }

        public Dictionary<string, Channel[]> Notes { get; } = new();

        public List<Envelope> Received
        {
            get
            {
                lock (gate)
                {
                    return received.ToList();
                }
            }
        }

        public List<Channel[]> TargetsSeen
        {
            get
            {
                lock (gate)
                {
                    return targetsSeen.ToList();
                }
            }
        }

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            lock (gate)
            {
                received.Add(envelope);
                targetsSeen.Add(targets.ToArray());
            }

            OnDeliver?.Invoke(envelope, targets);
        }

        public void Note(string key, Channel[] targets) => Notes[key] = targets;

        public override string ToString() => Name;
    }

    /// <summary>Counts deliveries without keeping them, for the high-volume test.</summary>
    private sealed class Counter : IParticipant
    {
        private int count;

        public Counter(string name) => Name = name;

        public string Name { get; }

        public int Count => Volatile.Read(ref count);

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets) => Interlocked.Increment(ref count);
    }
}
