using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Pastry.Messaging;
using Pastry.Nats.Placement;
using Pastry.Wire;

namespace Pastry.Nats;

/// <summary>
/// The Message Director over NATS (issue 14): an <see cref="IMessageRouter"/> whose channels are NATS subjects (see
/// <see cref="NatsSubjects"/>), so that OTP and AI processes on several hosts exchange messages through a nats-server
/// instead of the MD's TCP link. Participants of this process are reached directly, with the same envelope and no copy,
/// as <c>InProcessRouter</c> does; the message also goes once to the nats-server per target subject, and the server
/// sends it only to the processes subscribed there. Its own messages never come back (the connection has echo off).
/// </summary>
/// <remarks>
/// <para><b>Exactly once across several targets.</b> A publish to several channels becomes one NATS message per
/// subject, each carrying the full target list. A process hands the copy of target <c>i</c> only to participants that
/// match target <c>i</c> and none of the targets before it: a participant that matches an earlier target got that
/// earlier copy, because its process subscribes every subject one of its participants matches. No state is kept per
/// message. The publisher applies the same rule to its own participants.</para>
/// <para><b>Order.</b> Publishes and subscription changes go through one queue to the NATS client, so a subscribe is
/// on the wire before a request published after it, and the messages of this process reach another in the order they
/// were published. Received messages are taken from the client's socket reader in the order the server sent them.</para>
/// <para><b>Bounds.</b> At most <see cref="NatsBackplaneOptions.MaxPendingBytes"/> wait for the NATS client; more are
/// dropped, counted in <see cref="Dropped"/> and logged. A message larger than
/// <see cref="NatsBackplaneOptions.MaxMessageBytes"/> is refused the same way.</para>
/// <para><b>Post-removes.</b> A process registers them on the node subject; keepers (<see cref="PostRemoveKeeper"/>,
/// run by OTP processes) hold them and route them when the process says goodbye or its heartbeats stop.</para>
/// <para><b>Trust.</b> Every process on the nats-server account is as trusted as a privileged MD link: protect the
/// server with its own authentication (<see cref="NatsBackplaneOptions.User"/>, <see cref="NatsBackplaneOptions.Token"/>)
/// and keep it on a private network.</para>
/// </remarks>
public sealed partial class NatsMessageRouter : IPostRemoveRouter, IOwnedPostRemoveRouter, IDeliveryCounter, IAsyncDisposable
{
    private readonly NatsBackplaneOptions options;
    private readonly ILogger logger;
    private readonly NatsConnection connection;
    private readonly NatsSubjects subjects;

    // Participants of this process, kept as InProcessRouter keeps them: no lock on publish.
    private readonly SubscriberTable table = new();
    private readonly List<Channel> emptiedScratch = new();
    private readonly List<DoId> parentsScratch = new();
    private readonly Dictionary<Channel, EnvelopeSubscription> channelSubscriptions = new();
    private readonly Dictionary<DoId, Dictionary<uint, EnvelopeSubscription>> rangeSubscriptions = new();
    private readonly object gate = new();

