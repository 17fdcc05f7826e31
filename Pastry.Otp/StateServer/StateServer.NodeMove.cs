using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// Several OTP nodes share one world (docs/deployment.md, "Moving an object to another node"): an object lives on the
// node that holds its parent, so a SetLocation under a parent that another node holds hands the object, with its whole
// subtree, to that node. It is the per-object AI handover of StateServer.Handover.cs one level down: one step, the
// values as the State Server keeps them, requests held while the step is under way and handled afterwards in order.
//
//   A (holder of O)                                    B (holder of the new parent P)
//   SetLocation(O -> P): holds every request about the subtree
//   [Db write-throughs of the subtree committed: a DbGetAll barrier on A's own Database role]
//   ObjectMoveOffer --(P's holder subject)-->          checks, creates the subtree in RAM, Hold (subscribes h.<id>),
//                                                      publishes the move (ChangingLocation), as a local move does
//                   <--(A's placement subject)--       ObjectMoveAnswer (accepted); holds requests reaching it directly
//   forgets the subtree, Release (drops h.<id>), keeps a forwarding entry per id
//   ObjectMoveForwarded (each held request, in order) -->   handled at once
//   ObjectMoveEnd -->                                  handles what it held meanwhile (duplicates of forwarded ones dropped)
//   later requests that still reach A (remembered routes) --> forwarded; their sender's router is told (ObjectHolderMoved)
//
// A refusal (B does not hold P, an id clash, ...) or no answer within StateServer:MoveTimeout leaves the subtree on A, the
// mover gets the Error a local refusal gives, and the held requests are handled on A.
internal sealed partial class StateServer
{
    /// <summary>The most bytes one move's offer may carry (the values of the whole subtree); a NATS message is 1 MiB at most by default.</summary>
    internal const int MaxMoveOfferBytes = 512 * 1024;

    private readonly int maxMovedObjects;
    private readonly TimeSpan moveTimeout;
    private readonly TimeSpan moveForwardTime;

    /// <summary>Moves this node offered and that are not answered yet, by move id.</summary>
    private readonly Dictionary<uint, OutgoingMove> outgoing = new();

    /// <summary>Every object of a subtree this node is offering: requests about it are held until the answer.</summary>
    private readonly Dictionary<DoId, OutgoingMove> movingOut = new();

    /// <summary>Objects that moved to another node: where requests that still reach this node go, and until when (Environment.TickCount64).</summary>
    private readonly Dictionary<DoId, (DoId Node, long Until)> forwards = new();

    /// <summary>Every object of a subtree this node took and whose old holder has not said it forwarded everything yet.</summary>
    private readonly Dictionary<DoId, IncomingMove> movingIn = new();

    /// <summary>DbGetAll barriers (by activation request id) that a move waits for before its offer.</summary>
    private readonly Dictionary<uint, OutgoingMove> moveBarriers = new();

    private uint nextMove;

    /// <summary>Whether the request being handled was forwarded by an old holder (it must not wait for the forwards that precede it).</summary>
    private bool handlingForwarded;

    /// <summary>How many moves between nodes wait for an answer, and how many forwarding entries are kept (tests, diagnostics).</summary>
    internal (int Outgoing, int Forwards, int Incoming) NodeMoveCounts => (outgoing.Count, forwards.Count, movingIn.Count);

    /// <summary>Whether anything of a move between nodes is under way or remembered: one check per message otherwise.</summary>
    private bool AnyNodeMove => movingOut.Count != 0 || forwards.Count != 0 || movingIn.Count != 0;

