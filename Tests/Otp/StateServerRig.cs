using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// A State Server on an in-process router, with the test's ears on it: <see cref="Listen"/> records what a channel
/// receives (<see cref="StateServerTests.Recorder"/>), <see cref="Send"/> publishes to the State Server and
/// <see cref="BarrierAsync"/> waits until everything sent before was handled. For the tests of one State Server feature
/// at a time (participants, snapshots, AI restarts), so that a mutant in it is killed in process, in milliseconds.
/// </summary>
internal sealed class StateServerRig : IAsyncDisposable
{
    private readonly TestContext context;
    private uint nextContext = 0xB000;

    public StateServerRig(TestContext context, ModelRegistry registry, StateServerOptions? options = null, ILogger? logger = null, bool databaseEnabled = false)
    {
        this.context = context;
        Server = new StateServer(Router, registry, logger ?? NullLogger.Instance, databaseEnabled, options);
        Server.Start();
    }

    public InProcessRouter Router { get; } = new();

    /// <summary>The text an Error or refusal envelope carries (its payload is one string).</summary>
    public static string Text(Envelope envelope) => new WireReader(envelope.Payload.Span).ReadString();

    public StateServer Server { get; }

    /// <summary>Records what <paramref name="channel"/> receives from now on.</summary>
    public StateServerTests.Recorder Listen(Channel channel)
    {
        var recorder = new StateServerTests.Recorder(channel.ToString());
        Router.Subscribe(recorder, channel);
        return recorder;
    }

    /// <summary>Publishes <paramref name="envelope"/> to the State Server.</summary>
    public void Send(Envelope envelope) => Router.Publish(envelope, Channel.StateServer);

    /// <summary>Creates <paramref name="obj"/> at (<paramref name="parent"/>, <paramref name="zone"/>) for <paramref name="ai"/>, and waits until it exists.</summary>
    public async Task CreateAsync(DistributedObject obj, DoId parent, uint zone, Channel ai, DoId owner = default)
    {
        Send(InternalMessages.CreateObject(obj, parent, zone, owner, ai));
        await BarrierAsync();
    }

    /// <summary>
    /// Waits until the State Server has handled everything sent before: it handles messages in order and publishes
    /// synchronously, so once an empty zone query is answered every earlier publish has been delivered.
    /// </summary>
    public async Task BarrierAsync()
    {
        uint query = ++nextContext;
        var channel = Channel.ForSession(new DoId(0xBA, query));
        var probe = Listen(channel);
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(query);
        writer.WriteDoId(new DoId(0xBA, 0));
        writer.WriteVarUInt32(0);
        Router.Publish(new Envelope(InternalMessageType.QueryZones, channel, DoId.Empty, writer.WrittenSpan.ToArray()), Channel.StateServer);
        var done = await probe.NextAsync(context);
        Assert.AreEqual(InternalMessageType.QueryDone, done.Type);
        Router.UnsubscribeAll(probe);
    }

    /// <summary>What the Message Director sends when <paramref name="participant"/> speaks for a link that is not privileged (or no longer).</summary>
    public void Restrict(Channel participant, bool restricted = true)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>(Channel.EncodedSize);
        participant.Write(writer);
        Send(new Envelope(restricted ? InternalMessageType.LinkParticipantRestricted : InternalMessageType.LinkParticipantReleased, default, DoId.Empty, writer.WrittenMemory));
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
