using Pastry.Messaging;
using Pastry.Nats;

namespace Pastry.Tests.Nats;

/// <summary>
/// A NATS router whose remembered way to an object leads to a node that no longer holds it (the object moved to another
/// OTP node, docs/deployment.md "Moving an object to another node"): told so (<see cref="InternalMessageType.ObjectHolderMoved"/>),
/// it sends a probe the old way and holds its requests about the object until the probe is answered, so that none
/// overtakes one still being forwarded; then they go to the holder subject, in order. Over a real nats-server.
/// </summary>
[TestClass]
public sealed class NatsMoveRouteTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    [TestMethod]
    public async Task ToldItsObjectMoved_ARouterProbesTheOldWay_AndHoldsItsRequestsUntilTheAnswer_ThenSendsThemToTheNewHolderInOrder()
    {
        await using var nats = await NatsServer.StartAsync();
        var options = new NatsBackplaneOptions { Url = nats.Url, SubjectPrefix = "move-route-tests", HeartbeatInterval = TimeSpan.FromMilliseconds(100), NodeTimeout = TimeSpan.FromSeconds(5) };
        await using var oldNode = new NatsMessageRouter(options, keeper: true);
        var oldHolder = new Recorder("old holder");
        oldNode.Subscribe(oldHolder, Channel.StateServer);
        await oldNode.StartAsync();
        oldNode.AnnounceReady();
        await using var ai = new NatsMessageRouter(options);
        await ai.StartAsync();
        await ai.WaitForKeeperAsync().WaitAsync(Timeout);
        var aiChannel = Channel.ForParticipant(DoId.NewId());
        var aiParticipant = new Recorder("ai");
        ai.Subscribe(aiParticipant, aiChannel);
        await ai.FlushAsync();

        // The AI creates two roots: both placed on the only node, and the AI remembers that way for them.
        var moving = DoId.NewId();
        var staying = DoId.NewId();
        ai.Publish(new Envelope(InternalMessageType.CreateObject, aiChannel, moving, new byte[64]), Channel.StateServer);
        ai.Publish(new Envelope(InternalMessageType.CreateObject, aiChannel, staying, new byte[64]), Channel.StateServer);
        Assert.AreEqual(moving, (await oldHolder.NextAsync()).Subject);
        Assert.AreEqual(staying, (await oldHolder.NextAsync()).Subject);

        // Another node holds the moving one now (it subscribed its holder subject).
        await using var newNode = new NatsMessageRouter(options, keeper: true);
        var newHolder = new Recorder("new holder");
        newNode.Subscribe(newHolder, Channel.StateServer);
        await newNode.StartAsync();
        newNode.Hold(moving);
        await newNode.FlushAsync();

        // The old node forwarded one of the AI's requests and tells it so: the AI's router (not the AI) takes that, and
        // sends a probe the old way.
        oldNode.Publish(HolderMoved(moving, newNode.NodeId, probe: false), aiChannel);
        var probe = await oldHolder.NextAsync();
        Assert.AreEqual(InternalMessageType.ObjectMoveProbe, probe.Type);
        Assert.AreEqual(moving, probe.Subject);
        Assert.AreEqual(aiChannel, probe.Sender);

        // Until the answer, the AI's requests about it wait; those about other objects do not.
        ai.Publish(Set(aiChannel, moving, 1), Channel.StateServer);
        ai.Publish(Set(aiChannel, staying, 9), Channel.StateServer);
        var next = await oldHolder.NextAsync();
        Assert.AreEqual(staying, next.Subject, "the request about the moving object must wait for the probe's answer, not take the old way");
        await newNode.FlushAsync();
        Assert.AreEqual(0, newHolder.Count, "nor the new way before the answer");

        // The answer: what waited, then what follows, reach the new holder, in order.
        oldNode.Publish(HolderMoved(moving, newNode.NodeId, probe: true), aiChannel);
        ai.Publish(Set(aiChannel, moving, 2), Channel.StateServer);
        var first = await newHolder.NextAsync();
        var second = await newHolder.NextAsync();
        Assert.AreEqual((moving, (byte)1), (first.Subject, first.Payload.Span[0]));
        Assert.AreEqual((moving, (byte)2), (second.Subject, second.Payload.Span[0]));
        Assert.AreEqual(0, aiParticipant.Count, "the notices are the router's, never the AI's");
        Assert.AreEqual(0, oldHolder.Count, "nothing more took the old way");
    }

    private static Envelope HolderMoved(DoId id, DoId node, bool probe)
    {
        var payload = new byte[DoId.Size + (probe ? 1 : 0)];
        node.Write(payload);
        if (probe)
        {
            payload[DoId.Size] = 1;
        }

        return new Envelope(InternalMessageType.ObjectHolderMoved, Channel.StateServer, id, payload);
    }

    private static Envelope Set(Channel sender, DoId id, byte value) => new(InternalMessageType.SetField, sender, id, new[] { value });

    private sealed class Recorder(string name) : IParticipant
    {
        private readonly System.Threading.Channels.Channel<Envelope> inbox = System.Threading.Channels.Channel.CreateUnbounded<Envelope>();

        public string Name => name;

        public int Count => inbox.Reader.Count;

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets) => inbox.Writer.TryWrite(envelope);

        public async Task<Envelope> NextAsync()
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
    }
}
