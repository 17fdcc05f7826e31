using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// A rolling AI upgrade (issue 19 item 5): a new AI of an application takes over every object of the running one, which
// then stops. It is the AI restart of StateServer.AiRestart.cs with the old AI still alive: instead of parking its
// objects when its link drops, the State Server asks it to hand them over (HandOverAi), and switches them to the new AI
// once it has stopped (AiHandedOver) or its link dropped. Objects never leave the world, so clients see no Leave/Enter.
// What clients send for those objects meanwhile is held here whole (bounded) and handled once the new AI's game has
// started (TakenOverAiStarted), as if it arrived then: the new AI hears each set as a change and each call; a request
// past the bound, or for an object no AI serves, is refused to its client, and nothing of it is applied.
// The application's first AI pins a key (Ai:ApplicationKey, a hash kept here): only an AI that gives the same key may
// claim or take over that application's objects.
internal sealed partial class StateServer
{
    private readonly TimeSpan aiHandOverTimeout;
    private readonly int maxHandOverHeldRequests;

    /// <summary>The applications whose AIs run, were parked or are handed over: the key hash their first AI pinned, and the live AIs.</summary>
    private readonly Dictionary<string, AiApplication> applications = new(StringComparer.Ordinal);

    /// <summary>Hand-overs under way, by application name.</summary>
    private readonly Dictionary<string, AiHandOver> handOvers = new(StringComparer.Ordinal);

    /// <summary>The AI whose client requests a hand-over holds now (the old AI while it stops, then the new one until its game starts).</summary>
    private readonly Dictionary<Messaging.Channel, AiHandOver> heldFor = new();

    /// <summary>The channels of dead AIs whose objects are parked: their objects' client requests are refused until claimed.</summary>
    private readonly HashSet<Messaging.Channel> parkedChannels = new();

    /// <summary>
    /// Whether a participant link (not privileged) must give an <c>Ai:ApplicationKey</c> to claim or take over an
    /// application's objects (396 otherwise). The OTP sets it when its Message Director has a secret.
    /// </summary>
    internal bool RequireApplicationKey { get; init; }

    /// <summary>How many hand-overs are under way (for tests and diagnostics; read on the State Server's task).</summary>
    internal int HandOverCount => handOvers.Count;

    /// <summary>
    /// Whether a client's set or call on <paramref name="obj"/> (<paramref name="request"/>, as the Client Agent sent it)
    /// must wait or is refused: while the object's AI is handed over it is held whole, and handled when the hand-over
    /// ends, so that the new AI hears it as a change it has not seen (past the bound it is refused to the client); a call
    /// on an object no AI serves (parked) is refused to the client. False: handle it now.
    /// </summary>
    private bool HeldOrRefused(Envelope request, StateObject obj)
    {
        if (heldFor.Count > 0 && heldFor.TryGetValue(obj.Ai, out var handOver))
        {
            if (handOver.Held.Count >= maxHandOverHeldRequests)
            {
                handOver.Refused++;
                RefuseRequest(request, obj.Id, EjectCode.HandOverBacklogFull, $"the AI of {obj.Model.Name} {obj.Id} is being replaced and {handOver.Held.Count} requests already wait for the new one (StateServer:MaxHandOverHeldRequests); send it again");
                return true;
            }

            handOver.Held.Enqueue(request);
            return true;
        }

        // A parked object (its AI died) keeps a client's set, which the next AI takes back with the object; a call would
        // reach no one, so it is refused.
        if (request.Type == InternalMessageType.ClientCallMethod && parkedChannels.Count > 0 && parkedChannels.Contains(obj.Ai))
        {
            RefuseRequest(request, obj.Id, EjectCode.NoAiServesObject, $"no AI serves {obj.Model.Name} {obj.Id} now (its AI stopped and the next has not taken it back yet); send it again shortly");
            return true;
        }

        return false;
    }

