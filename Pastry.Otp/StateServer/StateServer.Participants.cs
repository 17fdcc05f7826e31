using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// Participants: what a Message Director link that is not privileged may change (ARCHITECTURE 4, "a participant may
// set only objects that it created or was given"). The MD names such a link's participant channels here, in order
// with everything the link sends, so a restricted channel is checked from its first message to its last post-remove.
internal sealed partial class StateServer
{
    private readonly HashSet<Messaging.Channel> restrictedParticipants = new();

    /// <summary>Participant channels of links that are not privileged, now (for tests and diagnostics).</summary>
    internal int RestrictedParticipantCount => restrictedParticipants.Count;

    private void Restrict(Envelope envelope, bool restricted)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var participant = Messaging.Channel.Read(ref reader);
        reader.EnsureAtEnd();
        if (restricted)
        {
            restrictedParticipants.Add(participant);
        }
        else
        {
            restrictedParticipants.Remove(participant);
        }
    }

    /// <summary>Whether <paramref name="sender"/> speaks for a link that is not privileged (one set lookup, none while no such link is connected).</summary>
    private bool IsRestricted(Messaging.Channel sender) =>
        restrictedParticipants.Count > 0 && restrictedParticipants.Contains(sender);

    /// <summary>
    /// Whether the sender of <paramref name="envelope"/> may change <paramref name="obj"/>: anyone but a restricted
    /// participant, which may change only objects whose AI it is (it created or activated them) or that were given to
    /// it (their owner is its id). A refusal is logged and answered with an Error.
    /// </summary>
    private bool MayChange(Envelope envelope, StateObject obj)
    {
        var sender = envelope.Sender;
        if (WasReleasedBy(obj, sender))
        {
            Refuse(envelope, $"{envelope.Type} on {obj.Model.Name} {obj.Id}: {sender} handed this object over to AI {obj.Ai}, which handles it now; the change crossed the handover and is dropped");
            return false;
        }

        if (!IsRestricted(sender) || obj.Ai == sender || obj.Owner == sender.Id)
        {
            return true;
        }

        Refuse(envelope, $"{envelope.Type} on {obj.Model.Name} {obj.Id}: {sender} is a participant link that neither created nor was given this object (its AI is {obj.Ai}); only a privileged link (MessageDirector:PrivilegedSecret) may change another's objects");
        return false;
    }

    /// <summary>Whether the sender of <paramref name="envelope"/> may name <paramref name="ai"/> as an object's AI (create, activate, post-remove cleanup): a restricted participant names only itself.</summary>
    private bool MayActAs(Envelope envelope, Messaging.Channel ai)
    {
        if (ai == envelope.Sender || !IsRestricted(envelope.Sender))
        {
            return true;
        }

        Refuse(envelope, $"{envelope.Type} naming {ai} as the AI: {envelope.Sender} is a participant link and may act only as itself");
        return false;
    }

    /// <summary>
    /// A database write (set, compare-and-swap, delete) from a participant link, which the Message Director sends here
    /// instead of to the Database: it goes on to the Database only when the object is live and the participant's own
    /// (it created or activated it, or was given it), so a link cannot rewrite another process's or an offline
    /// player's stored row. Anything else is answered <see cref="DatabaseStatus.Forbidden"/> and logged.
    /// </summary>
    private void CheckDatabaseWrite(Envelope envelope)
    {
        var sender = envelope.Sender;
        if (!IsRestricted(sender) || (TryGetObject(envelope.Subject, out var obj) && (obj.Ai == sender || obj.Owner == sender.Id)))
        {
            Publish(envelope, Messaging.Channel.Database);
            return;
        }

        string reason = $"{envelope.Type} on {envelope.Subject}: {sender} is a participant link and this is not an object it has live (created, activated or was given); only a privileged link (MessageDirector:PrivilegedSecret) may write another's stored rows";
        logger.LogWarning("State Server refused {Type} from {Sender}: {Reason}", envelope.Type, sender, reason);
        if (envelope.Payload.Length < 4 || sender.Kind is ChannelKind.None or ChannelKind.Location)
        {
            return;
        }

        uint context = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        if (context == 0)
        {
            return;
        }

        scratch.Reset();
        scratch.WriteUInt32(context);
        scratch.WriteByte((byte)DatabaseStatus.Forbidden);
        scratch.WriteString(reason);
        Publish(new Envelope(Database.DatabaseServer.ReplyTypeOf(envelope.Type), Messaging.Channel.StateServer, envelope.Subject, scratch.WrittenSpan.ToArray()), sender);
    }
}
