using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;

namespace Pastry.Nats;

// Placement: several OTP nodes share one world (docs/deployment.md, "Placement across OTP nodes"). Each object lives on
// the node that created it (its holder), which subscribes the object's holder subject; every State Server or Database
// request is sent to the node it concerns, and the few that concern every node are gathered.
public sealed partial class NatsMessageRouter : IPlacementRouter
{
    /// <summary>The route of a request to this process's own roles: delivered in process, never published.</summary>
    private const string InProcess = "";

    /// <summary>
    /// How long a gather that no node has answered is kept: longer than any asker waits (an AI waits 30 s for a claim,
    /// 2 minutes for a take-over, whose answers may take <c>StateServer:AiHandOverTimeout</c>, at most 10 minutes).
    /// </summary>
    private static readonly TimeSpan UnansweredGatherLifetime = TimeSpan.FromMinutes(15);

    /// <summary>The most routes remembered (objects this process created); past it the memory starts again (see <see cref="routes"/>).</summary>
    private const int MaxRoutes = 1 << 20;

    // Objects this node's State Server holds, and the subscriptions of their holder subjects (under gate).
    private readonly Dictionary<DoId, EnvelopeSubscription> held = new();

    // For each object created or activated through this process: the subject it went to (or InProcess). Later requests
    // about it take the same way, because a request sent to its holder subject right after the create could reach the
    // nats-server before the holder subscribed it; one subject from one publisher keeps its order.
    // With the subject, the node it reaches when it is a node's (a placement subject, or this node): see PlaceUnder.
    private readonly Dictionary<DoId, (string Subject, DoId Node)> routes = new();

    // Requests sent to every node whose answers end with a QueryDone: the asker and context, and the dones still awaited.
    private readonly Dictionary<(Channel Asker, uint Context), Gather> gathers = new();
    private int gatherCount;
    private int warnedUnplacedRoot;
    private EnvelopeSubscription? placedInbox;

    /// <inheritdoc />
    public void Hold(DoId id)
    {
        lock (gate)
        {
            if (!held.ContainsKey(id))
            {
                var subscription = new EnvelopeSubscription(connection, subjects.Holder(id), SubscriptionKind.Holder, default, DoId.Empty, OnReceived);
                held[id] = subscription;
                Enqueue(Outbound.Subscribe(subscription));
            }
        }
    }

    /// <inheritdoc />
    public void Release(DoId id)
    {
        lock (gate)
        {
            if (held.Remove(id, out var subscription))
            {
                Enqueue(Outbound.Unsubscribe(subscription));
            }
        }
    }

    /// <summary>Subscribes this keeper's placement subject, where root objects placed on it arrive (at start).</summary>
    private void SubscribePlacedLocked()
    {
        placedInbox = new EnvelopeSubscription(connection, subjects.Placed(NodeId), SubscriptionKind.Holder, default, DoId.Empty, OnReceived);
        Enqueue(Outbound.Subscribe(placedInbox));
    }

    /// <summary>
    /// Sends a request for the State Server or the Database role to the node it concerns; false when it concerns every
    /// node (or no node is known yet), and the caller publishes it to the role's subject as before.
    /// </summary>
    private bool TryPlace(Envelope envelope, Channel role)
    {
        if (role == Channel.StateServer)
        {
            switch (envelope.Type)
            {
                case InternalMessageType.CreateObject:
                    return PlaceUnder(envelope, role, ParentAt(envelope, 4));
                case InternalMessageType.ActivateObject:
                    return PlaceUnder(envelope, role, ParentAt(envelope, 8));
                case InternalMessageType.QueryZones:
                    {
                        var parent = ParentAt(envelope, 4);
                        return parent.IsEmpty ? GatherFromEveryNode(envelope) : SendAbout(envelope, role, parent, remember: DoId.Empty);
                    }

                case InternalMessageType.QueryOwned:
                case InternalMessageType.ClaimAiObjects:
                case InternalMessageType.TakeOverAi:
                    // A take-over: every node switches the objects it holds to the new AI, each answering with its
                    // ClaimedAiObjects and a done (all at once, when the old AI says it stopped).
                    return GatherFromEveryNode(envelope);
                case InternalMessageType.DeleteAiObjects:
                case InternalMessageType.ParkAiObjects:
                case InternalMessageType.AiHandedOver:
                case InternalMessageType.TakenOverAiStarted:
                case InternalMessageType.ServeDistricts:
                case InternalMessageType.SessionClosed:
                case InternalMessageType.LinkParticipantRestricted:
                case InternalMessageType.LinkParticipantReleased:
                    return false;
                default:
                    return !envelope.Subject.IsEmpty && SendAbout(envelope, role, envelope.Subject, remember: DoId.Empty);
            }
        }

        // The Database role: a request about an object goes to the node that holds it (its write-throughs stay in order
        // on one role), or, when this process cannot tell, to the node the mapping gives the object.
        var key = envelope.Subject.IsEmpty ? envelope.Sender.Id : envelope.Subject;
        if (TryRoute(key, out var route))
        {
            Send(envelope, role, route);
            return true;
        }

        return SendToNodeOf(envelope, role, key, remember: DoId.Empty);
    }