    /// <summary>
    /// <c>SetLocation</c> of <paramref name="obj"/> under <paramref name="parent"/>, which another node holds: offers the
    /// object and its subtree to that node. Requests about the subtree wait until it answers.
    /// </summary>
    private void MoveToOtherNode(StateObject obj, DoId parent, uint zone, Envelope request)
    {
        var subtree = SubtreeOf(obj, maxMovedObjects + 1);
        if (subtree.Count > maxMovedObjects)
        {
            logger.LogWarning("State Server: moving {Model} {DoId} under {Parent} (another OTP node) would carry more than StateServer:MaxMovedObjects ({Max}) objects", obj.Model.Name, obj.Id, parent, maxMovedObjects);
            Refuse(request, $"set location of {obj.Id}: parent {parent} is held by another OTP node, and the object moves there with everything beneath it: more than StateServer:MaxMovedObjects ({maxMovedObjects}) objects; move fewer at a time or raise the limit");
            return;
        }

        var move = new OutgoingMove(++nextMove, obj, subtree, request, parent, zone);
        outgoing[move.Id] = move;
        foreach (var member in subtree)
        {
            movingOut[member.Id] = move;
        }

        StartMoveTimer(move);

        // The Database role follows the holder: the write-throughs of the subtree queued on this node's role must be
        // committed before the new holder's own can be. An answer to a read comes after the commit of every write before it.
        var stored = subtree.FirstOrDefault(o => o.DbBacked);
        if (databaseEnabled && stored is not null)
        {
            uint barrier = ++nextActivation;
            moveBarriers[barrier] = move;
            Publish(DatabaseMessages.GetAll(barrier, stored.Model, stored.Id, Messaging.Channel.StateServer), Messaging.Channel.Database);
            return;
        }

        SendOffer(move);
    }

    /// <summary>The answer to a move's Db barrier (a DbGetAllResp): true when it was one, and the offer goes out now.</summary>
    private bool TryEndMoveBarrier(uint request)
    {
        if (moveBarriers.Count == 0 || !moveBarriers.Remove(request, out var move))
        {
            return false;
        }

        if (outgoing.ContainsKey(move.Id))
        {
            SendOffer(move);
        }

        return true;
    }

