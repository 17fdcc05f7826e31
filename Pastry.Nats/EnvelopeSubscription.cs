using System.Buffers;
using NATS.Client.Core;
using Pastry.Messaging;

namespace Pastry.Nats;

/// <summary>What one NATS subscription of the backplane is for, which decides whom its messages reach in this process.</summary>
internal enum SubscriptionKind : byte
{
    /// <summary>One channel's subject: its exact subscribers.</summary>
    Channel,

    /// <summary>A shard wildcard, or the whole-parent wildcard, of a parent's locations: its zone-range subscribers.</summary>
    LocationRange,

    /// <summary>The node subject (keepers only) or this process's own node subject.</summary>
    Node,

    /// <summary>A holder subject of an object this node holds, or this node's placement subject: for its State Server or Database role.</summary>
    Holder,
}

/// <summary>
/// One NATS subscription of the backplane. It takes each message straight from the NATS client's socket reader, in
/// the order the server sent them across every subject (the client's own per-subscription queues would reorder
/// messages of different subjects), and hands it to <see cref="NatsMessageRouter"/> at once, without a copy of the
/// frame beyond the envelope's payload.
/// </summary>
internal sealed class EnvelopeSubscription : NatsSubBase
{
    private readonly Action<EnvelopeSubscription, string, ReadOnlySequence<byte>> receive;
    private volatile bool released;

    public EnvelopeSubscription(NatsConnection connection, string subject, SubscriptionKind kind, Channel channel, DoId parent, Action<EnvelopeSubscription, string, ReadOnlySequence<byte>> receive)
        : base(connection, connection.SubscriptionManager, subject, queueGroup: null, opts: null)
    {
        Kind = kind;
        Channel = channel;
        Parent = parent;
        this.receive = receive;
    }

    /// <summary>What the subscription is for.</summary>
    public SubscriptionKind Kind { get; }

    /// <summary>The channel of a <see cref="SubscriptionKind.Channel"/> subscription.</summary>
    public Channel Channel { get; }

    /// <summary>The parent of a <see cref="SubscriptionKind.LocationRange"/> subscription.</summary>
    public DoId Parent { get; }

    /// <summary>
    /// A holder subject this node gave up (the object moved to another node, which subscribed it first): what still
    /// arrives on it before the unsubscribe takes effect is that node's, and is dropped here.
    /// </summary>
    public bool Released
    {
        get => released;
        set => released = value;
    }

    /// <inheritdoc />
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        receive(this, subject, payloadBuffer);
        return default;
    }

    /// <inheritdoc />
    protected override void TryComplete()
    {
        // Nothing is queued here: every message was handed on as it arrived.
    }
}