    /// <summary>
    /// A create or an activation under <paramref name="parent"/>: to the parent's holder, or placed by the mapping when
    /// it is a root. An object this process created before on a node that is still live goes there again: an AI that
    /// creates its objects again after another node died must not place an object a survivor holds on a third node
    /// (the holder refuses the create as a duplicate, and the route stays right).
    /// </summary>
    private bool PlaceUnder(Envelope envelope, Channel role, DoId parent)
    {
        if (envelope.Subject.IsEmpty)
        {
            return false;
        }

        if (TryRememberedNode(envelope.Subject, out var known) && (known.Node == NodeId || Array.IndexOf(LiveOtpNodes, known.Node) >= 0))
        {
            Send(envelope, role, known.Subject);
            return true;
        }

        if (!parent.IsEmpty)
        {
            return SendAbout(envelope, role, parent, remember: envelope.Subject);
        }

        if (SendToNodeOf(envelope, role, envelope.Subject, remember: envelope.Subject))
        {
            return true;
        }

        // No OTP node heard yet (a process that did not wait for one): the role's subject, as before placement, and the
        // requests that follow about this object take it too, or they could overtake the holder's subscription. Every
        // OTP node subscribes that subject, so with several nodes each would create the object: say so once.
        if (Interlocked.Exchange(ref warnedUnplacedRoot, 1) == 0)
        {
            logger.LogWarning("NATS backplane: root object {Object} was created before this process heard any OTP node, so it goes to every OTP node's State Server; with more than one OTP node each creates it. Await WaitForKeeperAsync before the first create (a hosted AI does).", envelope.Subject);
        }

        Remember(envelope.Subject, subjects.Of(role), DoId.Empty);
        return false;
    }

    /// <summary>The route remembered for <paramref name="id"/> when it reaches a known node (not a parent's holder subject).</summary>
    private bool TryRememberedNode(DoId id, out (string Subject, DoId Node) route)
    {
        lock (gate)
        {
            return routes.TryGetValue(id, out route) && !route.Node.IsEmpty;
        }
    }

    /// <summary>Sends a request about <paramref name="key"/> to its holder, and remembers the way for <paramref name="remember"/> (a new object).</summary>
    private bool SendAbout(Envelope envelope, Channel role, DoId key, DoId remember)
    {
        if (!TryRoute(key, out var route, out var node))
        {
            route = subjects.Holder(key);
            node = DoId.Empty;
        }

        Remember(remember, route, node);
        Send(envelope, role, route);
        return true;
    }

    /// <summary>Sends to the node the mapping gives <paramref name="key"/>; false when no OTP node is known.</summary>
    private bool SendToNodeOf(Envelope envelope, Channel role, DoId key, DoId remember)
    {
        var node = OtpNodeFor(key);
        if (node.IsEmpty)
        {
            return false;
        }

        string route = node == NodeId ? InProcess : subjects.Placed(node);
        Remember(remember, route, node);
        Send(envelope, role, route);
        return true;
    }

    /// <summary>The way to <paramref name="key"/>'s holder that this process knows: its own State Server holds it, or it created it.</summary>
    private bool TryRoute(DoId key, out string route) => TryRoute(key, out route, out _);

    /// <summary>As <see cref="TryRoute(DoId, out string)"/>, with the node the route reaches when it is a node's.</summary>
    private bool TryRoute(DoId key, out string route, out DoId node)
    {
        lock (gate)
        {
            if (held.ContainsKey(key))
            {
                route = InProcess;
                node = NodeId;
                return true;
            }

            bool known = routes.TryGetValue(key, out var remembered);
            (route, node) = known ? remembered : (string.Empty, DoId.Empty);
            return known;
        }
    }

    private void Remember(DoId id, string route, DoId node)
    {
        if (id.IsEmpty)
        {
            return;
        }

        lock (gate)
        {
            if (routes.Count >= MaxRoutes)
            {
                // Bounded: a forgotten route costs only the subscribe race above for an object created long ago.
                routes.Clear();
            }

            routes[id] = (route, node);
        }
    }

