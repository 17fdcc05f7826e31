using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// One client connection: hello, heartbeats, anonymous vs established, interests with their sync queue, the
/// objects in view, and the checks on every field set and RPC a client sends (ARCHITECTURE 3-4). Client messages
/// and routed messages are handled under one lock per session, so the session's view never tears.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Everything it owns is disposed when RunAsync ends; the session lives exactly as long as that call.")]
internal sealed class ClientSession : IParticipant
{
    private readonly ClientAgent agent;
    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly SessionOutbox outbox;
    private readonly object sync = new();
    private readonly PooledBufferWriter scratch = new(256);
    private readonly InterestSet interests = new();
    private readonly Dictionary<DoId, VisibleObject> visible = new();
    private RecentlyLeftObjects? recentlyLeft;
    private readonly Dictionary<uint, uint> pendingQueries = new();
    private readonly Queue<Envelope> queuedDuringSync = new();
    private readonly Dictionary<ModelInfo, DistributedObject> cleanContexts = new();
    private readonly CancellationTokenSource stopReading = new();
    private readonly CancellationTokenSource abort = new();
    private readonly ILogger logger;
    private SessionStage stage = SessionStage.AwaitingHello;
    private DoId account;
    private uint nextQuery;
    private long queuedBytes;
    private long lastReceivedMs;
    private double tokens;
    private long tokensRefilledMs;

