using BenchmarkDotNet.Attributes;
using Pastry.Messaging;
using Pastry.Otp.ClientAgent;
using Pastry.Otp.MessageDirector;

namespace Pastry.Benchmarks;

/// <summary>The Message Director's in-process routing and a session's interest bookkeeping (issue 8).</summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private readonly InProcessRouter router = new();
    private readonly Channel zone = Channel.ForLocation(DoId.NewId(), 1);
    private readonly Channel[] twoTargets = new Channel[2];
    private readonly Envelope envelope = new(InternalMessageType.RelayBroadcast, default, DoId.NewId(), new byte[32]);
    private InterestSet interests = new();
    private uint[] neighbourhood = Array.Empty<uint>();
    private DoId parent;

    /// <summary>Subscribers of the zone channel.</summary>
    [Params(1, 100, 1000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < Subscribers; i++)
        {
            router.Subscribe(new CountingParticipant(), zone);
        }

        twoTargets[0] = zone;
        twoTargets[1] = Channel.ForAccount(DoId.NewId());
        parent = DoId.NewId();
        neighbourhood = new uint[] { 1, 2, 3, 11, 12, 13, 21, 22, 23 };
    }

    /// <summary>One publish to a zone channel, delivered to every subscriber (no copies).</summary>
    [Benchmark]
    public void Publish_OneChannel() => router.Publish(envelope, zone);

    /// <summary>One publish to two channels, each participant delivered once.</summary>
    [Benchmark]
    public void Publish_TwoChannels_Deduplicated() => router.Publish(envelope, twoTargets);

    /// <summary>Open a 3x3 interest, then move it one cell (the grid case), then close it.</summary>
    [Benchmark]
    public int InterestSet_OpenMoveClose()
    {
        interests = new InterestSet();
        var (added, _) = interests.Set(1, parent, neighbourhood);
        var (moved, removed) = interests.Set(1, parent, new uint[] { 2, 3, 4, 12, 13, 14, 22, 23, 24 });
        return added.Count + moved.Count + removed.Count + interests.Remove(1).Count;
    }

    private sealed class CountingParticipant : IParticipant
    {
        private int count;

        public string Name => "counter";

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets) => count++;
    }
}