    /// <summary>Delivers to this process's subscribers of <paramref name="role"/>, or publishes to <paramref name="route"/> for the node there.</summary>
    private void Send(Envelope envelope, Channel role, string route)
    {
        var targets = new ReadOnlySpan<Channel>(in role);
        if (route.Length == 0)
        {
            DeliverLocally(envelope, targets, 0, exact: true, inRanges: false);
            return;
        }

        if (Volatile.Read(ref disposed) == 0 && Encode(envelope, targets) is { } frame)
        {
            Enqueue(new Outbound(OutboundKind.PublishRaw, default, null, 0, frame.Buffer, frame.Length, route, null, null));
        }
    }

    /// <summary>
    /// A request every node answers with entries and one <see cref="InternalMessageType.QueryDone"/> (its context leads
    /// the payload): the asker gets every node's entries and only the last done, so it hears one complete answer.
    /// Sent to the role's subject by the caller (false), after the gather is set up.
    /// </summary>
    private bool GatherFromEveryNode(Envelope envelope)
    {
        int nodes = LiveOtpNodes.Length;
        if (nodes > 1 && envelope.Payload.Length >= 4)
        {
            uint context = BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
            lock (gathers)
            {
                gathers[(envelope.Sender, context)] = new Gather(nodes, Environment.TickCount64);
                gatherCount = gathers.Count;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a done for <paramref name="target"/> is one of several a gather awaits and not the last: then it is
    /// swallowed. Cheap when nothing is gathered (one volatile read).
    /// </summary>
    private bool SwallowedByGather(Envelope envelope, Channel target)
    {
        if (Volatile.Read(ref gatherCount) == 0 || envelope.Type != InternalMessageType.QueryDone || envelope.Payload.Length < 4)
        {
            return false;
        }

        uint context = BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        lock (gathers)
        {
            if (!gathers.TryGetValue((target, context), out var gather))
            {
                return false;
            }

            if (--gather.Awaited > 0)
            {
                gather.Swallowed ??= envelope;
                gather.FirstAnswer = gather.FirstAnswer == 0 ? Environment.TickCount64 : gather.FirstAnswer;
                return true;
            }

            gathers.Remove((target, context));
            gatherCount = gathers.Count;
            return false;
        }
    }

    /// <summary>
    /// Ends gathers whose first done came more than twice <see cref="NatsBackplaneOptions.NodeTimeout"/> ago: a node that
    /// left before answering would hold the asker forever, so the asker gets a done that came (it has every entry the
    /// others sent). Measured from the first answer, not the request: the nodes answer a take-over only once the old AI
    /// stopped (up to <c>StateServer:AiHandOverTimeout</c> later), all at about the same time. A gather no node answered
    /// is forgotten after <see cref="UnansweredGatherLifetime"/> (its asker gave up long before). On the heartbeat timer.
    /// </summary>
    private void ExpireGathers()
    {
        if (Volatile.Read(ref gatherCount) == 0)
        {
            return;
        }

        long now = Environment.TickCount64;
        List<(Channel Asker, Envelope Done)>? late = null;
        lock (gathers)
        {
            foreach (var (key, gather) in gathers.ToList())
            {
                if (gather.FirstAnswer != 0 ? now - gather.FirstAnswer > (long)options.NodeTimeout.TotalMilliseconds * 2 : now - gather.Since > (long)UnansweredGatherLifetime.TotalMilliseconds)
                {
                    gathers.Remove(key);
                    if (gather.Swallowed is { } done)
                    {
                        (late ??= new()).Add((key.Asker, done));
                    }
                }
            }

            gatherCount = gathers.Count;
        }

        foreach (var (asker, done) in late ?? [])
        {
            logger.LogWarning("NATS backplane: an OTP node did not answer a request to every node within {Timeout}; {Asker} gets the answers of the others", options.NodeTimeout * 2, asker);
            DeliverLocally(done, new ReadOnlySpan<Channel>(in asker), 0, exact: true, inRanges: true);
        }
    }

    /// <summary>The parent a create-like request names at <paramref name="offset"/> of its payload, or empty when it is too short.</summary>
    private static DoId ParentAt(Envelope envelope, int offset) =>
        envelope.Payload.Length >= offset + DoId.Size ? DoId.Read(envelope.Payload.Span.Slice(offset, DoId.Size)) : DoId.Empty;

    /// <summary>How many dones a gather still awaits, since when, and when the first one came.</summary>
    private sealed class Gather(int awaited, long since)
    {
        public int Awaited { get; set; } = awaited;

        /// <summary>A done held back (they are all alike), for <see cref="ExpireGathers"/>.</summary>
        public Envelope? Swallowed { get; set; }

        public long Since { get; } = since;

        /// <summary>When the first done came (<see cref="Environment.TickCount64"/>), or 0 while none has.</summary>
        public long FirstAnswer { get; set; }
    }
}
