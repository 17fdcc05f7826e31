using System.Buffers;
using Pastry.Wire;

namespace Pastry.Messaging;

/// <summary>What a <see cref="Channel"/> names.</summary>
public enum ChannelKind : byte
{
    /// <summary>No channel (an anonymous sender).</summary>
    None = 0,

    /// <summary>A well-known server role (State Server, Database, Client Agent); the id's low half is the role number.</summary>
    Role = 1,

    /// <summary>One distributed object, by DoId.</summary>
    Object = 2,

    /// <summary>A location: a parent DoId and a zone.</summary>
    Location = 3,

    /// <summary>One client session (its connection).</summary>
    Session = 4,

    /// <summary>An account: every session logged in as it, and the owner of objects it owns.</summary>
    Account = 5,

    /// <summary>A participant such as an AI process, by its id.</summary>
    Participant = 6,
}

/// <summary>
/// An address in the Message Director: a role, an object, a location <c>(parent, zone)</c>, a session, an account
/// or a participant (ARCHITECTURE 4). It is a small value type, so it can key dictionaries without allocating.
/// </summary>
public readonly record struct Channel(ChannelKind Kind, DoId Id, uint Zone)
{
    /// <summary>Bytes of the encoded form.</summary>
    public const int EncodedSize = 1 + DoId.Size + 4;

    /// <summary>The State Server role.</summary>
    public static readonly Channel StateServer = new(ChannelKind.Role, new DoId(0, 1), 0);

    /// <summary>The Database role.</summary>
    public static readonly Channel Database = new(ChannelKind.Role, new DoId(0, 2), 0);

    /// <summary>The diagnostics role of an OTP process (memory reports, see <see cref="InternalMessageType.MemoryQuery"/>).</summary>
    public static readonly Channel Diagnostics = new(ChannelKind.Role, new DoId(0, 3), 0);

    /// <summary>Session events (a logged-in session closed), for AIs that keep per-player state.</summary>
    public static readonly Channel SessionEvents = new(ChannelKind.Role, new DoId(0, 4), 0);

    /// <summary>The channel of an object.</summary>
    public static Channel ForObject(DoId id) => new(ChannelKind.Object, id, 0);

    /// <summary>The channel of a location.</summary>
    public static Channel ForLocation(DoId parent, uint zone) => new(ChannelKind.Location, parent, zone);

    /// <summary>The channel of a session.</summary>
    public static Channel ForSession(DoId session) => new(ChannelKind.Session, session, 0);

    /// <summary>The channel of an account.</summary>
    public static Channel ForAccount(DoId account) => new(ChannelKind.Account, account, 0);

    /// <summary>The channel of a participant (an AI).</summary>
    public static Channel ForParticipant(DoId participant) => new(ChannelKind.Participant, participant, 0);

    /// <summary>Writes the channel (kind, id, zone).</summary>
    public void Write(IBufferWriter<byte> writer)
    {
        writer.WriteByte((byte)Kind);
        writer.WriteDoId(Id);
        writer.WriteUInt32(Zone);
    }

    /// <summary>Reads a channel.</summary>
    internal static Channel Read(ref WireReader reader)
    {
        byte kind = reader.ReadByte();
        if (kind > (byte)ChannelKind.Participant)
        {
            throw new WireFormatException(WireError.InvalidValue, $"Unknown channel kind {kind}.");
        }

        return new Channel((ChannelKind)kind, reader.ReadDoId(), reader.ReadUInt32());
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        ChannelKind.Location => $"location({Id}, {Zone})",
        ChannelKind.Role => Id.Low switch { 1 => "state-server", 2 => "database", 3 => "diagnostics", 4 => "session-events", _ => $"role({Id.Low})" },
        _ => $"{Kind.ToString().ToLowerInvariant()}({Id})",
    };
}
