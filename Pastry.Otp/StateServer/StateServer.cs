using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.Actors;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

/// <summary>
/// Keeps objects in RAM (Required and Ram values, location, owner, AI) and relays their changes (ARCHITECTURE 4).
/// It is one participant with one queue, handled by one task, so every object changes in the order its messages
/// arrived and no lock is needed; relays are encoded once and published to the location, AI and owner channels.
/// Objects activated from the Database role (<see cref="InternalMessageType.ActivateObject"/>) also keep their Db
/// fields, and every set of a Db field is written through to the Database role, in order, unacknowledged.
/// Broadcast relays that follow one another for the same location and sender are coalesced while more messages
/// are queued, and published as one <see cref="InternalMessageType.RelayBroadcastBatch"/> before anything else is
/// published and whenever the queue runs empty: an idle server relays at once, a busy one in batches.
/// </summary>
internal sealed partial class StateServer : IParticipant, IAsyncDisposable
{
    private readonly IMessageRouter router;
    private readonly ModelRegistry registry;
    private readonly ILogger logger;
    private readonly ActorMailbox inbox;
    /// <summary>Every object and where it is; the graph's nodes are the <see cref="StateObject"/>s (one table, not two).</summary>
    private readonly ZoneGraph graph = new();
    private readonly PooledBufferWriter scratch = new(1024);
    private readonly Dictionary<ModelInfo, StoredLayout> ramLayouts = new();
    private readonly Dictionary<ModelInfo, StoredLayout> dbLayouts = new();
    private readonly bool databaseEnabled;
    // Several OTP nodes share the world: told which objects this node holds (null in one process; see IPlacementRouter).
    private readonly IPlacementRouter? placement;
    private Task? loop;

    /// <summary>Creates the State Server; call <see cref="Start"/> to subscribe it and start handling messages.</summary>
    /// <param name="router">The Message Director.</param>
    /// <param name="registry">The app's models.</param>
    /// <param name="logger">Where logs go.</param>
    /// <param name="databaseEnabled">Whether a Database role runs, so that objects can be activated from it.</param>
    /// <param name="options">Its settings; the defaults when null.</param>
    public StateServer(IMessageRouter router, ModelRegistry registry, ILogger logger, bool databaseEnabled = false, StateServerOptions? options = null)
    {
        options ??= new StateServerOptions();
        options.Validate();

        // It may wait for room in the Database's inbox; the Database never waits on it (see ActorMailbox).
        inbox = new ActorMailbox("StateServer", Messaging.Channel.StateServer, options.MailboxCapacity, waitsOnOthers: true, router, logger);
        this.router = router;
        this.registry = registry;
        this.logger = logger;
        this.databaseEnabled = databaseEnabled;
        placement = router as IPlacementRouter;
        aiRestartGrace = options.AiRestartGrace;
        aiHandOverTimeout = options.AiHandOverTimeout;
        maxHandOverHeldRequests = options.MaxHandOverHeldRequests;
        maxMovedObjects = options.MaxMovedObjects;
        moveTimeout = options.MoveTimeout;
        moveForwardTime = options.MoveForwardTime;
    }

    /// <inheritdoc />
    public string Name => "state-server";

    /// <summary>How many objects are in RAM (read from the State Server's own task, or for approximate metrics).</summary>
    public int ObjectCount => graph.Count;

    /// <summary>Subscribes to the State Server channel and starts the message loop.</summary>
    public void Start()
    {
        router.Subscribe(this, Messaging.Channel.StateServer);

        // A session that closes while an AI restarts: the next AI must hear of it (see StateServer.AiRestart.cs).
        router.Subscribe(this, Messaging.Channel.SessionEvents);
        loop = Task.Run(RunAsync);
    }