    private readonly System.Threading.Channels.Channel<Outbound> outbound =
        System.Threading.Channels.Channel.CreateUnbounded<Outbound>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });

    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stop = new();
    private readonly List<(Envelope Envelope, Channel[] Targets)> postRemoves = new();

    // Guarded by postRemoves (one lock: registrations reach the keepers in the order they were made).
    private readonly Dictionary<Channel, (Envelope Envelope, Channel[] Targets)> ownedPostRemoves = new();
    private readonly List<Channel> receivedTargets = new();
    private readonly Task pump;
    private Timer? heartbeat;
    // Held here, not only by the NATS client: its subscription manager holds subscriptions weakly and unsubscribes one
    // the garbage collector took (the keeper's node subscription went that way, and with it every cleanup).
    private EnvelopeSubscription? nodeInbox;
    private EnvelopeSubscription? keepersInbox;
    private EnvelopeSubscription? nodesInbox;
    private long pendingBytes;
    private long dropped;
    private long deliveries;
    private long received;
    private int disposed;
    private int wasDisconnected;

    // The OTP processes (keepers) on the backplane, by the heartbeats of the keeper subject: the ready ones (their
    // roles subscribed), and when each was last heard. An AI waits for one before it starts, and creates its objects
    // again when the OTP that held them is gone (see OnKeeperMessage).
    private readonly Dictionary<DoId, long> liveKeepers = new();
    private readonly TaskCompletionSource keeperSeen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool keeperLost;
    private int ready;

    [ThreadStatic]
    private static PooledBufferWriter? scratch;

    /// <summary>Creates the router; nothing is sent until <see cref="StartAsync"/> connects (publishes wait in the queue).</summary>
    /// <param name="options">The <c>Nats</c> settings; validated here.</param>
    /// <param name="logger">Where the backplane logs.</param>
    /// <param name="keeper">Whether this process keeps other processes' post-removes (an OTP process); said in its heartbeats.</param>
    /// <param name="loggerFactory">The NATS client's own logs; none by default.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names its key.</exception>
    public NatsMessageRouter(NatsBackplaneOptions options, ILogger? logger = null, bool keeper = false, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.FindProblem() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        this.options = options;
        this.logger = logger ?? NullLogger.Instance;
        IsKeeper = keeper;
        NodeId = DoId.NewId();
        subjects = new NatsSubjects(options.SubjectPrefix);
        connection = new NatsConnection(NatsOpts.Default with
        {
            Url = options.Url,
            Name = $"pastry-{(keeper ? "otp" : "ai")}-{NodeId}",
            Echo = false,
            AuthOpts = NatsAuthOpts.Default with
            {
                Username = options.User.Length > 0 ? options.User : null,
                Password = options.Password.Length > 0 ? options.Password : null,
                Token = options.Token.Length > 0 ? options.Token : null,
            },
            MaxReconnectRetry = -1,
            ConnectTimeout = options.ConnectTimeout,
            LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance,
        });
        connection.ConnectionDisconnected += OnDisconnectedAsync;
        connection.ConnectionOpened += OnOpenedAsync;
        pump = Task.Run(PumpAsync);
    }

    /// <summary>This process on the backplane: its heartbeats and post-removes name it.</summary>
    public DoId NodeId { get; }

    /// <summary>Whether this process keeps other processes' post-removes (it runs a <see cref="PostRemoveKeeper"/>).</summary>
    public bool IsKeeper { get; }

    /// <summary>The settings in use.</summary>
    public NatsBackplaneOptions Options => options;

    /// <summary>Messages handed to participants of this process so far (one per participant reached).</summary>
    public long Deliveries => Interlocked.Read(ref deliveries);

    /// <summary>Messages received from the nats-server so far.</summary>
    public long Received => Interlocked.Read(ref received);

    /// <summary>Messages dropped because the queue to the NATS client was full or they were too large.</summary>
    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Bytes waiting to be handed to the NATS client now.</summary>
    public long PendingBytes => Interlocked.Read(ref pendingBytes);

    /// <summary>Whether the connection to the nats-server is open now.</summary>
    public bool IsConnected => connection.ConnectionState == NatsConnectionState.Open;

    /// <summary>Whether a ready OTP process (keeper) is on the backplane now, as its heartbeats say.</summary>
    public bool HasLiveKeeper
    {
        get
        {
            lock (liveKeepers)
            {
                return liveKeepers.Count > 0;
            }
        }
    }

    /// <summary>
    /// The ready OTP nodes on the backplane now, as this process sees them (the heartbeats on the keeper subject, and
    /// this node itself once it is a ready keeper), in id order: the membership placement maps over.
    /// </summary>
    internal DoId[] LiveOtpNodes
    {
        get
        {
            lock (liveKeepers)
            {
                bool self = IsKeeper && Volatile.Read(ref ready) != 0 && !liveKeepers.ContainsKey(NodeId);
                var nodes = new DoId[liveKeepers.Count + (self ? 1 : 0)];
                liveKeepers.Keys.CopyTo(nodes, 0);
                if (self)
                {
                    nodes[^1] = NodeId;
                }

                Array.Sort(nodes);
                return nodes;
            }
        }
    }

    /// <summary>
    /// The OTP node that placement gives <paramref name="key"/> (a root object, see <see cref="RendezvousPlacement"/>)
    /// among the live ready ones this process sees, or <see cref="DoId.Empty"/> when it sees none.
    /// </summary>
    internal DoId OtpNodeFor(DoId key) => RendezvousPlacement.NodeFor(key, LiveOtpNodes);

    /// <summary>
    /// Completes once a ready OTP process (a keeper whose roles are subscribed) has been heard on the backplane. An AI
    /// process waits for it before its first creates: NATS keeps nothing, so a create sent before any State Server
    /// subscribed its subject would be lost.
    /// </summary>
    public Task WaitForKeeperAsync(CancellationToken cancellation = default) => keeperSeen.Task.WaitAsync(cancellation);

    /// <summary>
    /// Says in this keeper's heartbeats, from now on, that its roles are subscribed, so that AI processes may send to
    /// them (<see cref="WaitForKeeperAsync"/>); the hosting calls it once the host has started every role. The first
    /// such heartbeat goes at once, after every subscription made before this call (one ordered queue).
    /// </summary>
    public void AnnounceReady()
    {
        if (IsKeeper && Interlocked.Exchange(ref ready, 1) == 0 && started.Task.IsCompleted)
        {
            SendHeartbeat();
        }
    }

    /// <summary>The subject scheme (for the keeper and tests).</summary>
    internal NatsSubjects Subjects => subjects;

    /// <inheritdoc />
    public event EventHandler? PostRemovesRan;

    /// <summary>A message on the node subject, for the keeper of this process (null unless it runs one).</summary>
    internal Action<Envelope, ReadOnlySpan<Channel>>? NodeMessage { get; set; }

    /// <summary>
    /// Connects to the nats-server (within <see cref="NatsBackplaneOptions.ConnectTimeout"/>), subscribes this
    /// process's node subject and starts the heartbeats; messages queued before are sent now, in order.
    /// </summary>
    /// <exception cref="NatsBackplaneException">The nats-server cannot be reached; the message names <c>Nats:Url</c>.</exception>
    public async Task StartAsync(CancellationToken cancellation = default)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(options.ConnectTimeout);
            await connection.ConnectAsync().AsTask().WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or TimeoutException)
        {
            throw new NatsBackplaneException($"The NATS backplane cannot reach the nats-server at {options.Url} (Nats:Url): {ex.Message}. Fix: start nats-server (for example nats-server -a 127.0.0.1 -p 4222), or set Nats:Url to where it listens.", ex);
        }

        lock (gate)
        {
            nodeInbox = new EnvelopeSubscription(connection, subjects.Node(NodeId), SubscriptionKind.Node, default, DoId.Empty, OnReceived);
            Enqueue(Outbound.Subscribe(nodeInbox));
            keepersInbox = new EnvelopeSubscription(connection, subjects.Keepers, SubscriptionKind.Node, default, DoId.Empty, OnReceived);
            Enqueue(Outbound.Subscribe(keepersInbox));
            if (IsKeeper)
            {
                nodesInbox = new EnvelopeSubscription(connection, subjects.Nodes, SubscriptionKind.Node, default, DoId.Empty, OnReceived);
                Enqueue(Outbound.Subscribe(nodesInbox));
                SubscribePlacedLocked();
            }
        }

        started.TrySetResult();
        SendHeartbeat();
        heartbeat = new Timer(static state => ((NatsMessageRouter)state!).OnHeartbeatTimer(), this, options.HeartbeatInterval, options.HeartbeatInterval);
        logger.LogInformation("NATS backplane connected to {Url} as node {Node} ({Role}), subjects under {Prefix}.", options.Url, NodeId, IsKeeper ? "keeper" : "participant", options.SubjectPrefix);
    }

    /// <summary>Stops the heartbeats without a goodbye, as a paused or cut-off process goes silent (tests of the keeper).</summary>
    internal void SuspendHeartbeats() => heartbeat?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>Sends heartbeats again after <see cref="SuspendHeartbeats"/>.</summary>
    internal void ResumeHeartbeats() => heartbeat?.Change(TimeSpan.Zero, options.HeartbeatInterval);

    /// <summary>Waits until everything queued so far was handed to the NATS client and the server has seen it (a PING round trip).</summary>
    public async Task FlushAsync(CancellationToken cancellation = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(Outbound.Flush(done));
        await done.Task.WaitAsync(cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Subscribe(IParticipant participant, Channel channel)
    {
        lock (gate)
        {
            if (table.Add(participant, channel, out bool first) && first && !channelSubscriptions.ContainsKey(channel))
            {
                var subscription = new EnvelopeSubscription(connection, subjects.Of(channel), SubscriptionKind.Channel, channel, DoId.Empty, OnReceived);
                channelSubscriptions[channel] = subscription;
                Enqueue(Outbound.Subscribe(subscription));
            }
        }
    }

    /// <inheritdoc />
    public void Unsubscribe(IParticipant participant, Channel channel)
    {
        lock (gate)
        {
            if (table.Remove(participant, channel, out bool last) && last)
            {
                DropChannelSubscriptionLocked(channel);
            }
        }
    }

    /// <inheritdoc />
    public void SubscribeRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        lock (gate)
        {
            table.AddRange(participant, parent, low, high);
            UpdateRangeSubscriptionsLocked(parent);
        }
    }

    /// <inheritdoc />
    public void UnsubscribeRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        lock (gate)
        {
            if (table.RemoveRange(participant, parent, low, high))
            {
                UpdateRangeSubscriptionsLocked(parent);
            }
        }
    }

    /// <inheritdoc />
    public void UnsubscribeAll(IParticipant participant)
    {
        lock (gate)
        {
            emptiedScratch.Clear();
            parentsScratch.Clear();
            table.RemoveAll(participant, emptiedScratch, parentsScratch);
            foreach (var channel in emptiedScratch)
            {
                DropChannelSubscriptionLocked(channel);
            }

            foreach (var parent in parentsScratch)
            {
                UpdateRangeSubscriptionsLocked(parent);
            }
        }
    }

    /// <inheritdoc />
    public void Publish(Envelope envelope, Channel target) => Publish(envelope, new ReadOnlySpan<Channel>(in target));

    /// <inheritdoc />
    public void Publish(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        ArgumentNullException.ThrowIfNull(envelope);

        // An old holder tells a sender in this process that an object moved: this router takes it (NatsMessageRouter.Placement.cs).
        if (envelope.Type == InternalMessageType.ObjectHolderMoved && targets.Length == 1 && table.TryGetSubscribers(targets[0], out _))
        {
            OnHolderMoved(envelope, targets[0]);
            return;
        }

        // A State Server or Database request goes to the OTP node it concerns (see NatsMessageRouter.Placement.cs).
        if (targets.Length == 1 && targets[0].Kind == ChannelKind.Role && (targets[0] == Channel.StateServer || targets[0] == Channel.Database) && TryPlace(envelope, targets[0]))
        {
            return;
        }

        for (int i = 0; i < targets.Length; i++)
        {
            DeliverLocally(envelope, targets, i, exact: true, inRanges: true);
        }

        if (Volatile.Read(ref disposed) != 0)
        {
            return;
        }

        if (Encode(envelope, targets) is not { } frame)
        {
            return;
        }

        Channel[]? many = null;
        if (targets.Length > 1)
        {
            many = ArrayPool<Channel>.Shared.Rent(targets.Length);
            targets.CopyTo(many);
        }

        Enqueue(new Outbound(OutboundKind.Publish, targets[0], many, targets.Length, frame.Buffer, frame.Length, null, null, null));
    }

    /// <inheritdoc />
    public void AddPostRemove(Envelope envelope, params Channel[] targets)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(targets);
        lock (postRemoves)
        {
            if (Volatile.Read(ref disposed) != 0)
            {
                return;
            }

            postRemoves.Add((envelope, targets.ToArray()));
            SendPostRemoveLocked(InternalMessageType.NodeAddPostRemove, envelope, targets);
        }
    }

    /// <inheritdoc />
    public void AddOwnedPostRemove(Envelope envelope, Channel target)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        lock (postRemoves)
        {
            if (Volatile.Read(ref disposed) != 0)
            {
                return;
            }

            Channel[] targets = [target];
            ownedPostRemoves[envelope.Sender] = (envelope, targets);
            SendPostRemoveLocked(InternalMessageType.NodeAddOwnedPostRemove, envelope, targets);
        }
    }

    /// <inheritdoc />
    public void RemoveOwnedPostRemove(Channel owner)
    {
        lock (postRemoves)
        {
            if (Volatile.Read(ref disposed) != 0 || !ownedPostRemoves.Remove(owner))
            {
                return;
            }

            var writer = scratch ??= new PooledBufferWriter();
            writer.Reset();
            owner.Write(writer);
            SendNodeMessage(InternalMessageType.NodeRemoveOwnedPostRemove, writer.WrittenSpan, subjects.Nodes);
        }
    }

    /// <inheritdoc />
    public void ClearPostRemoves()
    {
        lock (postRemoves)
        {
            postRemoves.Clear();
            SendNodeMessage(InternalMessageType.NodeClearPostRemoves, ReadOnlySpan<byte>.Empty, subjects.Nodes);
        }
    }

    /// <summary>Says goodbye (keepers route this process's post-removes at once), sends what is queued and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        if (heartbeat is not null)
        {
            await heartbeat.DisposeAsync().ConfigureAwait(false);
        }

        if (started.Task.IsCompleted)
        {
            // Under the post-remove lock: a registration sent again (after a keeper's reset) goes before the goodbye
            // or not at all, so no keeper holds this node's post-removes after it left.
            lock (postRemoves)
            {
                SendNodeMessage(InternalMessageType.NodeGoodbye, ReadOnlySpan<byte>.Empty, OwnNodeSubject);
            }

            try
            {
                await FlushAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or NatsException or OperationCanceledException)
            {
                logger.LogWarning("NATS backplane: could not flush before closing ({Message}); keepers will notice the missing heartbeats instead", ex.Message);
            }
        }

        outbound.Writer.TryComplete();
        started.TrySetResult();
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await pump.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        stop.Dispose();
    }

    /// <summary>Routes what a keeper received on the node subject or what another keeper told this node.</summary>
    private void OnNodeEnvelope(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        if (envelope.Type == InternalMessageType.NodeReset)
        {
            bool expired = new WireReader(envelope.Payload.Span).ReadBool();
            ResendPostRemoves();
            if (expired)
            {
                logger.LogWarning("NATS backplane: a keeper routed this node's post-removes (it heard no heartbeat for {Timeout}); registered again", options.NodeTimeout);
                PostRemovesRan?.Invoke(this, EventArgs.Empty);
            }

            return;
        }

        if (envelope.Type is InternalMessageType.NodeHeartbeat or InternalMessageType.NodeGoodbye)
        {
            OnKeeperMessage(envelope);
        }

        NodeMessage?.Invoke(envelope, targets);
    }

    /// <summary>
    /// Follows the ready OTP processes (keepers) from their heartbeats and goodbyes. The first one heard completes
    /// <see cref="WaitForKeeperAsync"/>. When one that was heard is gone (goodbye, or silent for
    /// <see cref="NatsBackplaneOptions.NodeTimeout"/>: stopped, killed, restarted), the objects its State Server held are
    /// gone with it, so this process registers its post-removes again and raises <see cref="PostRemovesRan"/> (its AI
    /// takes back or creates its objects again) as soon as a ready keeper is there: at once if another one is, else
    /// when the next one (the restarted OTP) is heard. A keeper only logs the others (two OTP processes on one
    /// backplane both take every State Server request: see docs/deployment.md).
    /// </summary>
    private void OnKeeperMessage(Envelope envelope)
    {
        var id = envelope.Sender.Id;
        bool restore = false;
        bool first = false;
        lock (liveKeepers)
        {
            if (envelope.Type == InternalMessageType.NodeGoodbye)
            {
                if (!liveKeepers.Remove(id))
                {
                    return;
                }

                keeperLost = true;
                logger.LogWarning("NATS backplane: OTP node {Node} said goodbye; {Next}", id, liveKeepers.Count > 0 ? "the objects it held are created again through the others" : "waiting for an OTP process to create this process's objects again");
                restore = liveKeepers.Count > 0;
                keeperLost = !restore;
            }
            else
            {
                byte flags = envelope.Payload.Length > 0 ? envelope.Payload.Span[0] : (byte)0;
                if ((flags & HeartbeatKeeper) == 0 || (flags & HeartbeatReady) == 0)
                {
                    return;
                }

                first = liveKeepers.Count == 0;
                if (liveKeepers.TryAdd(id, 0))
                {
                    logger.LogInformation("NATS backplane: OTP node {Node} is on the backplane", id);

                    restore = keeperLost;
                    keeperLost = false;
                }

                liveKeepers[id] = Environment.TickCount64;
            }
        }

        if (first)
        {
            keeperSeen.TrySetResult();
        }

        if (restore && !IsKeeper)
        {
            RestoreAfterKeeperLoss();
        }
    }

    /// <summary>Expires keepers silent for longer than <see cref="NatsBackplaneOptions.NodeTimeout"/> (as a goodbye), then heartbeats.</summary>
    private void OnHeartbeatTimer()
    {
        bool restore = false;
        lock (liveKeepers)
        {
            long now = Environment.TickCount64;
            List<DoId>? gone = null;
            foreach (var (id, seen) in liveKeepers)
            {
                if (now - seen > (long)options.NodeTimeout.TotalMilliseconds)
                {
                    (gone ??= new()).Add(id);
                }
            }

            if (gone is not null)
            {
                foreach (var id in gone)
                {
                    liveKeepers.Remove(id);
                    logger.LogWarning("NATS backplane: OTP node {Node} sent no heartbeat for {Timeout}; {Next}", id, options.NodeTimeout, liveKeepers.Count > 0 ? "the objects it held are created again through the others" : "waiting for an OTP process to create this process's objects again");
                }

                restore = liveKeepers.Count > 0;
                keeperLost = !restore;
            }
        }

        if (restore && !IsKeeper)
        {
            RestoreAfterKeeperLoss();
        }

        ExpireGathers();
        ExpireDrains();
        SendHeartbeat();
    }

    /// <summary>The OTP that held this process's objects is gone and a ready one is there: register again and create again.</summary>
    private void RestoreAfterKeeperLoss()
    {
        if (Volatile.Read(ref disposed) != 0)
        {
            return;
        }

        ResendPostRemoves();
        PostRemovesRan?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>Heartbeat flag: the sender keeps post-removes (an OTP process).</summary>
    private const byte HeartbeatKeeper = 1;

    /// <summary>Heartbeat flag: the sender's roles are subscribed (<see cref="AnnounceReady"/>).</summary>
    private const byte HeartbeatReady = 2;

    /// <summary>Where this process's heartbeats and goodbye go: the keeper subject for a keeper (every process hears it), else the node subject.</summary>
    private string OwnNodeSubject => IsKeeper ? subjects.Keepers : subjects.Nodes;

    private void ResendPostRemoves()
    {
        lock (postRemoves)
        {
            if (Volatile.Read(ref disposed) != 0)
            {
                return;
            }

            SendNodeMessage(InternalMessageType.NodeClearPostRemoves, ReadOnlySpan<byte>.Empty, subjects.Nodes);
            foreach (var (envelope, targets) in postRemoves)
            {
                SendPostRemoveLocked(InternalMessageType.NodeAddPostRemove, envelope, targets);
            }

            // The clear leaves owned ones; a keeper that lost them (it declared this node dead, or started later) gets them again.
            foreach (var (envelope, targets) in ownedPostRemoves.Values)
            {
                SendPostRemoveLocked(InternalMessageType.NodeAddOwnedPostRemove, envelope, targets);
            }
        }
    }

    private void SendPostRemoveLocked(InternalMessageType type, Envelope envelope, Channel[] targets)
    {
        var writer = scratch ??= new PooledBufferWriter();
        writer.Reset();
        writer.WriteUInt16((ushort)envelope.Type);
        envelope.WriteBody(writer, targets);
        var body = writer.WrittenSpan.ToArray();
        SendNodeMessage(type, body, subjects.Nodes);
    }

    private void SendHeartbeat()
    {
        if (Volatile.Read(ref disposed) == 0)
        {
            byte flags = IsKeeper ? (byte)(HeartbeatKeeper | (Volatile.Read(ref ready) != 0 ? HeartbeatReady : 0)) : (byte)0;
            SendNodeMessage(InternalMessageType.NodeHeartbeat, [flags], OwnNodeSubject);
        }
    }

    /// <summary>Sends a node message (heartbeat, post-remove registration, reset) from this node to <paramref name="subject"/>.</summary>
    internal void SendNodeMessage(InternalMessageType type, ReadOnlySpan<byte> payload, string subject)
    {
        var envelope = new Envelope(type, new Channel(ChannelKind.Participant, NodeId, 0), DoId.Empty, payload.ToArray());
        if (Encode(envelope, ReadOnlySpan<Channel>.Empty) is { } frame)
        {
            Enqueue(new Outbound(OutboundKind.PublishRaw, default, null, 0, frame.Buffer, frame.Length, subject, null, null));
        }
    }

    /// <summary>Encodes an envelope with its targets into a pooled buffer; null (and counted) when it is too large.</summary>
    private (byte[] Buffer, int Length)? Encode(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        var writer = scratch ??= new PooledBufferWriter();
        writer.Reset();
        envelope.Write(writer, targets);
        int length = writer.WrittenCount;
        if (length > options.MaxMessageBytes)
        {
            Interlocked.Increment(ref dropped);
            logger.LogError("NATS backplane dropped {Envelope}: {Bytes} bytes is more than Nats:MaxMessageBytes ({Max})", envelope, length, options.MaxMessageBytes);
            return null;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(length);
        writer.WrittenSpan.CopyTo(buffer);
        if (writer.WrittenCount > PooledBufferWriter.MaxRetainedBytes)
        {
            scratch = null;
        }

        return (buffer, length);
    }

    private void Enqueue(Outbound item)
    {
        if (item.Buffer is not null)
        {
            if (Interlocked.Add(ref pendingBytes, item.Length) > options.MaxPendingBytes)
            {
                Interlocked.Add(ref pendingBytes, -item.Length);
                Interlocked.Increment(ref dropped);
                item.Release();
                if (Interlocked.Read(ref dropped) % 10_000 == 1)
                {
                    logger.LogError("NATS backplane: more than {Bytes} bytes wait for the nats-server (Nats:MaxPendingBytes); messages are dropped ({Dropped} so far)", options.MaxPendingBytes, Dropped);
                }

                return;
            }
        }

        if (!outbound.Writer.TryWrite(item))
        {
            item.Release();
            item.Done?.TrySetResult();
        }
    }

    /// <summary>The one writer to the NATS client: keeps subscribes, publishes and unsubscribes in the order they were made.</summary>
    private async Task PumpAsync()
    {
        await started.Task.ConfigureAwait(false);
        var reader = outbound.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                try
                {
                    await SendAsync(item).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
                {
                    Interlocked.Increment(ref dropped);
                    if (Volatile.Read(ref disposed) == 0)
                    {
                        logger.LogWarning("NATS backplane could not send ({Kind}): {Message}", item.Kind, ex.Message);
                    }
                }
                finally
                {
                    if (item.Buffer is not null)
                    {
                        Interlocked.Add(ref pendingBytes, -item.Length);
                    }

                    item.Release();
                }
            }
        }
    }

    private async ValueTask SendAsync(Outbound item)
    {
        switch (item.Kind)
        {
            case OutboundKind.Publish:
                {
                    var data = new ReadOnlyMemory<byte>(item.Buffer, 0, item.Length);
                    if (item.Targets is null)
                    {
                        await connection.PublishAsync(subjects.Of(item.Target), data, cancellationToken: stop.Token).ConfigureAwait(false);
                        return;
                    }

                    for (int i = 0; i < item.TargetCount; i++)
                    {
                        // A target named twice goes once: its subscribers get it from the first copy.
                        if (Array.IndexOf(item.Targets, item.Targets[i], 0, i) < 0)
                        {
                            await connection.PublishAsync(subjects.Of(item.Targets[i]), data, cancellationToken: stop.Token).ConfigureAwait(false);
                        }
                    }

                    return;
                }

            case OutboundKind.PublishRaw:
                await connection.PublishAsync(item.Subject!, new ReadOnlyMemory<byte>(item.Buffer, 0, item.Length), cancellationToken: stop.Token).ConfigureAwait(false);
                return;
            case OutboundKind.Subscribe:
                await connection.AddSubAsync(item.Subscription!, stop.Token).ConfigureAwait(false);
                return;
            case OutboundKind.Unsubscribe:
                await item.Subscription!.UnsubscribeAsync().ConfigureAwait(false);
                return;
            case OutboundKind.Flush:
                try
                {
                    await connection.PingAsync(stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    item.Done!.TrySetResult();
                }

                return;
        }
    }

    /// <summary>A message from the nats-server, on the NATS client's reader: decoded once and handed to the participants it is for.</summary>
    private void OnReceived(EnvelopeSubscription subscription, string subject, ReadOnlySequence<byte> data)
    {
        Interlocked.Increment(ref received);
        Envelope envelope;
        try
        {
            envelope = Decode(data);
        }
        catch (WireFormatException ex)
        {
            logger.LogError("NATS backplane: a malformed message on {Subject} was dropped: {Message}", subject, ex.Message);
            return;
        }

        var targets = CollectionsMarshal.AsSpan(receivedTargets);
        switch (subscription.Kind)
        {
            case SubscriptionKind.Channel when envelope.Type == InternalMessageType.ObjectHolderMoved:
                OnHolderMoved(envelope, subscription.Channel);
                break;
            case SubscriptionKind.Channel:
                {
                    int index = targets.IndexOf(subscription.Channel);
                    if (index >= 0)
                    {
                        DeliverLocally(envelope, targets, index, exact: true, inRanges: false);
                    }

                    break;
                }

            case SubscriptionKind.LocationRange:
                {
                    if (NatsSubjects.TryParseZone(subject, out uint zone))
                    {
                        int index = targets.IndexOf(Channel.ForLocation(subscription.Parent, zone));
                        if (index >= 0)
                        {
                            DeliverLocally(envelope, targets, index, exact: false, inRanges: true);
                        }
                    }

                    break;
                }

            case SubscriptionKind.Holder when subscription.Released:
                // The object moved to another node, which subscribed this subject before this node let it go.
                break;
            case SubscriptionKind.Holder:
                {
                    // A request for one of this node's roles (the State Server, or the Database role), about an object it holds.
                    int index = targets.IndexOf(Channel.StateServer);
                    if (index < 0)
                    {
                        index = targets.IndexOf(Channel.Database);
                    }

                    if (index >= 0)
                    {
                        DeliverLocally(envelope, targets, index, exact: true, inRanges: false);
                    }

                    break;
                }

            case SubscriptionKind.Node:
                if (envelope.Sender.Id != NodeId)
                {
                    OnNodeEnvelope(envelope, targets);
                }

                break;
        }
    }

    private Envelope Decode(ReadOnlySequence<byte> data)
    {
        if (data.Length < 2)
        {
            throw new WireFormatException(WireError.Truncated, "a backplane message shorter than its type");
        }

        if (data.IsSingleSegment)
        {
            return DecodeSpan(data.FirstSpan);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent((int)data.Length);
        try
        {
            data.CopyTo(copy);
            return DecodeSpan(copy.AsSpan(0, (int)data.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private Envelope DecodeSpan(ReadOnlySpan<byte> frame)
    {
        ushort type = (ushort)(frame[0] | (frame[1] << 8));
        return Envelope.Read(type, frame[2..], receivedTargets);
    }

    /// <summary>
    /// Hands <paramref name="envelope"/>, as the copy for <c>targets[index]</c>, to this process's participants that match
    /// that target (exactly, by a zone range, or both) and match no earlier target: each participant gets a publish
    /// once, however many of its targets it matches.
    /// </summary>
    private void DeliverLocally(Envelope envelope, ReadOnlySpan<Channel> targets, int index, bool exact, bool inRanges)
    {
        var target = targets[index];
        if (targets[..index].Contains(target) || SwallowedByGather(envelope, target))
        {
            return;
        }

        int reached = 0;
        table.TryGetSubscribers(target, out var subscribers);
        if (exact && subscribers is not null)
        {
            foreach (var participant in subscribers)
            {
                if (!MatchesEarlier(participant, targets, index))
                {
                    participant.Deliver(envelope, targets);
                    reached++;
                }
            }
        }

        if (inRanges && target.Kind == ChannelKind.Location && table.HasRanges && table.TryGetRanges(target.Id, out var zoneRanges))
        {
            for (int i = 0; i < zoneRanges.Length; i++)
            {
                var range = zoneRanges[i];
                if (range.Contains(target.Zone)
                    && (subscribers is null || Array.IndexOf(subscribers, range.Participant) < 0)
                    && !SubscriberTable.HeldEarlier(zoneRanges, i, target.Zone)
                    && !MatchesEarlier(range.Participant, targets, index))
                {
                    range.Participant.Deliver(envelope, targets);
                    reached++;
                }
            }
        }

        if (reached > 0)
        {
            Interlocked.Add(ref deliveries, reached);
        }
    }

    /// <summary>Whether <paramref name="participant"/> matches a target before <paramref name="index"/> (it got that copy).</summary>
    private bool MatchesEarlier(IParticipant participant, ReadOnlySpan<Channel> targets, int index)
    {
        for (int j = 0; j < index; j++)
        {
            if (table.Matches(participant, targets[j]))
            {
                return true;
            }
        }

        return false;
    }

    private void DropChannelSubscriptionLocked(Channel channel)
    {
        if (channelSubscriptions.Remove(channel, out var subscription))
        {
            Enqueue(Outbound.Unsubscribe(subscription));
        }
    }

    /// <summary>
    /// Makes the NATS subscriptions of <paramref name="parent"/>'s locations match its zone ranges here: one wildcard
    /// per shard the ranges touch, or one for the whole parent past <see cref="NatsSubjects.MaxShardWildcards"/>
    /// (see <see cref="NatsSubjects"/>). New wildcards are subscribed before old ones go, so nothing is missed.
    /// </summary>
    private void UpdateRangeSubscriptionsLocked(DoId parent)
    {
        var wanted = new HashSet<uint>();
        if (table.TryGetRanges(parent, out var list))
        {
            foreach (var range in list)
            {
                uint first = NatsSubjects.ShardOf(range.Low);
                uint last = NatsSubjects.ShardOf(range.High);
                if (last - first >= NatsSubjects.MaxShardWildcards)
                {
                    wanted.Clear();
                    wanted.Add(WholeParent);
                    break;
                }

                for (uint shard = first; shard <= last && shard >= first; shard++)
                {
                    wanted.Add(shard);
                }
            }

            if (wanted.Count > NatsSubjects.MaxShardWildcards)
            {
                wanted.Clear();
                wanted.Add(WholeParent);
            }
        }

        if (!rangeSubscriptions.TryGetValue(parent, out var current))
        {
            rangeSubscriptions[parent] = current = new Dictionary<uint, EnvelopeSubscription>();
        }

        foreach (uint shard in wanted)
        {
            if (!current.ContainsKey(shard))
            {
                var subscription = new EnvelopeSubscription(connection, subjects.LocationWildcard(parent, shard == WholeParent ? null : shard), SubscriptionKind.LocationRange, default, parent, OnReceived);
                current[shard] = subscription;
                Enqueue(Outbound.Subscribe(subscription));
            }
        }

        foreach (uint shard in current.Keys.ToList())
        {
            if (!wanted.Contains(shard))
            {
                current.Remove(shard, out var subscription);
                Enqueue(Outbound.Unsubscribe(subscription!));
            }
        }

        if (current.Count == 0)
        {
            rangeSubscriptions.Remove(parent);
        }
    }

    /// <summary>The key of the whole-parent wildcard among a parent's shard subscriptions (no real shard is this high).</summary>
    private const uint WholeParent = uint.MaxValue;

    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        Interlocked.Exchange(ref wasDisconnected, 1);
        logger.LogWarning("NATS backplane: disconnected from the nats-server ({Message}); reconnecting", args.Message);
        return default;
    }

    private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
    {
        if (Interlocked.Exchange(ref wasDisconnected, 0) == 1 && Volatile.Read(ref disposed) == 0)
        {
            // Messages may have been lost while the link was down, and a keeper may have routed this node's post-removes:
            // start over as a dropped MD link does. Keepers route the post-removes now, then hear them again, and the
            // AI creates its objects again (in that order: all of it travels through the same connection).
            logger.LogWarning("NATS backplane: reconnected to {Url}; post-removes routed and registered again", options.Url);
            SendNodeMessage(InternalMessageType.NodeGoodbye, ReadOnlySpan<byte>.Empty, OwnNodeSubject);
            ResendPostRemoves();
            PostRemovesRan?.Invoke(this, EventArgs.Empty);
        }

        return default;
    }

    private enum OutboundKind : byte
    {
        Publish,
        PublishRaw,
        Subscribe,
        Unsubscribe,
        Flush,
    }

    /// <summary>One thing for the NATS client, in order: a publish (to one target, or to several in a pooled array), a raw publish, a subscription change or a flush.</summary>
    private readonly record struct Outbound(OutboundKind Kind, Channel Target, Channel[]? Targets, int TargetCount, byte[]? Buffer, int Length, string? Subject, EnvelopeSubscription? Subscription, TaskCompletionSource? Done)
    {
        public static Outbound Subscribe(EnvelopeSubscription subscription) => new(OutboundKind.Subscribe, default, null, 0, null, 0, null, subscription, null);

        public static Outbound Unsubscribe(EnvelopeSubscription subscription) => new(OutboundKind.Unsubscribe, default, null, 0, null, 0, null, subscription, null);

        public static Outbound Flush(TaskCompletionSource done) => new(OutboundKind.Flush, default, null, 0, null, 0, null, null, done);

        /// <summary>Returns the pooled buffers.</summary>
        public void Release()
        {
            if (Buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
            }

            if (Targets is not null)
            {
                ArrayPool<Channel>.Shared.Return(Targets);
            }
        }
    }
}

/// <summary>The NATS backplane cannot do what it was asked: the nats-server is unreachable at start. The message names the key and the fix.</summary>
public sealed class NatsBackplaneException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NatsBackplaneException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