    /// <summary>Tells the client whose session sent <paramref name="cause"/> that no AI will handle it (client message RequestRefused).</summary>
    private void RefuseRequest(Envelope cause, DoId id, EjectCode code, string reason)
    {
        logger.LogDebug("State Server refused a client request {Type} from {Sender} about {DoId}: {Code} {Reason}", cause.Type, cause.Sender, id, (int)code, reason);
        if (cause.Sender.Kind != ChannelKind.Session)
        {
            return;
        }

        scratch.Reset();
        scratch.WriteUInt16((ushort)code);
        scratch.WriteString(reason);
        Publish(new Envelope(InternalMessageType.ClientRequestRefused, Messaging.Channel.StateServer, id, scratch.WrittenSpan.ToArray()), cause.Sender);
    }

    /// <summary>
    /// Whether an AI that gives <paramref name="key"/> may act for application <paramref name="name"/>: the first one pins
    /// the key (its hash), later ones must give the same. A refusal is answered with <see cref="InternalMessageType.AiClaimRefused"/>.
    /// </summary>
    private bool AdmitApplication(string name, string key, uint context, Messaging.Channel replyTo)
    {
        // Without a key, any link that holds the Message Director's secret could name the application and take its
        // objects; a participant must give one there (a privileged link may change any object anyway, and a loopback
        // MD without a secret lets any local process connect, so a key would guard nothing).
        if (key.Length == 0 && RequireApplicationKey && IsRestricted(replyTo))
        {
            RefuseClaim(context, EjectCode.ApplicationKeyRequired, $"the Message Director's links use a secret, so an AI on a participant link must give its application's key to claim or take over the objects of '{name}'; set Ai:ApplicationKey (the same in every AI of the application)", replyTo);
            return false;
        }

        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        if (!applications.TryGetValue(name, out var application))
        {
            applications[name] = new AiApplication(hash);
            return true;
        }

        if (CryptographicOperations.FixedTimeEquals(hash, application.KeyHash))
        {
            return true;
        }

        RefuseClaim(context, EjectCode.ApplicationKeyMismatch, $"the objects of application '{name}' belong to AIs with another Ai:ApplicationKey; give this AI the key the application's first AI gave", replyTo);
        return false;
    }

    private void RefuseClaim(uint context, EjectCode code, string reason, Messaging.Channel replyTo)
    {
        logger.LogWarning("State Server refused the claim or take-over of {Ai}: {Code} {Reason}", replyTo, (int)code, reason);
        scratch.Reset();
        scratch.WriteUInt32(context);
        scratch.WriteUInt16((ushort)code);
        scratch.WriteString(reason);
        Publish(new Envelope(InternalMessageType.AiClaimRefused, Messaging.Channel.StateServer, DoId.Empty, scratch.WrittenSpan.ToArray()), replyTo);
    }

    /// <summary>Counts <paramref name="ai"/> among the running AIs of <paramref name="name"/> (after a claim or a take-over).</summary>
    private void AddLiveAi(string name, Messaging.Channel ai)
    {
        if (applications.TryGetValue(name, out var application) && !application.Live.Contains(ai))
        {
            application.Live.Add(ai);
        }
    }

    /// <summary>The AI <paramref name="ai"/> of <paramref name="name"/> is gone (its link dropped).</summary>
    private void RemoveLiveAi(string name, Messaging.Channel ai)
    {
        if (applications.TryGetValue(name, out var application))
        {
            application.Live.Remove(ai);
        }
    }

    /// <summary>Forgets an application's key once no AI of it runs, is parked or is handed over (its next first AI pins one again).</summary>
    private void ForgetApplicationIfIdle(string name)
    {
        if (applications.TryGetValue(name, out var application) && application.Live.Count == 0 && !parkedAis.ContainsKey(name) && !handOvers.ContainsKey(name))
        {
            applications.Remove(name);
        }
    }