    public ClientSession(ClientAgent agent, Socket socket)
    {
        this.agent = agent;
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: true);
        outbox = new SessionOutbox(agent.Options.MaxOutgoingBytes, agent.Flusher);
        logger = agent.Logger;
        Id = DoId.NewId();
        Channel = Messaging.Channel.ForSession(Id);
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        lastReceivedMs = tokensRefilledMs = Environment.TickCount64;
        tokens = agent.Options.MaxMessagesPerSecond * 2.0;
    }

    private enum SessionStage
    {
        AwaitingHello,
        Anonymous,
        Established,
        Closed,
    }

    public DoId Id { get; }

    public Channel Channel { get; }

    public string Remote { get; }

    public string Name => $"session {Id} ({Remote})";

    public DoId Account => account;

    /// <summary>This session's UberDOG calls, chained so that they run in order; set under the session's lock.</summary>
    public Task UberDogCalls { get; set; } = Task.CompletedTask;

    public async Task RunAsync()
    {
        agent.Router.Subscribe(this, Channel);
        var sending = outbox.RunAsync(stream, abort.Token);
        try
        {
            // Zero-byte reads: an idle session waits for data without holding a 4 KiB receive buffer (bench idle).
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 512, leaveOpen: true, useZeroByteReads: true));
            await ReceiveAsync(reader).ConfigureAwait(false);
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            logger.LogDebug("{Session}: connection lost: {Message}", Name, ex.Message);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "{Session}: unexpected error; closing the session", Name);
        }
        finally
        {
            lock (sync)
            {
                stage = SessionStage.Closed;
            }

            agent.Router.UnsubscribeAll(this);
            if (!account.IsEmpty)
            {
                agent.Router.Publish(new Envelope(InternalMessageType.SessionClosed, Channel, account, Array.Empty<byte>()), Messaging.Channel.SessionEvents);
            }

            outbox.Complete();
            try
            {
                await sending.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }

            abort.Cancel();
            socket.Dispose();
            await stream.DisposeAsync().ConfigureAwait(false);
            lock (sync)
            {
                outbox.Dispose();
                scratch.Dispose();
            }

            stopReading.Dispose();
            abort.Dispose();
            agent.OnSessionClosed(this);
        }
    }

    /// <summary>Ejects the session when it has been silent for longer than the heartbeat timeout.</summary>
    public void CheckHeartbeat(long nowMs)
    {
        long silentMs = nowMs - Interlocked.Read(ref lastReceivedMs);
        if (silentMs > agent.Options.HeartbeatTimeout.TotalMilliseconds)
        {
            lock (sync)
            {
                Eject(EjectCode.HeartbeatTimeout, $"no message for {silentMs / 1000.0:0.0} s (heartbeat timeout is {agent.Options.HeartbeatTimeout.TotalSeconds:0.#} s)");
            }
        }
    }

    /// <summary>Ejects the session because the server is stopping.</summary>
    public void Shutdown()
    {
        lock (sync)
        {
            Eject(EjectCode.ServerShutdown, "the server is shutting down");
        }
    }

    /// <inheritdoc />
    public void Deliver(Envelope envelope)
    {
        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return;
            }

            switch (envelope.Type)
            {
                case InternalMessageType.QueryEntry:
                    OnQueryEntry(envelope);
                    return;
                case InternalMessageType.QueryDone:
                    OnQueryDone(envelope);
                    return;
                case InternalMessageType.Error:
                    logger.LogDebug("{Session}: server refused a request about {DoId}", Name, envelope.Subject);
                    return;
            }

            if (pendingQueries.Count > 0)
            {
                // Updates that arrive during an interest sync are queued and replayed in order (ARCHITECTURE 4).
                queuedDuringSync.Enqueue(envelope);
                queuedBytes += envelope.Payload.Length;
                if (queuedBytes > agent.Options.MaxOutgoingBytes)
                {
                    DropSlowConsumer($"{queuedBytes} bytes of updates queued during an interest sync");
                }

                return;
            }

            Process(envelope);
        }
    }

    /// <summary>Marks the session logged in as <paramref name="accountId"/> (called by the login UberDOG).</summary>
    public void Establish(DoId accountId)
    {
        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return;
            }

            if (!account.IsEmpty && account != accountId)
            {
                agent.Router.Unsubscribe(this, Messaging.Channel.ForAccount(account));
            }

            account = accountId;
            stage = SessionStage.Established;
            agent.Router.Subscribe(this, Messaging.Channel.ForAccount(accountId));
            logger.LogDebug("{Session} logged in as account {Account}", Name, accountId);
        }
    }

    /// <summary>Sends an RPC from the server to this client (UberDOG answers).</summary>
    public void SendCall(DoId target, MethodDescriptor method, params object?[] arguments)
    {
        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return;
            }

            scratch.Reset();
            ClientFrames.WriteCallMethod(scratch, target, method, arguments);
            Append(scratch.WrittenSpan);
        }
    }

    private async Task ReceiveAsync(PipeReader reader)
    {
        int maxFrame = agent.Options.MaxFrameBytes;
        while (true)
        {
            var result = await reader.ReadAsync(stopReading.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool keepReading = true;
            while (keepReading)
            {
                var status = Frame.TryRead(ref buffer, maxFrame, out ushort type, out var payload, out uint declared);
                if (status == FrameStatus.Incomplete)
                {
                    break;
                }

                lock (sync)
                {
                    keepReading = status switch
                    {
                        FrameStatus.Oversized => Eject(EjectCode.OversizedFrame, $"frame of {declared} bytes is larger than the limit of {maxFrame}"),
                        FrameStatus.Malformed => Eject(EjectCode.TruncatedFrame, $"frame length {declared} is too small to hold a message type"),
                        _ => HandleFrame(type, payload),
                    };
                }
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (!keepReading || result.IsCompleted)
            {
                if (result.IsCompleted && keepReading && buffer.Length > 0)
                {
                    lock (sync)
                    {
                        Eject(EjectCode.TruncatedFrame, $"connection closed in the middle of a frame ({buffer.Length} bytes left)");
                    }
                }

                return;
            }
        }
    }

    private bool HandleFrame(ushort type, ReadOnlySequence<byte> payload)
    {
        if (stage == SessionStage.Closed)
        {
            return false;
        }

        Interlocked.Exchange(ref lastReceivedMs, Environment.TickCount64);
        if (!TakeToken())
        {
            return Eject(EjectCode.RateLimited, $"more than {agent.Options.MaxMessagesPerSecond} messages per second");
        }

        byte[]? rented = null;
        ReadOnlySpan<byte> span;
        if (payload.IsSingleSegment)
        {
            span = payload.First.Span;
        }
        else
        {
            rented = ArrayPool<byte>.Shared.Rent((int)payload.Length);
            payload.CopyTo(rented);
            span = rented.AsSpan(0, (int)payload.Length);
        }

        try
        {
            return Dispatch((MessageType)type, span);
        }
        catch (WireFormatException ex)
        {
            return Eject(EjectCode.TruncatedFrame, $"malformed {(MessageType)type}: {ex.Message}");
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private bool Dispatch(MessageType type, ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload);
        if (stage == SessionStage.AwaitingHello && type != MessageType.Hello)
        {
            return Eject(EjectCode.NoHello, $"the first message must be Hello, not {Describe(type)}");
        }

        switch (type)
        {
            case MessageType.Hello:
                return OnHello(ref reader);
            case MessageType.Heartbeat:
                reader.EnsureAtEnd();
                return true;
            case MessageType.Disconnect:
                logger.LogDebug("{Session} disconnected", Name);
                stage = SessionStage.Closed;
                outbox.Complete();
                return false;
            case MessageType.ClockSync:
                {
                    long clientTicks = reader.ReadInt64();
                    reader.EnsureAtEnd();
                    scratch.Reset();
                    ClientFrames.WriteClockSync(scratch, clientTicks, agent.Time.GetUtcNow().UtcTicks);
                    return Append(scratch.WrittenSpan);
                }

            case MessageType.AddInterest:
                return OnAddInterest(ref reader);
            case MessageType.RemoveInterest:
                return OnRemoveInterest(ref reader);
            case MessageType.SetField:
            case MessageType.SetFields:
                return OnSetFields(ref reader, type == MessageType.SetFields);
            case MessageType.CallMethod:
                return OnCallMethod(ref reader);
            default:
                return Eject(EjectCode.UnknownMessageType, $"{Describe(type)} is not a message a client may send");
        }
    }

    private bool OnHello(ref WireReader reader)
    {
        if (stage != SessionStage.AwaitingHello)
        {
            return Eject(EjectCode.UnknownMessageType, "Hello was already accepted; send it only once");
        }

        ulong hash = reader.ReadUInt64();
        string version = reader.ReadString();
        reader.EnsureAtEnd();
        string serverVersion = agent.Options.AppVersion;
        if (!string.Equals(version, serverVersion, StringComparison.Ordinal))
        {
            string direction = Version.TryParse(version, out var client) && Version.TryParse(serverVersion, out var server)
                ? client < server ? "the client is out of date: update the client" : "the server is out of date: update the server"
                : "client and server come from different releases";
            return Eject(EjectCode.BadVersion, $"client app version '{version}' differs from the server's '{serverVersion}': {direction}");
        }

        ulong expected = agent.Registry.SchemaHash;
        if (hash != expected)
        {
            return Eject(EjectCode.BadSchemaHash, $"client schema hash {hash:x16} differs from the server's {expected:x16} although the app version matches: one side was built from different models; rebuild it from the same code");
        }

        stage = SessionStage.Anonymous;
        scratch.Reset();
        ClientFrames.WriteHelloResp(scratch, agent.Time.GetUtcNow().UtcTicks, Id);
        return Append(scratch.WrittenSpan);
    }

    private bool OnAddInterest(ref WireReader reader)
    {
        if (stage != SessionStage.Established)
        {
            return Eject(EjectCode.AnonymousViolation, "AddInterest needs a logged-in session; anonymous sessions may only call [Anonymous] UberDOG methods");
        }

        uint context = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        int count = reader.ReadCount(4);
        if (count > agent.Options.MaxZonesPerInterest)
        {
            return Eject(EjectCode.ForbiddenInterest, $"interest {context} names {count} zones; the limit is {agent.Options.MaxZonesPerInterest}");
        }

        var zones = new uint[count];
        for (int i = 0; i < count; i++)
        {
            zones[i] = reader.ReadUInt32();
        }

        reader.EnsureAtEnd();
        if (!interests.Contains(context) && interests.Count >= agent.Options.MaxInterests)
        {
            return Eject(EjectCode.TooManyInterests, $"a session may hold at most {agent.Options.MaxInterests} interests");
        }

        if (!agent.InterestPolicy.IsAllowed(account, parent, zones))
        {
            return Eject(EjectCode.ForbiddenInterest, $"interest in parent {parent} zones [{string.Join(", ", zones)}] is not allowed for this account");
        }

        var (added, removed) = interests.Set(context, parent, zones);
        foreach (var location in added)
        {
            agent.Router.Subscribe(this, Messaging.Channel.ForLocation(location.Parent, location.Zone));
        }

        if (!Unsee(removed))
        {
            return false;
        }

        if (added.Count == 0)
        {
            scratch.Reset();
            ClientFrames.WriteContext(scratch, MessageType.InterestDone, context);
            return Append(scratch.WrittenSpan);
        }

        uint query = ++nextQuery;
        pendingQueries[query] = context;
        scratch.Reset();
        scratch.WriteUInt32(query);
        scratch.WriteDoId(parent);
        scratch.WriteVarUInt32((uint)added.Count);
        foreach (var location in added)
        {
            scratch.WriteUInt32(location.Zone);
        }

        agent.Router.Publish(new Envelope(InternalMessageType.QueryZones, Channel, DoId.Empty, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
        return true;
    }

    private bool OnRemoveInterest(ref WireReader reader)
    {
        if (stage != SessionStage.Established)
        {
            return Eject(EjectCode.AnonymousViolation, "RemoveInterest needs a logged-in session");
        }

        uint context = reader.ReadUInt32();
        reader.EnsureAtEnd();
        if (!interests.Contains(context))
        {
            logger.LogDebug("{Session}: RemoveInterest of unknown context {Context} ignored", Name, context);
            return true;
        }

        return Unsee(interests.Remove(context));
    }

    /// <summary>Unsubscribes locations no interest covers and sends LeaveObject(Disabled) for the objects there.</summary>
    private bool Unsee(List<Location> removed)
    {
        if (removed.Count == 0)
        {
            return true;
        }

        foreach (var location in removed)
        {
            agent.Router.Unsubscribe(this, Messaging.Channel.ForLocation(location.Parent, location.Zone));
        }

        List<DoId>? leaving = null;
        foreach (var pair in visible)
        {
            if (!Sees(pair.Value.Location, pair.Value.Owner))
            {
                (leaving ??= new List<DoId>()).Add(pair.Key);
            }
        }

        if (leaving is null)
        {
            return true;
        }

        scratch.Reset();
        foreach (var id in leaving)
        {
            Forget(id);
            ClientFrames.WriteLeaveObject(scratch, id, LeaveReason.Disabled);
        }

        return Append(scratch.WrittenSpan);
    }

    private bool OnSetFields(ref WireReader reader, bool many)
    {
        if (stage != SessionStage.Established)
        {
            return Eject(EjectCode.AnonymousViolation, "setting fields needs a logged-in session");
        }

        var id = reader.ReadDoId();
        if (!visible.TryGetValue(id, out var target))
        {
            return IgnoreOrEjectUnknown(id, "a field set");
        }

        int count = many ? reader.ReadUInt16() : 1;
        var context = CleanContext(target.Model);
        scratch.Reset();
        scratch.WriteDoId(account);
        scratch.WriteUInt16((ushort)count);
        for (int i = 0; i < count; i++)
        {
            int index = reader.ReadUInt16();
            if (index >= target.Model.Fields.Count)
            {
                return Eject(EjectCode.ForbiddenField, $"{target.Model.Name} has no field {index}");
            }

            var field = target.Model.Fields[index];
            string? refusal = SendRefusal(field.IsClSend, field.IsOwnSend, field.IsAi, target, field.ToString());
            if (refusal is not null)
            {
                return Eject(EjectCode.ForbiddenField, refusal);
            }

            scratch.WriteUInt16((ushort)index);
            var problems = field.DecodeAndValidate(ref reader, context, scratch);
            if (problems is not null)
            {
                return Eject(EjectCode.FieldConstraintViolated, $"{field}: {string.Join("; ", problems)}");
            }
        }

        reader.EnsureAtEnd();
        agent.Router.Publish(new Envelope(InternalMessageType.ClientSetField, Channel, id, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
        return true;
    }

    private bool OnCallMethod(ref WireReader reader)
    {
        var id = reader.ReadDoId();
        int index = reader.ReadUInt16();
        if (agent.UberDogs.TryGetModel(id, out var uberDogModel))
        {
            if (index >= uberDogModel.Methods.Count)
            {
                return Eject(EjectCode.ForbiddenField, $"{uberDogModel.Name} has no method {index}");
            }

            var uberDogMethod = uberDogModel.Methods[index];
            if (stage != SessionStage.Established && !uberDogMethod.IsAnonymous)
            {
                return Eject(EjectCode.AnonymousViolation, $"{uberDogMethod} is not [Anonymous]; log in first");
            }

            if (!uberDogMethod.IsClSend)
            {
                return Eject(EjectCode.ForbiddenField, $"{uberDogMethod} may not be called by clients (it is not [ClSend])");
            }

            var uberDogArguments = uberDogMethod.DecodeArguments(ref reader);
            reader.EnsureAtEnd();
            var invalid = uberDogMethod.ValidateArguments(CleanContext(uberDogModel), uberDogArguments);
            if (invalid is not null)
            {
                return Eject(EjectCode.FieldConstraintViolated, $"{uberDogMethod}: {string.Join("; ", invalid.Select(p => p.Key + ": " + string.Join(", ", p.Value)))}");
            }

            agent.UberDogs.Dispatch(this, id, uberDogMethod, uberDogArguments);
            return true;
        }

        if (stage != SessionStage.Established)
        {
            return Eject(EjectCode.AnonymousViolation, "anonymous sessions may only call [Anonymous] UberDOG methods; log in first");
        }

        if (!visible.TryGetValue(id, out var target))
        {
            return IgnoreOrEjectUnknown(id, "a call");
        }

        if (index >= target.Model.Methods.Count)
        {
            return Eject(EjectCode.ForbiddenField, $"{target.Model.Name} has no method {index}");
        }

        var method = target.Model.Methods[index];
        bool isAi = (method.Keywords & FieldKeywords.Ai) != 0;
        string? refusal = SendRefusal(method.IsClSend, method.IsOwnSend, isAi, target, method.ToString());
        if (refusal is not null)
        {
            return Eject(EjectCode.ForbiddenField, refusal);
        }

        var argumentsReader = reader;
        int argumentsStart = reader.Position;
        var arguments = method.DecodeArguments(ref reader);
        reader.EnsureAtEnd();
        var problems = method.ValidateArguments(CleanContext(target.Model), arguments);
        if (problems is not null)
        {
            return Eject(EjectCode.FieldConstraintViolated, $"{method}: {string.Join("; ", problems.Select(p => p.Key + ": " + string.Join(", ", p.Value)))}");
        }

        // Forward the arguments exactly as received (they were checked): account, method, arguments.
        scratch.Reset();
        scratch.WriteDoId(account);
        scratch.WriteUInt16((ushort)index);
        scratch.WriteRaw(argumentsReader.ReadRaw(reader.Position - argumentsStart));
        agent.Router.Publish(new Envelope(InternalMessageType.ClientCallMethod, Channel, id, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
        return true;
    }

    private string? SendRefusal(bool clSend, bool ownSend, bool ai, VisibleObject target, string member)
    {
        if (clSend)
        {
            return null;
        }

        if (ownSend)
        {
            return target.Owner == account ? null : $"{member} is [OwnSend] and this session does not own {target.Id}";
        }

        return ai
            ? $"{member} is [Ai]: only the AI may send it"
            : $"{member} has neither [ClSend] nor [OwnSend], so clients may not send it";
    }

    private DistributedObject CleanContext(ModelInfo model)
    {
        if (!cleanContexts.TryGetValue(model, out var instance))
        {
            cleanContexts[model] = instance = model.CreateInstance();
        }

        return instance;
    }

    private void OnQueryEntry(Envelope envelope)
    {
        uint query = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        if (!pendingQueries.ContainsKey(query))
        {
            return;
        }

        var entry = ObjectEntry.Parse(envelope.Payload, 4);
        if (!visible.ContainsKey(envelope.Subject) && interests.Sees(entry.Location))
        {
            Enter(envelope.Subject, entry);
        }
    }

    private void OnQueryDone(Envelope envelope)
    {
        uint query = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        if (!pendingQueries.Remove(query, out uint context))
        {
            return;
        }

        if (interests.Contains(context))
        {
            scratch.Reset();
            ClientFrames.WriteContext(scratch, MessageType.InterestDone, context);
            if (!Append(scratch.WrittenSpan))
            {
                return;
            }
        }

        if (pendingQueries.Count == 0)
        {
            queuedBytes = 0;
            while (queuedDuringSync.Count > 0 && stage != SessionStage.Closed)
            {
                Process(queuedDuringSync.Dequeue());
            }
        }
    }

    private void Process(Envelope envelope)
    {
        switch (envelope.Type)
        {
            case InternalMessageType.EnterLocation:
                {
                    var entry = ObjectEntry.Parse(envelope.Payload);
                    if (!visible.ContainsKey(envelope.Subject) && Sees(entry.Location, entry.Owner))
                    {
                        Enter(envelope.Subject, entry);
                    }

                    break;
                }

            case InternalMessageType.ChangingLocation:
                {
                    var entry = ObjectEntry.Parse(envelope.Payload, DoId.Size + 4);
                    bool seesNew = Sees(entry.Location, entry.Owner);
                    if (visible.TryGetValue(envelope.Subject, out var known))
                    {
                        if (seesNew)
                        {
                            visible[envelope.Subject] = known with { Location = entry.Location };
                            scratch.Reset();
                            ClientFrames.WriteLocation(scratch, envelope.Subject, entry.Location.Parent, entry.Location.Zone);
                            Append(scratch.WrittenSpan);
                        }
                        else
                        {
                            Forget(envelope.Subject);
                            scratch.Reset();
                            ClientFrames.WriteLeaveObject(scratch, envelope.Subject, LeaveReason.Disabled);
                            Append(scratch.WrittenSpan);
                        }
                    }
                    else if (seesNew)
                    {
                        Enter(envelope.Subject, entry);
                    }

                    break;
                }

            case InternalMessageType.RelayBroadcast:
                // No echo: the sender already applied its own change (ARCHITECTURE 2). What this account owns comes
                // through the account (RelayPrivate) instead, wherever it is.
                if (envelope.Sender != Channel && TakesFromLocation(envelope.Subject))
                {
                    Append(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.RelayPrivate:
                if (envelope.Sender != Channel && visible.ContainsKey(envelope.Subject))
                {
                    Append(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.RelayBroadcastBatch:
                if (envelope.Sender != Channel)
                {
                    AppendVisibleFrames(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.ObjectDeleted:
                if (Forget(envelope.Subject))
                {
                    Append(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.ChangingOwner:
                {
                    var entry = ObjectEntry.Parse(envelope.Payload);
                    if (!visible.TryGetValue(envelope.Subject, out var current))
                    {
                        // Gained an object outside this session's interest: the owner sees what it owns.
                        if (Sees(entry.Location, entry.Owner))
                        {
                            Enter(envelope.Subject, entry);
                        }
                    }
                    else if (Sees(current.Location, entry.Owner))
                    {
                        visible[envelope.Subject] = current with { Owner = entry.Owner };
                        Append((IsOwner(entry.Owner) ? entry.OwnerFrame : entry.OtherFrame).Span);
                    }
                    else
                    {
                        // Lost an object it saw only as its owner.
                        Forget(envelope.Subject);
                        scratch.Reset();
                        ClientFrames.WriteLeaveObject(scratch, envelope.Subject, LeaveReason.Disabled);
                        Append(scratch.WrittenSpan);
                    }

                    break;
                }

            default:
                logger.LogDebug("{Session}: ignoring {Envelope}", Name, envelope);
                break;
        }
    }

    private void Enter(DoId id, ObjectEntry.Parsed entry)
    {
        if (!agent.Registry.TryGetModel(entry.ClassId, out var model))
        {
            logger.LogWarning("{Session}: object {DoId} has unknown class id {ClassId}; not sent", Name, id, entry.ClassId);
            return;
        }

        visible[id] = new VisibleObject(id, model, entry.Location, entry.Owner);
        recentlyLeft?.Remove(id);
        Append((IsOwner(entry.Owner) ? entry.OwnerFrame : entry.OtherFrame).Span);
    }

    /// <summary>
    /// Appends the frames of a relay batch that are about objects in view, in runs: a session that sees every object
    /// of the batch copies it in one append.
    /// </summary>
    private void AppendVisibleFrames(ReadOnlySpan<byte> frames)
    {
        int runStart = 0;
        int position = 0;
        while (position + Frame.HeaderSize + DoId.Size <= frames.Length)
        {
            int length = Frame.LengthSize + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(frames.Slice(position));

            // Every relayed frame (SetField, SetFields, CallMethod) starts its payload with the object's DoId. What
            // this account owns comes through the account instead.
            if (!TakesFromLocation(DoId.Read(frames.Slice(position + Frame.HeaderSize, DoId.Size))))
            {
                if (position > runStart && !Append(frames[runStart..position]))
                {
                    return;
                }

                runStart = position + length;
            }

            position += length;
        }

        if (position > runStart)
        {
            Append(frames[runStart..position]);
        }
    }

    /// <summary>Takes <paramref name="id"/> out of the view and remembers that it left; false when it was not in view.</summary>
    private bool Forget(DoId id)
    {
        if (!visible.Remove(id))
        {
            return false;
        }

        (recentlyLeft ??= new RecentlyLeftObjects()).Add(id);
        return true;
    }

    /// <summary>
    /// A message about an object not in view: dropped when the object left the view lately (the client sent it before
    /// it read the Leave), ejected with 117 otherwise.
    /// </summary>
    private bool IgnoreOrEjectUnknown(DoId id, string what)
    {
        if (recentlyLeft?.Contains(id) == true)
        {
            logger.LogDebug("{Session}: dropped {What} on {DoId}, which left this session's view lately", Name, what, id);
            return true;
        }

        return Eject(EjectCode.UnknownObject, $"object {id} is not in this session's view");
    }

    /// <summary>Whether an object at <paramref name="location"/> owned by <paramref name="owner"/> is in this session's view: in its interest, or its own.</summary>
    private bool Sees(Location location, DoId owner) => interests.Sees(location) || IsOwner(owner);

    /// <summary>Whether this session relays a location's update of <paramref name="id"/>: it sees it, and does not own it (those come through the account).</summary>
    private bool TakesFromLocation(DoId id) => visible.TryGetValue(id, out var seen) && !IsOwner(seen.Owner);

    private bool IsOwner(DoId owner) => !account.IsEmpty && owner == account;

    private bool Append(ReadOnlySpan<byte> frames)
    {
        if (stage == SessionStage.Closed)
        {
            return false;
        }

        if (outbox.TryAppend(frames))
        {
            return true;
        }

        DropSlowConsumer($"more than {agent.Options.MaxOutgoingBytes} bytes waiting to be sent");
        return false;
    }

    private void DropSlowConsumer(string why)
    {
        logger.LogWarning("{Session}: dropped as a slow consumer ({Code}): {Why}", Name, (int)EjectCode.SlowConsumer, why);
        agent.Metrics.Ejected(EjectCode.SlowConsumer);
        stage = SessionStage.Closed;
        stopReading.Cancel();
        abort.Cancel();
    }

    /// <summary>Queues an eject and stops reading; the connection closes once the eject is sent. Always returns false.</summary>
    private bool Eject(EjectCode code, string reason)
    {
        if (stage == SessionStage.Closed)
        {
            return false;
        }

        logger.LogInformation("Ejecting {Session} (account {Account}) with {Code} {CodeName}: {Reason}", Name, account, (int)code, code, reason);
        agent.Metrics.Ejected(code);
        stage = SessionStage.Closed;
        scratch.Reset();
        ClientFrames.WriteEject(scratch, code, reason);
        outbox.AppendFinal(scratch.WrittenSpan);
        stopReading.Cancel();
        return false;
    }

    private bool TakeToken()
    {
        long now = Environment.TickCount64;
        double rate = agent.Options.MaxMessagesPerSecond;
        tokens = Math.Min(rate * 2, tokens + ((now - tokensRefilledMs) * rate / 1000.0));
        tokensRefilledMs = now;
        if (tokens < 1)
        {
            return false;
        }

        tokens -= 1;
        return true;
    }

    private static string Describe(MessageType type) =>
        Enum.IsDefined(type) ? $"{type} ({(ushort)type})" : $"message type {(ushort)type}";

    private readonly record struct VisibleObject(DoId Id, ModelInfo Model, Location Location, DoId Owner);
}