    private void SendOffer(OutgoingMove move)
    {
        var obj = move.Root;
        scratch.Reset();
        scratch.WriteDoId(move.NewParent);
        scratch.WriteUInt32(move.NewZone);
        scratch.WriteDoId(placement!.NodeId);
        scratch.WriteUInt32(move.Id);
        scratch.WriteDoId(obj.Location.Parent);
        scratch.WriteUInt32(obj.Location.Zone);
        scratch.WriteUInt16((ushort)move.Subtree.Count);
        foreach (var member in move.Subtree)
        {
            scratch.WriteDoId(member.Id);
            scratch.WriteUInt32(member.Model.ClassId);
            scratch.WriteDoId(member.Location.Parent);
            scratch.WriteUInt32(member.Location.Zone);
            scratch.WriteDoId(member.Owner);
            member.Ai.Write(scratch);
            (releasedBy.TryGetValue(member.Id, out var previous) ? previous : default).Write(scratch);
            scratch.WriteByte(member.DbBacked ? (byte)1 : (byte)0);
            WriteStoredValues(member);
        }

        if (scratch.WrittenCount > MaxMoveOfferBytes)
        {
            int bytes = scratch.WrittenCount;
            EndOutgoing(move);
            logger.LogWarning("State Server: moving {Model} {DoId} under {Parent} (another OTP node) would carry {Bytes} bytes, more than {Max}", obj.Model.Name, obj.Id, move.NewParent, bytes, MaxMoveOfferBytes);
            Refuse(move.Request, $"set location of {obj.Id}: parent {move.NewParent} is held by another OTP node, and the values of the object and everything beneath it ({bytes} bytes) are more than one move carries ({MaxMoveOfferBytes}); move fewer objects at a time");
            ReplayHeld(move);
            return;
        }

        // Sent to the new parent's holder (the router knows the way); the mover is the sender, as for a local move.
        Publish(new Envelope(InternalMessageType.ObjectMoveOffer, move.Request.Sender, obj.Id, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
        logger.LogDebug("Offered {Model} {DoId} and {Count} object(s) beneath it to the holder of {Parent}", obj.Model.Name, obj.Id, move.Subtree.Count - 1, move.NewParent);
    }

    /// <summary><see cref="InternalMessageType.ObjectMoveOffer"/>: another node hands this node an object (and its subtree) that moves under a parent held here.</summary>
    private void AcceptMove(Envelope envelope)
    {
        var payload = envelope.Payload;
        var reader = new WireReader(payload.Span);
        var newParent = reader.ReadDoId();
        uint newZone = reader.ReadUInt32();
        var fromNode = reader.ReadDoId();
        uint moveId = reader.ReadUInt32();
        var oldParent = reader.ReadDoId();
        uint oldZone = reader.ReadUInt32();
        int count = reader.ReadUInt16();
        if (placement is null)
        {
            logger.LogWarning("State Server got an ObjectMoveOffer for {DoId} from {Node}, but this node takes part in no placement; dropped", envelope.Subject, fromNode);
            return;
        }

        string? problem = !graph.Contains(newParent) ? $"parent {newParent} does not exist"
            : count == 0 || count > maxMovedObjects ? $"it carries {count} objects, and this node takes 1 to StateServer:MaxMovedObjects ({maxMovedObjects})"
            : null;
        var incoming = new List<(StateObject Obj, DoId Parent, uint Zone, Messaging.Channel ReleasedBy)>(Math.Min(count, 1024));
        var offered = new HashSet<DoId>();
        for (int i = 0; i < count && problem is null; i++)
        {
            var id = reader.ReadDoId();
            uint classId = reader.ReadUInt32();
            var parent = reader.ReadDoId();
            uint zone = reader.ReadUInt32();
            var owner = reader.ReadDoId();
            var ai = Messaging.Channel.Read(ref reader);
            var previous = Messaging.Channel.Read(ref reader);
            bool dbBacked = reader.ReadByte() == 1;
            int fields = reader.ReadUInt16();
            if (!registry.TryGetModel(classId, out var model))
            {
                problem = $"{id} has class id {classId}, unknown here; are both nodes built from the same models?";
                break;
            }

            if (id.IsEmpty || graph.Contains(id) || activating.Contains(id) || movingOut.ContainsKey(id))
            {
                problem = $"{model.Name} {id} already exists on the node of the new parent";
                break;
            }

            // An old node lists a subtree parents first, each object once (SubtreeOf). An offer that does not could
            // only be placed in part, and would leave half of a subtree here while the old node keeps all of it.
            if (i > 0 && !offered.Contains(parent))
            {
                problem = $"{model.Name} {id} names {parent} as its parent, which is not an object before it in the offer";
                break;
            }

            if (!offered.Add(id))
            {
                problem = $"{model.Name} {id} is in the offer twice";
                break;
            }

            var parsed = new (int Field, int Start, int Length)[fields];
            ReadFields(ref reader, model, parsed);
            var obj = new StateObject(id, LayoutOf(model, dbBacked), ai) { Owner = owner };
            obj.SetValues(payload.Span, parsed);
            incoming.Add((obj, i == 0 ? newParent : parent, i == 0 ? newZone : zone, previous));
        }

        if (problem is null)
        {
            reader.EnsureAtEnd();
        }

        var root = incoming.Count > 0 ? incoming[0].Obj : null;
        if (problem is null && root!.Id != envelope.Subject)
        {
            problem = $"the offer's first object is {root.Id}, not {envelope.Subject}";
        }

        if (problem is null)
        {
            // Cannot throw: the new parent is placed here and the root is not (both checked above), so the root is
            // neither its own parent, nor inside itself, nor placed twice.
            graph.Place(root!, newParent, newZone);
        }

        if (problem is not null)
        {
            string reason = $"set location of {envelope.Subject}: {problem}";
            logger.LogWarning("State Server refused to take {DoId} from OTP node {Node}: {Reason}", envelope.Subject, fromNode, reason);
            AnswerMove(fromNode, envelope.Subject, moveId, accepted: false, reason);
            return;
        }

        var arrival = new IncomingMove(envelope.Subject, fromNode);
        for (int i = 0; i < incoming.Count; i++)
        {
            var (obj, parent, zone, previous) = incoming[i];
            if (i > 0)
            {
                graph.Place(obj, parent, zone);
            }

            if (previous.Kind != ChannelKind.None)
            {
                releasedBy[obj.Id] = previous;
            }

            // Back where it was before: it is no longer somewhere else.
            forwards.Remove(obj.Id);
            placement.Hold(obj.Id);
            movingIn[obj.Id] = arrival;
            arrival.Ids.Add(obj.Id);
        }

        StartArrivalTimer(arrival);

        // Viewers of the old and the new location, and the owner, see the move as from one node (the old location's
        // viewers heard the old holder's last word about it before this: the offer came after it).
        PublishMove(root!, new Location(oldParent, oldZone), envelope.Sender);
        logger.LogInformation("Took {Model} {DoId} and {Count} object(s) beneath it from OTP node {Node}: moved from {Old} to {Location}", root!.Model.Name, root.Id, incoming.Count - 1, fromNode, new Location(oldParent, oldZone), root.Location);
        AnswerMove(fromNode, root.Id, moveId, accepted: true, string.Empty);

        // Into a district another AI serves: that AI's from this step on, as for a local move.
        HandOverToDistrictAi(root, new Envelope(InternalMessageType.SetLocation, envelope.Sender, root.Id, ReadOnlyMemory<byte>.Empty));
    }

    private void AnswerMove(DoId toNode, DoId id, uint moveId, bool accepted, string reason)
    {
        scratch.Reset();
        scratch.WriteDoId(toNode);
        scratch.WriteUInt32(moveId);
        scratch.WriteByte(accepted ? (byte)1 : (byte)0);
        scratch.WriteDoId(placement!.NodeId);
        scratch.WriteString(reason);
        SendToNode(toNode, new Envelope(InternalMessageType.ObjectMoveAnswer, Messaging.Channel.StateServer, id, scratch.WrittenSpan.ToArray()));
    }

    /// <summary><see cref="InternalMessageType.ObjectMoveAnswer"/> (or its timer, with no payload): the offer of a move was answered.</summary>
    private void OnMoveAnswer(Envelope envelope)
    {
        if (envelope.Payload.IsEmpty)
        {
            OnOfferTimedOut(envelope);
            return;
        }

        var reader = new WireReader(envelope.Payload.Span);
        reader.ReadDoId();
        uint moveId = reader.ReadUInt32();
        bool accepted = reader.ReadByte() == 1;
        var byNode = reader.ReadDoId();
        string reason = reader.ReadString();
        reader.EnsureAtEnd();
        // Looked up, not removed: an answer that names another object than the move's is not the move's answer, and the
        // move must stay to be answered (or to time out) and release the requests it holds.
        if (!outgoing.TryGetValue(moveId, out var move) || move.Root.Id != envelope.Subject)
        {
            if (accepted)
            {
                // Too late (it timed out), or the object was deleted meanwhile: the other node's copy goes, this one stays.
                CallOffLateMove(envelope.Subject, byNode);
            }

            return;
        }

        EndOutgoing(move);
        if (!accepted)
        {
            Refuse(move.Request, reason);
            ReplayHeld(move);
            return;
        }

        if (move.Cancelled)
        {
            CallOffLateMove(envelope.Subject, byNode);
            ReplayHeld(move);
            return;
        }

        // The new holder holds the subtree and subscribed its holder subjects: this node forgets it, and what still
        // reaches it goes there.
        long until = Environment.TickCount64 + (long)moveForwardTime.TotalMilliseconds;
        SweepForwards();
        var ids = new List<DoId>(move.Subtree.Count);
        foreach (var removed in graph.RemoveNodes(move.Root.Id))
        {
            ForgetHandover(removed.Id);
            placement!.Release(removed.Id);
            forwards[removed.Id] = (byNode, until);
            ids.Add(removed.Id);
        }

        logger.LogInformation("Moved {Model} {DoId} and {Count} object(s) beneath it to OTP node {Node}, under {Parent}; {Held} request(s) held meanwhile forwarded there", move.Root.Model.Name, move.Root.Id, ids.Count - 1, byNode, move.NewParent, move.Held.Count);
        while (move.Held.TryDequeue(out var held))
        {
            Forward(held, byNode);
        }

        scratch.Reset();
        scratch.WriteUInt16((ushort)ids.Count);
        foreach (var id in ids)
        {
            scratch.WriteDoId(id);
        }

        SendToNode(byNode, new Envelope(InternalMessageType.ObjectMoveEnd, Messaging.Channel.StateServer, move.Root.Id, scratch.WrittenSpan.ToArray()));
    }

    /// <summary>The new holder did not answer within <c>StateServer:MoveTimeout</c>: the subtree stays here, as if it had refused.</summary>
    private void OnOfferTimedOut(Envelope expiry)
    {
        var move = outgoing.Values.FirstOrDefault(m => ReferenceEquals(m.Expiry, expiry));
        if (move is null)
        {
            return;
        }

        outgoing.Remove(move.Id);
        EndOutgoing(move);
        logger.LogWarning("State Server: no OTP node took {Model} {DoId} under {Parent} within StateServer:MoveTimeout ({Timeout}); it stays here", move.Root.Model.Name, move.Root.Id, move.NewParent, moveTimeout);
        if (!move.Cancelled)
        {
            Refuse(move.Request, $"set location of {move.Root.Id}: parent {move.NewParent} does not exist (no OTP node holding it answered within {moveTimeout.TotalSeconds:0.###} s)");
        }

        ReplayHeld(move);
    }

    /// <summary>
    /// An accepted move this node no longer goes on with: the other node deletes its copy (its viewers see it go), and
    /// when the object is still here, its location's viewers see it again (they saw it leave).
    /// </summary>
    private void CallOffLateMove(DoId id, DoId node)
    {
        logger.LogWarning("State Server: OTP node {Node} took {DoId} after this node called the move off (timed out, or deleted meanwhile); it deletes its copy", node, id);
        SendToNode(node, new Envelope(InternalMessageType.ObjectMoveCancelled, Messaging.Channel.StateServer, id, ReadOnlyMemory<byte>.Empty));
        if (TryGetObject(id, out var obj))
        {
            PublishToLocationAndOwner(new Envelope(InternalMessageType.EnterLocation, Messaging.Channel.StateServer, obj.Id, EntryOf(obj)), obj, DoId.Empty);
        }
    }

    /// <summary><see cref="InternalMessageType.ObjectMoveCancelled"/>: the old holder kept (or deleted) what it offered; this node's copy goes.</summary>
    private void OnMoveCancelled(Envelope envelope)
    {
        if (!movingIn.TryGetValue(envelope.Subject, out var arrival) || arrival.Root != envelope.Subject)
        {
            return;
        }

        EndArrival(arrival, replay: false);
        if (graph.Contains(envelope.Subject))
        {
            Delete(envelope.Subject, envelope);
        }
    }

    /// <summary><see cref="InternalMessageType.ObjectMoveEnd"/> (or its timer, with no payload): the old holder forwarded all it held; what reached this node directly goes next.</summary>
    private void OnMoveEnd(Envelope envelope)
    {
        if (envelope.Payload.IsEmpty)
        {
            var expired = movingIn.Values.FirstOrDefault(a => ReferenceEquals(a.Expiry, envelope));
            if (expired is not null)
            {
                logger.LogWarning("State Server: OTP node {Node} did not say it forwarded what it held for {DoId} within StateServer:MoveTimeout ({Timeout}); the {Held} request(s) that reached this node meanwhile are handled now", expired.FromNode, expired.Root, moveTimeout, expired.Held.Count);
                EndArrival(expired, replay: true);
            }

            return;
        }

        if (movingIn.TryGetValue(envelope.Subject, out var arrival) && arrival.Root == envelope.Subject)
        {
            EndArrival(arrival, replay: true);
        }
    }

    private void EndArrival(IncomingMove arrival, bool replay)
    {
        arrival.Timer?.Dispose();
        foreach (var id in arrival.Ids)
        {
            if (movingIn.TryGetValue(id, out var current) && ReferenceEquals(current, arrival))
            {
                movingIn.Remove(id);
            }
        }

        if (!replay)
        {
            arrival.Held.Clear();
            return;
        }

        while (arrival.Held.TryDequeue(out var held))
        {
            HandleSafely(held);
        }
    }

    /// <summary><see cref="InternalMessageType.ObjectMoveForwarded"/>: a request that reached the old holder, handled here as if it had been sent here.</summary>
    private void OnForwarded(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        reader.ReadDoId();
        ushort type = reader.ReadUInt16();
        var inner = Envelope.Read(type, envelope.Payload.Span.Slice(reader.Position), new List<Messaging.Channel>(0));

        // The same request may also have reached this node directly (its holder subject, while both nodes subscribed
        // it): the direct copy is the duplicate, and goes.
        if (movingIn.TryGetValue(ConcernedObject(inner), out var arrival))
        {
            arrival.DropDuplicate(inner);
        }

        handlingForwarded = true;
        try
        {
            HandleSafely(inner);
        }
        finally
        {
            handlingForwarded = false;
        }
    }

    /// <summary>
    /// Whether <paramref name="envelope"/> is about an object that is moving between nodes or has moved away: then it
    /// is held (until the move is answered, or until the old holder forwarded all it held) or forwarded, and not handled now.
    /// </summary>
    private bool DivertedByMove(Envelope envelope)
    {
        var id = ConcernedObject(envelope);
        if (id.IsEmpty)
        {
            return false;
        }

        if (movingOut.TryGetValue(id, out var move))
        {
            return HoldForMove(envelope, id, move.Held);
        }

        if (!handlingForwarded && movingIn.TryGetValue(id, out var arrival))
        {
            return HoldForMove(envelope, id, arrival.Held);
        }

        if (forwards.TryGetValue(id, out var forward) && !graph.Contains(id))
        {
            if (Environment.TickCount64 > forward.Until)
            {
                forwards.Remove(id);
                return false;
            }

            logger.LogDebug("Forwarded {Type} from {Sender} about {DoId} to OTP node {Node}, which holds it now", envelope.Type, envelope.Sender, id, forward.Node);
            Forward(envelope, forward.Node);
            NotifyHolderMoved(envelope.Sender, id, forward.Node, probe: envelope.Type == InternalMessageType.ObjectMoveProbe);
            return true;
        }

        return false;
    }

    private bool HoldForMove(Envelope envelope, DoId id, Queue<Envelope> held)
    {
        if (held.Count >= maxHandOverHeldRequests)
        {
            string reason = $"{id} is moving to another OTP node and {held.Count} requests already wait for it (StateServer:MaxHandOverHeldRequests); send it again";
            if (envelope.Sender.Kind == ChannelKind.Session)
            {
                RefuseRequest(envelope, id, EjectCode.ObjectMoveBacklogFull, reason);
            }
            else
            {
                Refuse(envelope, reason);
            }

            return true;
        }

        held.Enqueue(envelope);
        return true;
    }

    /// <summary>The object a request to the State Server is about, for a move between nodes: its subject, or the parent it names; empty for the others.</summary>
    private static DoId ConcernedObject(Envelope envelope) => envelope.Type switch
    {
        InternalMessageType.SetField or InternalMessageType.SetFields or InternalMessageType.SetFieldsStored or InternalMessageType.ClientSetField
            or InternalMessageType.CallMethod or InternalMessageType.ClientCallMethod or InternalMessageType.SetLocation
            or InternalMessageType.SetOwner or InternalMessageType.DeleteObject or InternalMessageType.HandOverObject
            or InternalMessageType.DbSetFields or InternalMessageType.DbSetFieldsIfEquals or InternalMessageType.DbDeleteObject
            or InternalMessageType.ObjectMoveProbe => envelope.Subject,
        InternalMessageType.CreateObject or InternalMessageType.QueryZones => PayloadDoId(envelope, 4),
        InternalMessageType.ActivateObject => PayloadDoId(envelope, 8),
        InternalMessageType.ObjectMoveOffer => PayloadDoId(envelope, 0),
        _ => DoId.Empty,
    };

    private static DoId PayloadDoId(Envelope envelope, int offset) =>
        envelope.Payload.Length >= offset + DoId.Size ? DoId.Read(envelope.Payload.Span.Slice(offset, DoId.Size)) : DoId.Empty;

    /// <summary>Sends <paramref name="request"/> to the node that holds its object now, wrapped, so that it is handled there as if sent there.</summary>
    private void Forward(Envelope request, DoId node)
    {
        scratch.Reset();
        scratch.WriteDoId(node);
        scratch.WriteUInt16((ushort)request.Type);
        request.WriteBody(scratch, ReadOnlySpan<Messaging.Channel>.Empty);
        SendToNode(node, new Envelope(InternalMessageType.ObjectMoveForwarded, Messaging.Channel.StateServer, request.Subject, scratch.WrittenSpan.ToArray()));
    }

    /// <summary>
    /// <see cref="InternalMessageType.ObjectMoveProbe"/> that reached the State Server (this node holds the object, or
    /// knows nothing of it): everything the sender sent this way before it is handled, so it is answered. A probe
    /// forwarded here was answered by the node that forwarded it.
    /// </summary>
    private void OnMoveProbe(Envelope envelope)
    {
        if (!handlingForwarded && placement is not null)
        {
            NotifyHolderMoved(envelope.Sender, envelope.Subject, placement.NodeId, probe: true);
        }
    }

    /// <summary>
    /// Tells the router of a request's sender that the object is held elsewhere now (it stops using the way it
    /// remembered), or, for a <paramref name="probe"/>, that everything it sent before the probe was handled or forwarded.
    /// </summary>
    private void NotifyHolderMoved(Messaging.Channel sender, DoId id, DoId node, bool probe = false)
    {
        if (sender.Kind is ChannelKind.None or ChannelKind.Location or ChannelKind.Role)
        {
            return;
        }

        scratch.Reset();
        scratch.WriteDoId(node);
        if (probe)
        {
            scratch.WriteByte(1);
        }

        Publish(new Envelope(InternalMessageType.ObjectHolderMoved, Messaging.Channel.StateServer, id, scratch.WrittenSpan.ToArray()), sender);
    }

    private void SendToNode(DoId node, Envelope envelope)
    {
        FlushBroadcasts();
        placement!.SendToNode(node, envelope);
    }

    /// <summary>The requests held for a move that did not happen are handled here, in order, as if they arrived now.</summary>
    private void ReplayHeld(OutgoingMove move)
    {
        while (move.Held.TryDequeue(out var held))
        {
            HandleSafely(held);
        }
    }

    /// <summary>The move is answered (or given up): its objects are no longer moving, and its timer stops.</summary>
    private void EndOutgoing(OutgoingMove move)
    {
        outgoing.Remove(move.Id);
        move.Timer?.Dispose();
        foreach (var member in move.Subtree)
        {
            if (movingOut.TryGetValue(member.Id, out var current) && ReferenceEquals(current, move))
            {
                movingOut.Remove(member.Id);
            }
        }
    }

    /// <summary>An object of a subtree on offer is deleted here (its AI's cleanup, say): the move is called off when answered.</summary>
    private void OnMovingObjectDeleted(DoId id)
    {
        if (movingOut.TryGetValue(id, out var move))
        {
            move.Cancelled = true;
        }
    }

    /// <summary>Drops forwarding entries past their time (at each move; each is also checked when used).</summary>
    private void SweepForwards()
    {
        if (forwards.Count == 0)
        {
            return;
        }

        long now = Environment.TickCount64;
        foreach (var (id, forward) in forwards.ToList())
        {
            if (now > forward.Until)
            {
                forwards.Remove(id);
            }
        }
    }

    /// <summary><paramref name="root"/> and everything beneath it, parents first; stops after <paramref name="limit"/> objects.</summary>
    private List<StateObject> SubtreeOf(StateObject root, int limit)
    {
        var subtree = new List<StateObject> { root };
        for (int i = 0; i < subtree.Count && subtree.Count < limit; i++)
        {
            foreach (var child in graph.ChildrenOf(subtree[i].Id))
            {
                if (TryGetObject(child, out var obj))
                {
                    subtree.Add(obj);
                    if (subtree.Count >= limit)
                    {
                        break;
                    }
                }
            }
        }

        return subtree;
    }

    private void StartMoveTimer(OutgoingMove move)
    {
        // The wait ends by a message to this loop (an answer with no payload), so a move is only touched on the State Server's task.
        var expiry = new Envelope(InternalMessageType.ObjectMoveAnswer, Messaging.Channel.StateServer, move.Root.Id, ReadOnlyMemory<byte>.Empty);
        move.Expiry = expiry;
        move.Timer = TimeProvider.System.CreateTimer(_ => inbox.Deliver(expiry), null, moveTimeout, Timeout.InfiniteTimeSpan);
    }

    private void StartArrivalTimer(IncomingMove arrival)
    {
        var expiry = new Envelope(InternalMessageType.ObjectMoveEnd, Messaging.Channel.StateServer, arrival.Root, ReadOnlyMemory<byte>.Empty);
        arrival.Expiry = expiry;
        arrival.Timer = TimeProvider.System.CreateTimer(_ => inbox.Deliver(expiry), null, moveTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The stopping server drops the move timers.</summary>
    private void DisposeNodeMoves()
    {
        foreach (var move in outgoing.Values)
        {
            move.Timer?.Dispose();
        }

        foreach (var arrival in movingIn.Values.Distinct())
        {
            arrival.Timer?.Dispose();
        }
    }

    /// <summary>A move this node offered: the subtree (parents first), the request that asked for it, and what waits for the answer.</summary>
    private sealed class OutgoingMove(uint id, StateObject root, List<StateObject> subtree, Envelope request, DoId newParent, uint newZone)
    {
        public uint Id { get; } = id;

        public StateObject Root { get; } = root;

        public List<StateObject> Subtree { get; } = subtree;

        public Envelope Request { get; } = request;

        public DoId NewParent { get; } = newParent;

        public uint NewZone { get; } = newZone;

        /// <summary>Requests about the subtree that arrived meanwhile (bounded by <c>StateServer:MaxHandOverHeldRequests</c>).</summary>
        public Queue<Envelope> Held { get; } = new();

        /// <summary>An object of it was deleted meanwhile: an acceptance is called off.</summary>
        public bool Cancelled { get; set; }

        public Envelope? Expiry { get; set; }

        public ITimer? Timer { get; set; }
    }

    /// <summary>A subtree this node took, until its old holder says it forwarded everything it held for it.</summary>
    private sealed class IncomingMove(DoId root, DoId fromNode)
    {
        public DoId Root { get; } = root;

        public DoId FromNode { get; } = fromNode;

        public List<DoId> Ids { get; } = new();

        /// <summary>Requests that reached this node directly meanwhile (bounded by <c>StateServer:MaxHandOverHeldRequests</c>).</summary>
        public Queue<Envelope> Held { get; } = new();

        public Envelope? Expiry { get; set; }

        public ITimer? Timer { get; set; }

        /// <summary>
        /// Drops the first held request equal to <paramref name="forwarded"/> (same type, sender, subject and bytes): one
        /// message that reached both nodes on the object's holder subject while both subscribed it.
        /// </summary>
        public void DropDuplicate(Envelope forwarded)
        {
            if (Held.Count == 0)
            {
                return;
            }

            int count = Held.Count;
            bool dropped = false;
            for (int i = 0; i < count; i++)
            {
                var held = Held.Dequeue();
                if (!dropped && held.Type == forwarded.Type && held.Sender == forwarded.Sender && held.Subject == forwarded.Subject && held.Payload.Length == forwarded.Payload.Length && held.Payload.Span.SequenceEqual(forwarded.Payload.Span))
                {
                    dropped = true;
                    continue;
                }

                Held.Enqueue(held);
            }
        }
    }
}
