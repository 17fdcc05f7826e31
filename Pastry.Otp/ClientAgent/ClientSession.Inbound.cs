using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

// What a client sends: frames read off the socket, checked (stage, rate, rights, constraints) and acted on.
internal sealed partial class ClientSession
{
    private async Task ReceiveAsync(PipeReader reader)
    {
        int maxFrame = agent.Options.MaxFrameBytes;
        FrameReadOutcome outcome;
        try
        {
            outcome = await FrameReader.ReadAsync(reader, maxFrame, new Inbound(this), stopReading.Token).ConfigureAwait(false);
        }
        catch (WebSocketFrameException broken)
        {
            // The WebSocket transport's own rules (binary messages only, bounded message size).
            lock (sync)
            {
                Eject(broken.Code, broken.Reason);
            }

            return;
        }

        lock (sync)
        {
            switch (outcome.End)
            {
                case FrameReadEnd.Oversized:
                    Eject(EjectCode.OversizedFrame, $"frame of {outcome.DeclaredLength} bytes is larger than the limit of {maxFrame}");
                    break;
                case FrameReadEnd.Malformed:
                    Eject(EjectCode.TruncatedFrame, $"frame length {outcome.DeclaredLength} is too small to hold a message type");
                    break;
                case FrameReadEnd.ClosedMidFrame:
                    Eject(EjectCode.TruncatedFrame, $"connection closed in the middle of a frame ({outcome.BytesLeft} bytes left)");
                    break;
            }
        }
    }

    /// <summary>The session as the frame reader's handler: each frame is handled under the session's lock.</summary>
    private readonly struct Inbound(ClientSession session) : IFrameHandler
    {
        public bool OnFrame(ushort type, ReadOnlySpan<byte> payload)
        {
            lock (session.sync)
            {
                return session.HandleFrame(type, payload);
            }
        }

        public ValueTask OnReadAsync(long bytes, int frames, CancellationToken cancellation)
        {
            session.agent.Metrics.Received(bytes, frames);
            return default;
        }
    }

    private bool HandleFrame(ushort type, ReadOnlySpan<byte> payload)
    {
        // A parked session's old connection (taken over by a resume) has nothing more to say.
        if (stage is SessionStage.Closed or SessionStage.Parked)
        {
            return false;
        }

        Interlocked.Exchange(ref lastReceivedMs, Environment.TickCount64);
        if (!messages.TryTake(Environment.TickCount64))
        {
            return Eject(EjectCode.RateLimited, $"more than {agent.Options.MaxMessagesPerSecond} messages per second");
        }

        try
        {
            return Dispatch((MessageType)type, payload);
        }
        catch (WireFormatException ex)
        {
            return Eject(EjectCode.TruncatedFrame, $"malformed {(MessageType)type}: {ex.Message}");
        }
    }

    private bool Dispatch(MessageType type, ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload);
        if (stage == SessionStage.AwaitingHello && type == MessageType.Resume)
        {
            return OnResume(ref reader);
        }

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
        if (!CheckHello(hash, version))
        {
            return false;
        }