    /// <summary>A new AI asks to take over the running AI of its application (<see cref="InternalMessageType.TakeOverAi"/>).</summary>
    private void TakeOver(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint context = reader.ReadUInt32();
        string name = reader.ReadString();
        string key = reader.ReadString();
        var ai = Messaging.Channel.Read(ref reader);
        reader.EnsureAtEnd();
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        if (name.Length == 0)
        {
            RefuseClaim(context, EjectCode.NothingToTakeOver, "a take-over needs the application's name (AiOptions.Application)", envelope.Sender);
            return;
        }

        if (!AdmitApplication(name, key, context, envelope.Sender))
        {
            return;
        }

        if (handOvers.TryGetValue(name, out var under))
        {
            RefuseClaim(context, EjectCode.HandOverUnderWay, $"a hand-over of '{name}' from {under.OldAi} to {under.NewAi} is under way; this AI was not given anything (stop it, or start it again once that one is done)", envelope.Sender);
            return;
        }

        var live = applications[name].Live.Where(c => c != ai).ToList();
        if (live.Count == 0)
        {
            if (parkedAis.ContainsKey(name))
            {
                // The AI to replace died before the new one came: a take-over of what it left is a take-back.
                logger.LogWarning("AI {Ai} asked to take over {Name}, whose AI is gone: it takes back the parked objects instead", ai, name);
                Claim(envelope.Sender, context, name, ai);
                return;
            }

            RefuseClaim(context, EjectCode.NothingToTakeOver, $"no AI of application '{name}' is connected or parked here, so there is nothing to take over; check the application's name, or start this AI without --take-over (Ai:TakeOver) to begin afresh", envelope.Sender);
            ForgetApplicationIfIdle(name);
            return;
        }

        if (live.Count > 1)
        {
            RefuseClaim(context, EjectCode.HandOverUnderWay, $"{live.Count} AIs of '{name}' run ({string.Join(", ", live)}); a take-over replaces exactly one, so stop all but one first", envelope.Sender);
            return;
        }

        var handOver = new AiHandOver(name, live[0], ai, envelope.Sender, context);
        handOvers[name] = handOver;
        heldFor[handOver.OldAi] = handOver;
        StartHandOverTimer(handOver);
        scratch.Reset();
        ai.Write(scratch);
        Publish(new Envelope(InternalMessageType.HandOverAi, Messaging.Channel.StateServer, DoId.Empty, scratch.WrittenSpan.ToArray()), handOver.OldAi);
        logger.LogWarning("AI {New} takes over {Name} from {Old} ({Count} object(s)): the old AI is asked to stop, and client requests for its objects are held meanwhile", ai, name, handOver.OldAi, ObjectsOf(handOver.OldAi).Count);
    }

    /// <summary>The old AI of a hand-over stopped (<see cref="InternalMessageType.AiHandedOver"/>): its objects become the new AI's.</summary>
    private void OnAiHandedOver(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var ai = Messaging.Channel.Read(ref reader);
        reader.EnsureAtEnd();
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        var handOver = handOvers.Values.FirstOrDefault(h => h.OldAi == ai && !h.Switched);
        if (handOver is null)
        {
            // The hand-over was called off (the new AI went away) and the old AI was told to carry on.
            logger.LogInformation("AI {Ai} said it handed over, but no hand-over of it is under way (called off); it carries on", ai);
            return;
        }

        SwitchOver(handOver, "the old AI stopped");
    }

