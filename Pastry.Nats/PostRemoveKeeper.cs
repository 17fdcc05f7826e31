using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Nats;

/// <summary>
/// Holds the post-remove messages of every process on the NATS backplane and routes them when a process is gone
/// (ARCHITECTURE 4): at once when it says goodbye, or when no heartbeat came from it for
/// <see cref="NatsBackplaneOptions.NodeTimeout"/> (it was killed, or cut off). OTP processes run one.
/// </summary>
/// <remarks>
/// <para><b>Why heartbeats</b>, not NATS connection events or JetStream KV leases: a nats-server tells other clients
/// of a disconnect only through its system account (<c>$SYS.ACCOUNT.*.DISCONNECT</c>), which needs an operator
/// setup and credentials for every keeper; KV leases need JetStream (a store on disk) and per-key TTLs of newer
/// servers than Debian ships. Heartbeats need nothing but core NATS, work the same on one server or a cluster, also
/// catch a process that is connected but wedged, and keep the registration and the liveness signal on one subject,
/// so a keeper sees a process's post-removes before its last heartbeat, in order. The cost is the detection delay
/// (<see cref="NatsBackplaneOptions.NodeTimeout"/>, 5 s by default) and one small message per process per second.</para>
/// <para><b>Several keepers.</b> Every keeper holds every registration, and hears the others' heartbeats; when a
/// process is gone only the live keeper with the lowest node id routes its post-removes, so they run once. A keeper
/// that hears a process it holds nothing for (it started later) asks it to register again
/// (<see cref="InternalMessageType.NodeReset"/>).</para>
/// <para><b>A process declared dead that lives on</b> (a long pause or partition) is told so with
/// <see cref="InternalMessageType.NodeReset"/>: it registers again and its AI creates its objects again, as after an
/// MD link drop.</para>
/// </remarks>
public sealed class PostRemoveKeeper : IDisposable
{
    private readonly NatsMessageRouter router;
    private readonly NatsBackplaneOptions options;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly Dictionary<DoId, Node> nodes = new();
    private readonly List<Channel> targets = new();
    private readonly object gate = new();
    private readonly Timer sweep;
    private long routed;

    /// <summary>Starts keeping: registrations and heartbeats arriving on <paramref name="router"/>'s node subject are held from now on.</summary>
    /// <exception cref="ArgumentException"><paramref name="router"/> was not created as a keeper.</exception>
    public PostRemoveKeeper(NatsMessageRouter router, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(router);
        if (!router.IsKeeper)
        {
            throw new ArgumentException("The router was not created as a keeper (keeper: true), so it does not hear the node subject.", nameof(router));
        }

        this.router = router;
        options = router.Options;
        this.logger = logger ?? NullLogger.Instance;
        this.time = time ?? TimeProvider.System;
        router.NodeMessage = OnNodeMessage;
        var period = options.HeartbeatInterval;
        sweep = new Timer(static state => ((PostRemoveKeeper)state!).Sweep(), this, period, period);
    }

    /// <summary>Processes whose post-removes (or heartbeats) this keeper holds now.</summary>
    public int NodeCount
    {
        get
        {
            lock (gate)
            {
                return nodes.Count;
            }
        }
    }

    /// <summary>Post-remove messages routed so far.</summary>
    public long Routed => Interlocked.Read(ref routed);

    /// <inheritdoc />
    public void Dispose()
    {
        router.NodeMessage = null;
        sweep.Dispose();
    }

    /// <summary>A message on the node subject, on the NATS reader: registrations, heartbeats and goodbyes, in the order each node sent them.</summary>
    private void OnNodeMessage(Envelope envelope, ReadOnlySpan<Channel> ignored)
    {
        var id = envelope.Sender.Id;
        List<(Envelope, Channel[])>? run = null;
        bool askAgain = false;
        lock (gate)
        {
            if (!nodes.TryGetValue(id, out var node))
            {
                if (envelope.Type == InternalMessageType.NodeGoodbye)
                {
                    return;
                }

                if (nodes.Count >= options.MaxNodes)
                {
                    logger.LogError("Post-remove keeper: more than {Max} nodes (Nats:MaxNodes); node {Node} is not kept", options.MaxNodes, id);
                    return;
                }

                nodes[id] = node = new Node();
                // It registered before this keeper listened: ask for its post-removes again (unless this is one of them).
                askAgain = envelope.Type == InternalMessageType.NodeHeartbeat;
            }

            node.LastSeen = time.GetTimestamp();
            switch (envelope.Type)
            {
                case InternalMessageType.NodeHeartbeat:
                    node.IsKeeper = envelope.Payload.Length > 0 && (envelope.Payload.Span[0] & 1) != 0;
                    break;
                case InternalMessageType.NodeAddPostRemove:
                    Register(id, node, envelope, owned: false);
                    break;
                case InternalMessageType.NodeAddOwnedPostRemove when id != router.NodeId:
                    // Not its own node's sessions: they could only run after this process died, and then not here.
                    Register(id, node, envelope, owned: true);
                    break;
                case InternalMessageType.NodeRemoveOwnedPostRemove:
                    Forget(id, node, envelope);
                    break;
                case InternalMessageType.NodeClearPostRemoves:
                    node.PostRemoves.Clear();
                    node.Bytes = 0;
                    break;
                case InternalMessageType.NodeGoodbye:
                    nodes.Remove(id);
                    run = node.AllPostRemoves();
                    break;
            }
        }

        if (askAgain)
        {
            router.SendNodeMessage(InternalMessageType.NodeReset, [0], router.Subjects.Node(id));
        }

        if (run is not null && ShouldRoute(id))
        {
            Route(id, run, "said goodbye");
        }
    }