        stage = SessionStage.Anonymous;
        scratch.Reset();
        ClientFrames.WriteHelloResp(scratch, agent.Time.GetUtcNow().UtcTicks, Id);
        return Append(scratch.WrittenSpan);
    }

    /// <summary>
    /// Checks the app version (124) and schema hash (125) a Hello or a Resume carries; ejects and returns false when
    /// they differ. A hash from the schema lock's compatible history is accepted whatever the app version, and the
    /// session is then served in that schema; one from its history that is no longer compatible gets 125 naming the
    /// first breaking change.
    /// </summary>
    private bool CheckHello(ulong hash, string version)
    {
        schema = null;
        if (hash != agent.Registry.SchemaHash && agent.SchemaHistory.TryGet(hash, out var earlier, out var breaking))
        {
            if (earlier is null)
            {
                return Eject(EjectCode.BadSchemaHash, $"client schema {hash:x16} (app version '{version}') is an earlier version that this server no longer serves: {breaking!.Rule} {breaking.Subject}: {breaking.Detail}; update the client");
            }

            schema = earlier;
            logger.LogInformation("{Session}: client schema {Hash} (app version {Version}) is an earlier compatible version; served in that schema", Name, earlier.Hash, version);
            return true;
        }

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

        return true;
    }

    private bool OnAddInterest(ref WireReader reader)
    {
        if (stage != SessionStage.Established)
        {
            return Eject(EjectCode.AnonymousViolation, "AddInterest needs a logged-in session; anonymous sessions may only call [Anonymous] UberDOG methods");
        }

        if (!interestChanges.TryTake(Environment.TickCount64))
        {
            return Eject(EjectCode.RateLimited, $"more than {agent.Options.MaxInterestChangesPerSecond} interest changes per second");
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

        // Every zone of every interest costs a subscription and its share of each sync: bound the total per session.
        int zonesAfter = interests.ZoneCount - interests.ZoneCountOf(context) + zones.Distinct().Count();
        if (zonesAfter > agent.Options.MaxZonesPerSession)
        {
            return Eject(EjectCode.TooManyInterests, $"interest {context} would make {zonesAfter} zones in all; a session may hold at most {agent.Options.MaxZonesPerSession}");
        }

        var verdict = agent.InterestPolicy.Decide(new InterestRequest(account, parent, zones, this));
        if (verdict == InterestVerdict.Refused)
        {
            string shown = string.Join(", ", zones.Take(8)) + (zones.Length > 8 ? $", ... ({zones.Length} zones)" : string.Empty);
            return Eject(EjectCode.ForbiddenInterest, $"interest in parent {parent} zones [{shown}] is not allowed for this account", parent);
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

        // The policy could not vouch for the parent: the State Server answers only if the parent is public.
        scratch.WriteByte(verdict == InterestVerdict.AllowedIfPublic ? (byte)1 : (byte)0);
        agent.Router.Publish(new Envelope(InternalMessageType.QueryZones, Channel, DoId.Empty, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
        return true;
    }

    private bool OnRemoveInterest(ref WireReader reader)
    {
        if (stage != SessionStage.Established)
        {
            return Eject(EjectCode.AnonymousViolation, "RemoveInterest needs a logged-in session");
        }

        if (!interestChanges.TryTake(Environment.TickCount64))
        {
            return Eject(EjectCode.RateLimited, $"more than {agent.Options.MaxInterestChangesPerSecond} interest changes per second");
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
            var field = target.Model.FindFieldByWireId(index);
            if (field is null)
            {
                return Eject(EjectCode.ForbiddenField, $"{target.Model.Name} has no field {index}", id);
            }

            string? refusal = SendRefusal(field.IsClSend, field.IsOwnSend, field.IsAi, target, field.ToString());
            if (refusal is not null)
            {
                return Eject(EjectCode.ForbiddenField, refusal, id);
            }

            scratch.WriteUInt16((ushort)index);
            IReadOnlyList<string>? problems;
            if (schema?.OldCodecOf(target.Model, index) is { } oldCodec)
            {
                // A client on an earlier schema sends a widened field in its old type; it is checked in the new one.
                var widened = new WireReader(SessionSchema.Widen(ref reader, oldCodec, field));
                problems = field.DecodeAndValidate(ref widened, context, scratch);
            }
            else
            {
                problems = field.DecodeAndValidate(ref reader, context, scratch);
            }

            if (problems is not null)
            {
                return Eject(EjectCode.FieldConstraintViolated, $"{field}: {string.Join("; ", problems)}", id);
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
            var uberDogMethod = uberDogModel.FindMethodByWireId(index);
            if (uberDogMethod is null)
            {
                return Eject(EjectCode.ForbiddenField, $"{uberDogModel.Name} has no method {index}");
            }

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

            // Bounded work per connection: each call may cost a password hash, so only a few may wait at once.
            if (Interlocked.Increment(ref pendingUberDogCalls) > agent.Options.MaxPendingUberDogCalls)
            {
                return Eject(EjectCode.RateLimited, $"more than {agent.Options.MaxPendingUberDogCalls} UberDOG calls waiting for an answer; wait for each answer");
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

        var method = target.Model.FindMethodByWireId(index);
        if (method is null)
        {
            return Eject(EjectCode.ForbiddenField, $"{target.Model.Name} has no method {index}", id);
        }

        bool isAi = (method.Keywords & FieldKeywords.Ai) != 0;
        string? refusal = SendRefusal(method.IsClSend, method.IsOwnSend, isAi, target, method.ToString());
        if (refusal is not null)
        {
            return Eject(EjectCode.ForbiddenField, refusal, id);
        }

        var argumentsReader = reader;
        int argumentsStart = reader.Position;
        var arguments = method.DecodeArguments(ref reader);
        reader.EnsureAtEnd();
        var problems = method.ValidateArguments(CleanContext(target.Model), arguments);
        if (problems is not null)
        {
            return Eject(EjectCode.FieldConstraintViolated, $"{method}: {string.Join("; ", problems.Select(p => p.Key + ": " + string.Join(", ", p.Value)))}", id);
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

    private static string Describe(MessageType type) =>
        Enum.IsDefined(type) ? $"{type} ({(ushort)type})" : $"message type {(ushort)type}";
}
