using Pastry.Messaging;

namespace Pastry.Otp.MessageDirector;

/// <summary>
/// What a Message Director link that is not privileged (a participant) may send: requests to the server roles, never
/// the replies and relays that only the server sends (a forged <see cref="InternalMessageType.ClientSetField"/> would
/// pass for a client's checked set), and no link may send the MD's own messages. A plain rule table, testable without sockets.
/// </summary>
internal static class ParticipantRules
{
    /// <summary>Whether <paramref name="type"/> is the MD's own (the link handshake and the participant notices to the State Server, 9020-9039).</summary>
    public static bool IsDirectorsOwn(InternalMessageType type) => (ushort)type is >= 9020 and <= 9039;

    /// <summary>Whether a participant may send <paramref name="type"/>.</summary>
    public static bool MaySend(InternalMessageType type) => type is
        InternalMessageType.CreateObject or InternalMessageType.SetField or InternalMessageType.SetFields or InternalMessageType.SetFieldsStored
        or InternalMessageType.CallMethod or InternalMessageType.SetLocation or InternalMessageType.SetOwner
        or InternalMessageType.DeleteObject or InternalMessageType.DeleteAiObjects or InternalMessageType.ParkAiObjects or InternalMessageType.ClaimAiObjects
        or InternalMessageType.ServeDistricts or InternalMessageType.HandOverObject
        or InternalMessageType.ActivateObject
        or InternalMessageType.QueryZones or InternalMessageType.MemoryQuery
        or InternalMessageType.DbCreateObject or InternalMessageType.DbGetAll or InternalMessageType.DbSetFields
        or InternalMessageType.DbSetFieldsIfEquals or InternalMessageType.DbDeleteObject or InternalMessageType.DbQuery;

    /// <summary>
    /// Whether <paramref name="type"/> writes an existing stored row (set, compare-and-swap, delete): from a participant
    /// it goes to the State Server, which passes it to the Database only for the participant's own live objects.
    /// </summary>
    public static bool IsCheckedDatabaseWrite(InternalMessageType type) => type is
        InternalMessageType.DbSetFields or InternalMessageType.DbSetFieldsIfEquals or InternalMessageType.DbDeleteObject;

    /// <summary>
    /// Whether a participant may subscribe to <paramref name="channel"/>: participant channels (claimed, one link each),
    /// locations, objects and session events; never a session, an account or a server role's inbox, which carry what
    /// clients send and what only an object's owner may see.
    /// </summary>
    public static bool MaySubscribe(Channel channel) =>
        channel.Kind is ChannelKind.Participant or ChannelKind.Location or ChannelKind.Object || channel == Channel.SessionEvents;

    /// <summary>Whether a participant may address <paramref name="target"/>: only the server roles that take requests.</summary>
    public static bool MayTarget(Channel target) =>
        target == Channel.StateServer || target == Channel.Database || target == Channel.Diagnostics;
}
