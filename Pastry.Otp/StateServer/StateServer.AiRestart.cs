using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// An AI restart brings the world back (issue 18 item 3): when an AI's link drops, its objects are parked, not
// deleted: they stay where they are, with their values, and clients see nothing leave. The next AI of the same
// application claims them (ClaimAiObjects) and carries on; when no AI claims them within StateServer:AiRestartGrace,
// the normal cleanup runs (they are deleted, as DeleteAiObjects does).
internal sealed partial class StateServer
{
    private readonly TimeSpan aiRestartGrace;

    /// <summary>The AIs whose link dropped, by application name: each dead AI's channel and the signal that ends its grace.</summary>
    private readonly Dictionary<string, List<ParkedAi>> parkedAis = new(StringComparer.Ordinal);

    /// <summary>How many dead AIs' objects are parked now (for tests and diagnostics; read on the State Server's task).</summary>
    internal int ParkedAiCount => parkedAis.Values.Sum(list => list.Count);

    /// <summary>The post-remove of an AI that can be restarted: park its objects under its application's name.</summary>
    private void Park(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var ai = Messaging.Channel.Read(ref reader);
        string name = reader.ReadString();
        reader.EnsureAtEnd();
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        ForgetDistricts(ai);

        // An AI in a rolling upgrade: the old one's objects go to the new AI instead of being parked.
        bool handedOver = name.Length > 0 && OnHandOverLinkDropped(name, ai);
        if (name.Length > 0)
        {
            RemoveLiveAi(name, ai);
        }

        if (!handedOver)
        {
            ParkOrDelete(envelope, ai, name);
        }

        if (name.Length > 0)
        {
            ForgetApplicationIfIdle(name);
        }
    }

    /// <summary>Parks the objects of the dead AI <paramref name="ai"/> under <paramref name="name"/>, or deletes them when nothing may be kept.</summary>
    private void ParkOrDelete(Envelope envelope, Messaging.Channel ai, string name)
    {
        int count = ObjectsOf(ai).Count;
        if (aiRestartGrace == TimeSpan.Zero || name.Length == 0 || count == 0)
        {
            DeleteObjectsOf(ai, envelope);
            return;
        }

        // The grace ends by a message to this loop, so that the objects are only ever touched on the State Server's task.
        var expiry = new Envelope(InternalMessageType.ParkAiObjects, Messaging.Channel.StateServer, DoId.Empty, envelope.Payload);
        var timer = TimeProvider.System.CreateTimer(_ => inbox.Deliver(expiry), null, aiRestartGrace, Timeout.InfiniteTimeSpan);
        if (!parkedAis.TryGetValue(name, out var parked))
        {
            parkedAis[name] = parked = new List<ParkedAi>();
        }

        var owners = new HashSet<DoId>();
        foreach (var id in ObjectsOf(ai))
        {
            if (TryGetObject(id, out var obj) && !obj.Owner.IsEmpty)
            {
                owners.Add(obj.Owner);
            }
        }

        parked.Add(new ParkedAi(ai, expiry, timer, owners, new HashSet<DoId>()));
        parkedChannels.Add(ai);
        logger.LogWarning("The link of AI {Ai} ({Name}) dropped: its {Count} object(s) stay in the world for {Grace} s for the next AI of {Name} to take back", ai, name, count, aiRestartGrace.TotalSeconds, name);
    }

    /// <summary>
    /// An AI of application <c>name</c> starts (or reconnects): it takes every object parked under that name, and counts
    /// as a running AI of it (one that a rolling upgrade may take over). The application's key must match.
    /// </summary>
    private void Claim(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint context = reader.ReadUInt32();
        string name = reader.ReadString();
        var ai = Messaging.Channel.Read(ref reader);

        // An AI of an earlier version gives no key.
        string key = reader.IsAtEnd ? string.Empty : reader.ReadString();
        reader.EnsureAtEnd();
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        if (name.Length > 0 && !AdmitApplication(name, key, context, envelope.Sender))
        {
            return;
        }

        Claim(envelope.Sender, context, name, ai);
    }