    private void Register(DoId id, Node node, Envelope envelope, bool owned)
    {
        if (owned
            ? envelope.Payload.Length > MaxOwnedPostRemoveBytes || node.Owned.Count >= options.MaxOwnedPostRemovesPerNode
            : node.PostRemoves.Count >= options.MaxPostRemovesPerNode || node.Bytes + envelope.Payload.Length > options.MaxPostRemoveBytesPerNode)
        {
            if (owned)
            {
                logger.LogError("Post-remove keeper: node {Node} registered more than {Count} owned post-removes (Nats:MaxOwnedPostRemovesPerNode) or one of more than {Bytes} bytes; this one is not kept", id, options.MaxOwnedPostRemovesPerNode, MaxOwnedPostRemoveBytes);
            }
            else
            {
                logger.LogError("Post-remove keeper: node {Node} registered more than {Count} post-removes or {Bytes} bytes (Nats:MaxPostRemovesPerNode, Nats:MaxPostRemoveBytesPerNode); this one is not kept", id, options.MaxPostRemovesPerNode, options.MaxPostRemoveBytesPerNode);
            }

            return;
        }

        Envelope inner;
        try
        {
            var reader = new WireReader(envelope.Payload.Span);
            ushort type = reader.ReadUInt16();
            inner = Envelope.Read(type, reader.ReadToEnd(), targets);
        }
        catch (WireFormatException ex)
        {
            logger.LogError("Post-remove keeper: a malformed post-remove of node {Node} was dropped: {Message}", id, ex.Message);
            return;
        }

        if (owned)
        {
            node.Owned[inner.Sender] = (inner, targets.ToArray());
            return;
        }

        node.PostRemoves.Add((inner, targets.ToArray()));
        node.Bytes += envelope.Payload.Length;
    }

    /// <summary>A participant of <paramref name="id"/> (a session) ended cleanly: its post-remove is not to run.</summary>
    private void Forget(DoId id, Node node, Envelope envelope)
    {
        try
        {
            var reader = new WireReader(envelope.Payload.Span);
            node.Owned.Remove(Channel.Read(ref reader));
        }
        catch (WireFormatException ex)
        {
            logger.LogError("Post-remove keeper: a malformed owned post-remove removal of node {Node} was dropped: {Message}", id, ex.Message);
        }
    }

    /// <summary>Routes the post-removes of nodes silent for longer than <see cref="NatsBackplaneOptions.NodeTimeout"/>.</summary>
    private void Sweep()
    {
        List<(DoId Id, List<(Envelope, Channel[])> PostRemoves)>? expired = null;
        lock (gate)
        {
            foreach (var (id, node) in nodes)
            {
                if (time.GetElapsedTime(node.LastSeen) > options.NodeTimeout)
                {
                    (expired ??= new()).Add((id, node.AllPostRemoves()));
                }
            }

            if (expired is not null)
            {
                foreach (var (id, _) in expired)
                {
                    nodes.Remove(id);
                }
            }
        }

        if (expired is null)
        {
            return;
        }

        foreach (var (id, postRemoves) in expired)
        {
            if (ShouldRoute(id))
            {
                Route(id, postRemoves, $"sent no heartbeat for {options.NodeTimeout}");
                // If it lives on (a pause, a partition), it registers again and creates what the post-removes removed.
                router.SendNodeMessage(InternalMessageType.NodeReset, [1], router.Subjects.Node(id));
            }
        }
    }

    /// <summary>Whether this keeper routes a gone node's post-removes: it is the live keeper with the lowest node id.</summary>
    private bool ShouldRoute(DoId gone)
    {
        lock (gate)
        {
            foreach (var (id, node) in nodes)
            {
                if (node.IsKeeper && id != gone && id < router.NodeId && time.GetElapsedTime(node.LastSeen) <= options.NodeTimeout)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private void Route(DoId id, List<(Envelope Envelope, Channel[] Targets)> postRemoves, string why)
    {
        logger.LogInformation("Post-remove keeper: node {Node} {Why}; routing its {Count} post-remove(s)", id, why, postRemoves.Count);
        foreach (var (envelope, to) in postRemoves)
        {
            logger.LogInformation("Post-remove keeper: routing post-remove {Envelope} of node {Node}", envelope, id);
            router.Publish(envelope, to);
            Interlocked.Increment(ref routed);
        }
    }

    /// <summary>The largest owned post-remove kept (a session's SessionClosed is about 60 bytes), so the owned ones of a node cost at most this times <see cref="NatsBackplaneOptions.MaxOwnedPostRemovesPerNode"/>.</summary>
    private const int MaxOwnedPostRemoveBytes = 1024;

    private sealed class Node
    {
        public long LastSeen;
        public bool IsKeeper;
        public int Bytes;
        public List<(Envelope Envelope, Channel[] Targets)> PostRemoves { get; } = new();

        /// <summary>Post-removes of the node's participants (an OTP node's sessions), by owner: registered and removed one by one.</summary>
        public Dictionary<Channel, (Envelope Envelope, Channel[] Targets)> Owned { get; } = new();

        /// <summary>What runs when the node is gone: its own post-removes, then its participants'.</summary>
        public List<(Envelope Envelope, Channel[] Targets)> AllPostRemoves()
        {
            if (Owned.Count > 0)
            {
                PostRemoves.AddRange(Owned.Values);
                Owned.Clear();
            }

            return PostRemoves;
        }
    }
}