    /// <summary>Every object of the old AI becomes the new AI's, which is sent them (as a claim is); requests stay held until it started.</summary>
    private void SwitchOver(AiHandOver handOver, string why)
    {
        heldFor.Remove(handOver.OldAi);
        handOver.Switched = true;
        int count = 0;
        foreach (var id in ObjectsOf(handOver.OldAi))
        {
            if (TryGetObject(id, out var obj))
            {
                obj.Ai = handOver.NewAi;
                SendClaimed(obj, handOver.Context, handOver.ReplyTo);
                count++;
            }
        }

        scratch.Reset();
        scratch.WriteUInt32(handOver.Context);
        Publish(new Envelope(InternalMessageType.QueryDone, Messaging.Channel.StateServer, DoId.Empty, scratch.WrittenSpan.ToArray()), handOver.ReplyTo);
        SendHandOverFinished(handOver.OldAi, completed: true);
        if (applications.TryGetValue(handOver.Name, out var application))
        {
            application.Live.Remove(handOver.OldAi);
        }

        AddLiveAi(handOver.Name, handOver.NewAi);
        heldFor[handOver.NewAi] = handOver;
        StartHandOverTimer(handOver);
        logger.LogWarning("AI {Old} handed {Count} object(s) of {Name} over to {New} ({Why}); {Held} client request(s) held until it has started", handOver.OldAi, count, handOver.Name, handOver.NewAi, why, handOver.Held.Count);
    }

    /// <summary>The new AI's game started (<see cref="InternalMessageType.TakenOverAiStarted"/>): the held requests go to it, in order.</summary>
    private void OnTakenOverAiStarted(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var ai = Messaging.Channel.Read(ref reader);
        reader.EnsureAtEnd();
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        if (heldFor.TryGetValue(ai, out var handOver) && handOver.Switched)
        {
            Release(handOver, "its game started");
        }
    }

    /// <summary>Ends a switched hand-over: the held requests go to the new AI.</summary>
    private void Release(AiHandOver handOver, string why)
    {
        heldFor.Remove(handOver.NewAi);
        handOvers.Remove(handOver.Name);
        handOver.Timer?.Dispose();
        int held = handOver.Held.Count;
        while (handOver.Held.TryDequeue(out var request))
        {
            HandleSafely(request);
        }

        logger.LogWarning("The hand-over of {Name} to {New} is done ({Why}): {Held} held client request(s) delivered to it, {Refused} refused", handOver.Name, handOver.NewAi, why, held, handOver.Refused);
    }

    /// <summary>
    /// The link of an AI in a hand-over dropped (its post-remove, before it is parked): the old AI's ends the wait (its
    /// objects go to the new AI at once; what it had received and not handled is lost, as in any crash); the new AI's
    /// calls the hand-over off. True when the objects need no parking.
    /// </summary>
    private bool OnHandOverLinkDropped(string name, Messaging.Channel ai)
    {
        if (!handOvers.TryGetValue(name, out var handOver))
        {
            return false;
        }

        if (handOver.OldAi == ai && !handOver.Switched)
        {
            SwitchOver(handOver, "the old AI's link dropped before it said it stopped");
            return true;
        }

        if (handOver.NewAi != ai)
        {
            return false;
        }

        handOvers.Remove(name);
        handOver.Timer?.Dispose();
        if (!handOver.Switched)
        {
            // The old AI keeps its objects: it is told to carry on, and gets what was held for it.
            heldFor.Remove(handOver.OldAi);
            SendHandOverFinished(handOver.OldAi, completed: false);
            int held = handOver.Held.Count;
            while (handOver.Held.TryDequeue(out var request))
            {
                HandleSafely(request);
            }

            logger.LogWarning("The new AI {New} of {Name} went away before the switch: the hand-over is called off, {Old} keeps its objects and gets the {Held} held client request(s)", ai, name, handOver.OldAi, held);
            return false;
        }

        // Switched already: the objects are the new AI's, and are parked with it for the next AI; the held requests are refused.
        heldFor.Remove(handOver.NewAi);
        int refused = 0;
        while (handOver.Held.TryDequeue(out var request))
        {
            RefuseRequest(request, request.Subject, EjectCode.NoAiServesObject, $"the AI that took over {request.Subject} stopped before it served this request; nothing of it was applied; send it again once an AI is back");
            refused++;
        }

        logger.LogWarning("The new AI {New} of {Name} went away before its game started: its objects are parked for the next AI, {Refused} held client request(s) refused", ai, name, refused);
        return false;
    }