    /// <summary>Gives <paramref name="ai"/> the objects parked under <paramref name="name"/>, then the done (to <paramref name="replyTo"/>).</summary>
    private void Claim(Messaging.Channel replyTo, uint context, string name, Messaging.Channel ai)
    {
        int claimed = 0;
        if (parkedAis.Remove(name, out var parked))
        {
            foreach (var dead in parked)
            {
                dead.Timer.Dispose();
                parkedChannels.Remove(dead.Ai);
                foreach (var id in ObjectsOf(dead.Ai))
                {
                    if (!TryGetObject(id, out var obj))
                    {
                        continue;
                    }

                    obj.Ai = ai;
                    SendClaimed(obj, context, replyTo);
                    claimed++;
                }
            }

            // Sessions that closed meanwhile: no AI heard SessionClosed, so the claimer is told (it saves and unloads those players).
            foreach (var account in parked.SelectMany(p => p.ClosedOwners).Distinct())
            {
                scratch.Reset();
                scratch.WriteUInt32(context);
                Publish(new Envelope(InternalMessageType.ClaimedSessionClosed, Messaging.Channel.StateServer, account, scratch.WrittenSpan.ToArray()), replyTo);
            }

            logger.LogWarning("AI {Ai} took back {Count} object(s) of {Name} from {Dead} AI(s) whose link had dropped", ai, claimed, name, parked.Count);
        }

        if (name.Length > 0)
        {
            AddLiveAi(name, ai);
        }

        scratch.Reset();
        scratch.WriteUInt32(context);
        Publish(new Envelope(InternalMessageType.QueryDone, Messaging.Channel.StateServer, DoId.Empty, scratch.WrittenSpan.ToArray()), replyTo);
    }

    /// <summary>A session closed: when it owned parked objects, the AI that takes them back must hear of it.</summary>
    private void OnSessionClosed(Envelope envelope)
    {
        foreach (var (name, parked) in parkedAis)
        {
            foreach (var dead in parked)
            {
                if (dead.Owners.Contains(envelope.Subject) && dead.ClosedOwners.Add(envelope.Subject))
                {
                    logger.LogInformation("Account {Account} logged out while no AI of {Name} runs; the next one is told when it takes its objects back", envelope.Subject, name);
                }
            }
        }
    }

    /// <summary>A parked AI's grace ended with no AI to take its objects back: the normal cleanup runs.</summary>
    private void EndParking(Envelope expiry)
    {
        foreach (var (name, parked) in parkedAis)
        {
            int index = parked.FindIndex(p => ReferenceEquals(p.Expiry, expiry));
            if (index < 0)
            {
                continue;
            }

            var dead = parked[index];
            dead.Timer.Dispose();
            parked.RemoveAt(index);
            parkedChannels.Remove(dead.Ai);
            if (parked.Count == 0)
            {
                parkedAis.Remove(name);
                ForgetApplicationIfIdle(name);
            }

            logger.LogWarning("No AI of {Name} came back within {Grace} s: the objects of {Ai} are deleted", name, aiRestartGrace.TotalSeconds, dead.Ai);
            DeleteObjectsOf(dead.Ai, expiry);
            return;
        }
    }

    /// <summary>The stopping server drops the grace timers.</summary>
    private void DisposeParkedAis()
    {
        foreach (var parked in parkedAis.Values)
        {
            foreach (var dead in parked)
            {
                dead.Timer.Dispose();
            }
        }

        parkedAis.Clear();
        parkedChannels.Clear();
    }

    /// <summary>
    /// A dead AI whose objects wait for the next AI of its application: the accounts that own some of them, and those of
    /// these whose session closed since (both bounded by the parked objects).
    /// </summary>
    private sealed record ParkedAi(Messaging.Channel Ai, Envelope Expiry, ITimer Timer, HashSet<DoId> Owners, HashSet<DoId> ClosedOwners);
}