    /// <inheritdoc />
    public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets) => inbox.Deliver(envelope);

    /// <summary>Messages waiting in its inbox now.</summary>
    public int InboxDepth => inbox.Depth;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        router.UnsubscribeAll(this);
        inbox.Complete();
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        DisposeParkedAis();
        DisposeHandOvers();
        DisposeNodeMoves();
        inbox.Dispose();
        scratch.Dispose();
        batch.Dispose();
    }

    private async Task RunAsync()
    {
        while (await inbox.WaitToReadAsync().ConfigureAwait(false))
        {
            using var running = inbox.EnterLoop();
            while (inbox.TryRead(out var envelope))
            {
                if (ReferenceEquals(envelope, SnapshotSignal))
                {
                    RunSafely(static (server, _) => server.AnswerSnapshots(), envelope, "answering snapshot requests");
                    continue;
                }

                if (envelope.Type == InternalMessageType.ParkAiObjects && envelope.Sender == Messaging.Channel.StateServer)
                {
                    RunSafely(static (server, expiry) => server.EndParking(expiry), envelope, "ending an AI's restart grace");
                    continue;
                }

                if (envelope.Type == InternalMessageType.TakeOverAi && envelope.Sender == Messaging.Channel.StateServer)
                {
                    RunSafely(static (server, expiry) => server.EndHandOverWait(expiry), envelope, "ending a hand-over's wait");
                    continue;
                }

                HandleSafely(envelope);
            }

            // The queue is empty for now: what was coalesced goes out before the loop waits.
            RunSafely(static (server, _) => server.FlushBroadcasts(), null, "publishing coalesced broadcast relays");
        }
    }

    /// <summary>
    /// Runs one of the loop's own steps (a timer's expiry, the snapshot answers, the last flush of coalesced relays): a
    /// bug in it, or a subscriber that throws while it publishes, is logged and the loop goes on, as for a message
    /// (<see cref="HandleSafely"/>). Without this, one exception would end the State Server's task and every object with it.
    /// </summary>
    private void RunSafely(Action<StateServer, Envelope> step, Envelope? envelope, string what)
    {
        try
        {
            step(this, envelope!);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "State Server failed {What}; it goes on with the next message", what);
        }
    }

    /// <summary>Handles one message; a malformed one or a bug is refused to its sender and logged, never stopping the loop.</summary>
    private void HandleSafely(Envelope envelope)
    {
        try
        {
            Handle(envelope);
        }
        catch (WireFormatException ex)
        {
            Refuse(envelope, $"malformed {envelope.Type}: {ex.Message}");
        }
        catch (Exception ex)
        {
            // A bug in one message must not stop the State Server: log it with context and go on.
            logger.LogError(ex, "State Server failed on {Envelope}", envelope);
            Refuse(envelope, $"internal error handling {envelope.Type}");
        }
    }

    private void Handle(Envelope envelope)
    {
        // About an object moving to or from another OTP node, or gone to one: held or forwarded (StateServer.NodeMove.cs).
        if (AnyNodeMove && DivertedByMove(envelope))
        {
            return;
        }

        switch (envelope.Type)
        {
            case InternalMessageType.CreateObject:
                Create(envelope);
                break;
            case InternalMessageType.SetField:
            case InternalMessageType.SetFields:
            case InternalMessageType.SetFieldsStored:
                SetFields(envelope, envelope.Payload, DoId.Empty);
                break;
            case InternalMessageType.ClientSetField:
                // The account is for the AI, and so that an owner's own set is not echoed to it.
                SetFields(envelope, AfterAccount(envelope.Payload, out var account), account);
                break;
            case InternalMessageType.CallMethod:
                CallMethod(envelope, envelope.Payload, fromClient: false);
                break;
            case InternalMessageType.ClientCallMethod:
                CallMethod(envelope, AfterAccount(envelope.Payload, out _), fromClient: true);
                break;
            case InternalMessageType.SetLocation:
                SetLocation(envelope);
                break;
            case InternalMessageType.SetOwner:
                SetOwner(envelope);
                break;
            case InternalMessageType.DeleteObject:
                if (!TryGetObject(envelope.Subject, out var deleted) || MayChange(envelope, deleted))
                {
                    Delete(envelope.Subject, envelope);
                }

                break;
            case InternalMessageType.DeleteAiObjects:
                DeleteAiObjects(envelope);
                break;
            case InternalMessageType.ParkAiObjects:
                Park(envelope);
                break;
            case InternalMessageType.ClaimAiObjects:
                Claim(envelope);
                break;
            case InternalMessageType.ServeDistricts:
                ServeDistricts(envelope);
                break;
            case InternalMessageType.HandOverObject:
                HandOverObject(envelope);
                break;
            case InternalMessageType.SessionClosed:
                OnSessionClosed(envelope);
                break;
            case InternalMessageType.AccountClaimed:
                // A login's claim, for the Client Agents and the AIs that share the session events' channel.
                break;
            case InternalMessageType.TakeOverAi:
                TakeOver(envelope);
                break;
            case InternalMessageType.AiHandedOver:
                OnAiHandedOver(envelope);
                break;
            case InternalMessageType.TakenOverAiStarted:
                OnTakenOverAiStarted(envelope);
                break;
            case InternalMessageType.QueryZones:
                QueryZones(envelope);
                break;
            case InternalMessageType.QueryOwned:
                QueryOwned(envelope);
                break;
            case InternalMessageType.ActivateObject:
                Activate(envelope);
                break;
            case InternalMessageType.DbGetAllResp:
                FinishActivation(envelope);
                break;
            case InternalMessageType.LinkParticipantRestricted:
            case InternalMessageType.LinkParticipantReleased:
                Restrict(envelope, envelope.Type == InternalMessageType.LinkParticipantRestricted);
                break;
            case InternalMessageType.DbSetFields:
            case InternalMessageType.DbSetFieldsIfEquals:
            case InternalMessageType.DbDeleteObject:
                CheckDatabaseWrite(envelope);
                break;
            case InternalMessageType.ObjectMoveOffer:
                AcceptMove(envelope);
                break;
            case InternalMessageType.ObjectMoveAnswer:
                OnMoveAnswer(envelope);
                break;
            case InternalMessageType.ObjectMoveForwarded:
                OnForwarded(envelope);
                break;
            case InternalMessageType.ObjectMoveEnd:
                OnMoveEnd(envelope);
                break;
            case InternalMessageType.ObjectMoveCancelled:
                OnMoveCancelled(envelope);
                break;
            case InternalMessageType.ObjectMoveProbe:
                OnMoveProbe(envelope);
                break;
            default:
                Refuse(envelope, $"the State Server does not handle {envelope.Type}");
                break;
        }
    }

    private void Create(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint classId = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        var ai = Messaging.Channel.Read(ref reader);
        if (!registry.TryGetModel(classId, out var model))
        {
            Refuse(envelope, $"create {envelope.Subject}: unknown class id {classId}; are both sides built from the same models?");
            return;
        }

        if (!MayActAs(envelope, ai))
        {
            return;
        }

        if (envelope.Subject.IsEmpty || graph.Contains(envelope.Subject))
        {
            Refuse(envelope, $"create {model.Name}: DoId {envelope.Subject} is empty or already exists");
            return;
        }

        if (!parent.IsEmpty && !graph.Contains(parent))
        {
            Refuse(envelope, $"create {model.Name} {envelope.Subject}: parent {parent} does not exist");
            return;
        }

        int count = reader.ReadUInt16();
        Span<(int Field, int Start, int Length)> parsed = count <= 32 ? stackalloc (int, int, int)[count] : new (int, int, int)[count];
        ReadFields(ref reader, model, parsed);

        // An AI re-creating a stored object after a restart says so: its Db fields are kept and written through again.
        bool databaseBacked = reader.Remaining > 0 && reader.ReadByte() == 1 && databaseEnabled;
        reader.EnsureAtEnd();
        var obj = new StateObject(envelope.Subject, LayoutOf(model, databaseBacked), ai) { Owner = owner };

        // Fields that are not stored are dropped here (the layout has no slot for them).
        obj.SetValues(envelope.Payload.Span, parsed);
        if (MissingRequired(obj) is string missing)
        {
            Refuse(envelope, $"create {model.Name} {envelope.Subject}: missing Required field(s) {missing}");
            return;
        }

        graph.Place(obj, parent, zone);
        placement?.Hold(obj.Id);
        logger.LogDebug("Created {Model} {DoId} at {Location} for {Ai}", model.Name, obj.Id, obj.Location, ai);
        PublishToLocationAndOwner(new Envelope(InternalMessageType.EnterLocation, Messaging.Channel.StateServer, obj.Id, EntryOf(obj)), obj, DoId.Empty);

        // Made inside a district another AI serves: it is that AI's at once, as if it had walked in (StateServer.Handover.cs).
        HandOverToDistrictAi(obj, envelope);
    }

    /// <summary>
    /// Applies a set (all-or-nothing) and relays it: broadcast fields to the location, and to an owned object's owner
    /// every field through its account (the owner's view does not depend on its interest; its sessions ignore the
    /// location's copies of what they own). <paramref name="clientAccount"/> is the sending client's account, empty
    /// for an AI.
    /// </summary>
    private void SetFields(Envelope envelope, ReadOnlyMemory<byte> payload, DoId clientAccount)
    {
        bool fromClient = !clientAccount.IsEmpty;
        if (!TryGetObject(envelope.Subject, out var obj))
        {
            Refuse(envelope, $"{envelope.Type}: no object {envelope.Subject}");
            return;
        }

        if (!fromClient && !MayChange(envelope, obj))
        {
            return;
        }

        // While the object's AI is handed over, a client's set waits whole (applied when an AI can hear it); see StateServer.AiHandOver.cs.
        if (fromClient && HeldOrRefused(envelope, obj))
        {
            return;
        }

        var span = payload.Span;
        var reader = new WireReader(span);
        bool many = envelope.Type is InternalMessageType.SetFields or InternalMessageType.SetFieldsStored or InternalMessageType.ClientSetField;
        int count = many ? reader.ReadUInt16() : 1;

        // Check every value before applying any, so that a set of several fields is all-or-nothing.
        Span<(int Field, int Start, int Length)> parsed = count <= 32 ? stackalloc (int, int, int)[count] : new (int, int, int)[count];
        ReadFields(ref reader, obj.Model, parsed);
        reader.EnsureAtEnd();
        bool anyBroadcast = false;
        int dbFields = 0;
        foreach (var (index, _, _) in parsed)
        {
            var field = obj.Model.Fields[index];
            anyBroadcast |= field.IsBroadcast;
            if (obj.DbBacked && field.IsDb)
            {
                dbFields++;
            }
        }

        obj.SetValues(span, parsed);

        var sender = envelope.Sender;
        if (fromClient)
        {
            // The AI hears every field a client sends (already checked by the Client Agent).
            Publish(new Envelope(InternalMessageType.ClientSetField, sender, obj.Id, envelope.Payload), obj.Ai);
        }

        if (anyBroadcast)
        {
            PublishBroadcast(sender, obj, BuildSetFrame(obj, span, parsed, broadcast: true));
        }

        // A client's own set is not echoed to its account (no echo, ARCHITECTURE 2).
        if (!obj.Owner.IsEmpty && obj.Owner != clientAccount && parsed.Length > 0)
        {
            RelayToOwner(obj, sender, BuildSetFrame(obj, span, parsed, broadcast: null));
        }

        // Stored values came from the database (see InternalMessageType.SetFieldsStored): writing them again could undo a later CAS.
        if (dbFields > 0 && envelope.Type != InternalMessageType.SetFieldsStored)
        {
            WriteThrough(obj, sender, span, parsed, dbFields);
        }

    }

    /// <summary>
    /// Sends the Db fields of an applied set to the Database role as one <c>DbSetFields</c> with context 0 (no ack):
    /// the role batches it with other writes, and because one queue feeds it, a later activation reads it back.
    /// </summary>
    private void WriteThrough(StateObject obj, Messaging.Channel sender, ReadOnlySpan<byte> payload, ReadOnlySpan<(int Field, int Start, int Length)> parsed, int count)
    {
        scratch.Reset();
        scratch.WriteUInt32(0);
        scratch.WriteUInt32(obj.Model.ClassId);
        scratch.WriteUInt16((ushort)count);
        foreach (var (index, start, length) in parsed)
        {
            if (obj.Model.Fields[index].IsDb)
            {
                scratch.WriteUInt16(obj.Model.Fields[index].WireId);
                scratch.WriteRaw(payload.Slice(start, length));
            }
        }

        Publish(new Envelope(InternalMessageType.DbSetFields, sender, obj.Id, scratch.WrittenSpan.ToArray()), Messaging.Channel.Database);
    }

    /// <summary>
    /// Encodes into <see cref="scratch"/> the client SetField(s) frame of the broadcast fields (true), the other fields
    /// (false) or all of them (null).
    /// </summary>
    private ReadOnlySpan<byte> BuildSetFrame(StateObject obj, ReadOnlySpan<byte> payload, ReadOnlySpan<(int Field, int Start, int Length)> parsed, bool? broadcast)
    {
        int matching = 0;
        foreach (var (index, _, _) in parsed)
        {
            if (Matches(index))
            {
                matching++;
            }
        }

        scratch.Reset();
        int frame = scratch.BeginFrame(matching == 1 ? MessageType.SetField : MessageType.SetFields);
        scratch.WriteDoId(obj.Id);
        if (matching != 1)
        {
            scratch.WriteUInt16((ushort)matching);
        }

        foreach (var (index, start, length) in parsed)
        {
            if (Matches(index))
            {
                scratch.WriteUInt16(obj.Model.Fields[index].WireId);
                scratch.WriteRaw(payload.Slice(start, length));
            }
        }

        scratch.EndFrame(frame);
        return scratch.WrittenSpan;

        bool Matches(int index) => broadcast is not bool only || only == obj.Model.Fields[index].IsBroadcast;
    }

    /// <summary>
    /// A client request's payload after the sender's account that leads it (the Client Agent puts it there); a payload
    /// too short for the account is malformed (the reader throws), not an internal error.
    /// </summary>
    private static ReadOnlyMemory<byte> AfterAccount(ReadOnlyMemory<byte> payload, out DoId account)
    {
        var reader = new WireReader(payload.Span);
        account = reader.ReadDoId();
        return payload.Slice(reader.Position);
    }

    private void CallMethod(Envelope envelope, ReadOnlyMemory<byte> call, bool fromClient)
    {
        if (!TryGetObject(envelope.Subject, out var obj))
        {
            Refuse(envelope, $"{envelope.Type}: no object {envelope.Subject}");
            return;
        }

        // The AI that just handed the object over may still answer a client's call that reached it before.
        bool answerOfPreviousAi = releasedBy.Count > 0 && releasedBy.TryGetValue(obj.Id, out var previous) && previous == envelope.Sender;
        if (!fromClient && !answerOfPreviousAi && !MayChange(envelope, obj))
        {
            return;
        }

        if (fromClient && HeldOrRefused(envelope, obj))
        {
            return;
        }

        var reader = new WireReader(call.Span);
        int wireId = reader.ReadUInt16();
        var method = obj.Model.FindMethodByWireId(wireId);
        if (method is null)
        {
            Refuse(envelope, $"{obj.Model.Name} has no method {wireId}");
            return;
        }

        foreach (var parameter in method.Parameters)
        {
            // A caller built before an optional parameter was added ends before it (see ParameterDescriptor.IsOptional).
            if (reader.IsAtEnd && parameter.IsOptional)
            {
                break;
            }

            parameter.Codec.Skip(ref reader);
        }

        reader.EnsureAtEnd();
        if (fromClient)
        {
            Publish(new Envelope(InternalMessageType.ClientCallMethod, envelope.Sender, obj.Id, envelope.Payload), obj.Ai);
            return;
        }

        scratch.Reset();
        int frame = scratch.BeginFrame(MessageType.CallMethod);
        scratch.WriteDoId(obj.Id);
        scratch.WriteRaw(call.Span);
        scratch.EndFrame(frame);
        if (method.IsBroadcast)
        {
            PublishBroadcast(envelope.Sender, obj, scratch.WrittenSpan);
        }

        if (!obj.Owner.IsEmpty)
        {
            RelayToOwner(obj, envelope.Sender, scratch.WrittenSpan);
        }
    }

    private void SetLocation(Envelope envelope)
    {
        if (!TryGetObject(envelope.Subject, out var obj))
        {
            Refuse(envelope, $"set location: no object {envelope.Subject}");
            return;
        }

        if (!MayChange(envelope, obj))
        {
            return;
        }

        var reader = new WireReader(envelope.Payload.Span);
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        reader.EnsureAtEnd();
        if (!parent.IsEmpty && !graph.Contains(parent))
        {
            // Several OTP nodes: the parent may be another node's, which then takes the object (StateServer.NodeMove.cs).
            if (placement is not null && !activating.Contains(parent))
            {
                MoveToOtherNode(obj, parent, zone, envelope);
                return;
            }

            Refuse(envelope, $"set location of {obj.Id}: parent {parent} does not exist");
            return;
        }

        MoveObject(obj, parent, zone, envelope);
    }

    /// <summary>
    /// Places <paramref name="obj"/> at <c>(parent, zone)</c> and publishes the move to the old and new location and the
    /// owner; when another AI serves the new location, the object is that AI's from this step on. False (refused to
    /// <paramref name="envelope"/>'s sender) when the place is not allowed (a cycle).
    /// </summary>
    private bool MoveObject(StateObject obj, DoId parent, uint zone, Envelope envelope)
    {
        var old = obj.Location;
        try
        {
            graph.Place(obj, parent, zone);
        }
        catch (ArgumentException ex)
        {
            Refuse(envelope, ex.Message);
            return false;
        }

        PublishMove(obj, old, envelope.Sender);

        // Into a district another AI serves: it is that AI's from this step on (see StateServer.Handover.cs).
        HandOverToDistrictAi(obj, envelope);
        return true;
    }

    /// <summary>Publishes that <paramref name="obj"/> moved from <paramref name="old"/> (ChangingLocation) to the old and new location and the owner.</summary>
    private void PublishMove(StateObject obj, Location old, Messaging.Channel sender)
    {
        scratch.Reset();
        scratch.WriteDoId(old.Parent);
        scratch.WriteUInt32(old.Zone);
        ObjectEntry.Write(scratch, obj);
        var message = new Envelope(InternalMessageType.ChangingLocation, sender, obj.Id, scratch.WrittenSpan.ToArray());
        Span<Messaging.Channel> targets = stackalloc Messaging.Channel[3];
        targets[0] = Messaging.Channel.ForLocation(old.Parent, old.Zone);
        targets[1] = Messaging.Channel.ForLocation(obj.Location.Parent, obj.Location.Zone);
        targets[2] = obj.Owner.IsEmpty ? targets[1] : Messaging.Channel.ForAccount(obj.Owner);
        Publish(message, targets);
    }

    private void SetOwner(Envelope envelope)
    {
        if (!TryGetObject(envelope.Subject, out var obj))
        {
            Refuse(envelope, $"set owner: no object {envelope.Subject}");
            return;
        }

        if (!MayChange(envelope, obj))
        {
            return;
        }

        var reader = new WireReader(envelope.Payload.Span);
        var owner = reader.ReadDoId();
        reader.EnsureAtEnd();
        var previous = obj.Owner;
        obj.Owner = owner;

        // The old owner learns that it lost the object (and leaves it unless it sees the location), the new one gains it.
        PublishToLocationAndOwner(new Envelope(InternalMessageType.ChangingOwner, envelope.Sender, obj.Id, EntryOf(obj)), obj, previous);
    }

    private void Delete(DoId id, Envelope cause)
    {
        if (!graph.Contains(id))
        {
            Refuse(cause, $"delete: no object {id}");
            return;
        }

        // Deleting a parent deletes its children, deepest first.
        Span<Messaging.Channel> targets = stackalloc Messaging.Channel[3];
        foreach (var removed in graph.RemoveNodes(id))
        {
            var obj = (StateObject)removed;
            ForgetHandover(obj.Id);
            OnMovingObjectDeleted(obj.Id);
            placement?.Release(obj.Id);
            scratch.Reset();
            ClientFrames.WriteLeaveObject(scratch, obj.Id, LeaveReason.Deleted);
            var message = new Envelope(InternalMessageType.ObjectDeleted, cause.Sender, obj.Id, scratch.WrittenSpan.ToArray());
            targets[0] = Messaging.Channel.ForLocation(obj.Location.Parent, obj.Location.Zone);
            targets[1] = obj.Ai;
            targets[2] = obj.Owner.IsEmpty ? Messaging.Channel.ForLocation(obj.Location.Parent, obj.Location.Zone) : Messaging.Channel.ForAccount(obj.Owner);
            Publish(message, targets);
            logger.LogDebug("Deleted {Model} {DoId}", obj.Model.Name, obj.Id);
        }
    }

    private void DeleteAiObjects(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var ai = Messaging.Channel.Read(ref reader);
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        ForgetDistricts(ai);
        DeleteObjectsOf(ai, envelope);
    }

    /// <summary>Deletes every object whose AI is <paramref name="ai"/> (and their children), as <paramref name="envelope"/> asks.</summary>
    private void DeleteObjectsOf(Messaging.Channel ai, Envelope envelope)
    {
        var owned = ObjectsOf(ai);
        logger.LogInformation("Cleaning up {Count} object(s) of {Ai}, whose link dropped", owned.Count, ai);
        foreach (var id in owned)
        {
            if (graph.Contains(id))
            {
                Delete(id, envelope);
            }
        }
    }

    /// <summary>The ids of the objects whose AI is <paramref name="ai"/> (a scan; rare).</summary>
    private List<DoId> ObjectsOf(Messaging.Channel ai)
    {
        var owned = new List<DoId>();
        foreach (var node in graph.Nodes)
        {
            if (((StateObject)node).Ai == ai)
            {
                owned.Add(node.Id);
            }
        }

        return owned;
    }

    /// <summary>Answers <see cref="InternalMessageType.QueryOwned"/>: an entry for every object the owner owns, then done (a scan; rare).</summary>
    private void QueryOwned(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint context = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        reader.EnsureAtEnd();
        foreach (var node in graph.Nodes)
        {
            var obj = (StateObject)node;
            if (owner.IsEmpty || obj.Owner != owner)
            {
                continue;
            }

            scratch.Reset();
            scratch.WriteUInt32(context);
            ObjectEntry.Write(scratch, obj);
            Publish(new Envelope(InternalMessageType.QueryEntry, Messaging.Channel.StateServer, obj.Id, scratch.WrittenSpan.ToArray()), envelope.Sender);
        }

        scratch.Reset();
        scratch.WriteUInt32(context);
        Publish(new Envelope(InternalMessageType.QueryDone, Messaging.Channel.StateServer, DoId.Empty, scratch.WrittenSpan.ToArray()), envelope.Sender);
    }

    private void QueryZones(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint context = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        int count = reader.ReadCount(4);
        var zones = new uint[count];
        for (int i = 0; i < count; i++)
        {
            zones[i] = reader.ReadUInt32();
        }

        // The Client Agent's interest policy may leave the parent to us (InterestVerdict.AllowedIfPublic): only the
        // root and the objects at the root are public. A refusal sends no object and says so in QueryDone.
        bool mustBePublic = !reader.IsAtEnd && reader.ReadByte() == 1;
        reader.EnsureAtEnd();
        bool refused = mustBePublic && !parent.IsEmpty && !(graph.TryGetLocation(parent, out var parentLocation) && parentLocation.Parent.IsEmpty);
        AnswerQuery(context, refused ? Enumerable.Empty<ZoneNode>() : graph.NodesIn(parent, zones), refused, envelope.Sender);
    }

    /// <summary>Sends a query's answer to <paramref name="to"/>: an entry per object, then the done (with the refused byte when <paramref name="refused"/>).</summary>
    private void AnswerQuery(uint context, IEnumerable<ZoneNode> nodes, bool refused, Messaging.Channel to)
    {
        foreach (var node in nodes)
        {
            var obj = (StateObject)node;
            scratch.Reset();
            scratch.WriteUInt32(context);
            ObjectEntry.Write(scratch, obj);
            Publish(new Envelope(InternalMessageType.QueryEntry, Messaging.Channel.StateServer, obj.Id, scratch.WrittenSpan.ToArray()), to);
        }

        scratch.Reset();
        scratch.WriteUInt32(context);
        if (refused)
        {
            scratch.WriteByte(1);
        }

        Publish(new Envelope(InternalMessageType.QueryDone, Messaging.Channel.StateServer, DoId.Empty, scratch.WrittenSpan.ToArray()), to);
    }

    /// <summary>The object <paramref name="id"/>, if the State Server holds it.</summary>
    private bool TryGetObject(DoId id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StateObject? obj)
    {
        obj = graph.TryGetNode(id, out var node) ? (StateObject)node : null;
        return obj is not null;
    }

    /// <summary>The layout of <paramref name="model"/>'s objects, made once per model and kind.</summary>
    private StoredLayout LayoutOf(ModelInfo model, bool dbBacked)
    {
        var layouts = dbBacked ? dbLayouts : ramLayouts;
        if (!layouts.TryGetValue(model, out var layout))
        {
            layouts[model] = layout = new StoredLayout(model, dbBacked);
        }

        return layout;
    }

    /// <summary>The object's entry (see <see cref="ObjectEntry"/>) as the payload of one message.</summary>
    private byte[] EntryOf(StateObject obj)
    {
        scratch.Reset();
        ObjectEntry.Write(scratch, obj);
        return scratch.WrittenSpan.ToArray();
    }

    /// <summary>The names of the Required fields <paramref name="obj"/> has no value for, or null when it has them all.</summary>
    private static string? MissingRequired(StateObject obj)
    {
        List<string>? missing = null;
        foreach (var field in obj.Layout.Fields)
        {
            if (field.IsRequired && !obj.HasValue(field.Index))
            {
                (missing ??= new List<string>()).Add(field.Name);
            }
        }

        return missing is null ? null : string.Join(", ", missing);
    }

    /// <summary>Reads <c>into.Length</c> (field wire id, value) pairs, checking each value, as (field index, start, length) of the reader's span.</summary>
    private static void ReadFields(ref WireReader reader, ModelInfo model, scoped Span<(int Field, int Start, int Length)> into)
    {
        for (int i = 0; i < into.Length; i++)
        {
            var field = ReadFieldIndex(ref reader, model);
            int start = reader.Position;
            ReadValue(ref reader, field);
            into[i] = (field.Index, start, reader.Position - start);
        }
    }

    private static FieldDescriptor ReadFieldIndex(ref WireReader reader, ModelInfo model)
    {
        int wireId = reader.ReadUInt16();
        return model.FindFieldByWireId(wireId) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {wireId}");
    }

    private static ReadOnlySpan<byte> ReadValue(ref WireReader reader, FieldDescriptor field)
    {
        var copy = reader;
        int start = reader.Position;
        field.Codec.Skip(ref reader);
        return copy.ReadRaw(reader.Position - start);
    }

    private void Refuse(Envelope envelope, string reason)
    {
        logger.LogWarning("State Server refused {Type} from {Sender}: {Reason}", envelope.Type, envelope.Sender, reason);

        // Its own messages (timers) are only logged: an Error sent to itself would be refused again, and again.
        if (envelope.Sender.Kind is ChannelKind.None or ChannelKind.Location || envelope.Sender == Messaging.Channel.StateServer)
        {
            return;
        }

        scratch.Reset();
        scratch.WriteString(reason);
        Publish(new Envelope(InternalMessageType.Error, Messaging.Channel.StateServer, envelope.Subject, scratch.WrittenSpan.ToArray()), envelope.Sender);
    }
}