    /// <summary>A hand-over step took longer than <c>StateServer:AiHandOverTimeout</c>: the hand-over goes on without waiting further.</summary>
    private void EndHandOverWait(Envelope expiry)
    {
        var handOver = handOvers.Values.FirstOrDefault(h => ReferenceEquals(h.Expiry, expiry));
        if (handOver is null)
        {
            return;
        }

        if (!handOver.Switched)
        {
            logger.LogWarning("AI {Old} did not hand {Name} over within {Timeout} s: its objects go to {New} without waiting further", handOver.OldAi, handOver.Name, aiHandOverTimeout.TotalSeconds, handOver.NewAi);
            SwitchOver(handOver, "the old AI did not answer in time");
            return;
        }

        logger.LogWarning("AI {New} did not say its game started within {Timeout} s: the held requests go to it anyway", handOver.NewAi, aiHandOverTimeout.TotalSeconds);
        Release(handOver, "the wait for its start timed out");
    }

    private void StartHandOverTimer(AiHandOver handOver)
    {
        handOver.Timer?.Dispose();

        // The wait ends by a message to this loop, so that the hand-over is only ever touched on the State Server's task.
        var expiry = new Envelope(InternalMessageType.TakeOverAi, Messaging.Channel.StateServer, DoId.Empty, ReadOnlyMemory<byte>.Empty);
        handOver.Expiry = expiry;
        handOver.Timer = TimeProvider.System.CreateTimer(_ => inbox.Deliver(expiry), null, aiHandOverTimeout, Timeout.InfiniteTimeSpan);
    }

    private void SendHandOverFinished(Messaging.Channel oldAi, bool completed) =>
        Publish(new Envelope(InternalMessageType.AiHandOverFinished, Messaging.Channel.StateServer, DoId.Empty, new[] { completed ? (byte)1 : (byte)0 }), oldAi);

    /// <summary>Sends <paramref name="obj"/> to a claiming or taking-over AI as a <see cref="InternalMessageType.ClaimedAiObject"/>.</summary>
    private void SendClaimed(StateObject obj, uint context, Messaging.Channel to)
    {
        scratch.Reset();
        scratch.WriteUInt32(context);
        scratch.WriteByte(obj.DbBacked ? (byte)1 : (byte)0);
        ObjectEntry.Write(scratch, obj);
        Publish(new Envelope(InternalMessageType.ClaimedAiObject, Messaging.Channel.StateServer, obj.Id, scratch.WrittenSpan.ToArray()), to);
    }

    /// <summary>The stopping server drops the hand-over timers.</summary>
    private void DisposeHandOvers()
    {
        foreach (var handOver in handOvers.Values)
        {
            handOver.Timer?.Dispose();
        }

        handOvers.Clear();
        heldFor.Clear();
    }

    /// <summary>An application as the State Server knows it: the hash of the key its first AI gave, and its running AIs.</summary>
    private sealed class AiApplication(byte[] keyHash)
    {
        public byte[] KeyHash { get; } = keyHash;

        public List<Messaging.Channel> Live { get; } = new();
    }

    /// <summary>
    /// One hand-over: the old and new AI, where the new AI's answers go, the client requests held (bounded by
    /// <c>StateServer:MaxHandOverHeldRequests</c>), and the wait for the current step.
    /// </summary>
    private sealed class AiHandOver(string name, Messaging.Channel oldAi, Messaging.Channel newAi, Messaging.Channel replyTo, uint context)
    {
        public string Name { get; } = name;

        public Messaging.Channel OldAi { get; } = oldAi;

        public Messaging.Channel NewAi { get; } = newAi;

        public Messaging.Channel ReplyTo { get; } = replyTo;

        public uint Context { get; } = context;

        /// <summary>Whether the objects are the new AI's already (the old AI stopped or went away).</summary>
        public bool Switched { get; set; }

        public Queue<Envelope> Held { get; } = new();

        public int Refused { get; set; }

        public Envelope? Expiry { get; set; }

        public ITimer? Timer { get; set; }
    }
}
