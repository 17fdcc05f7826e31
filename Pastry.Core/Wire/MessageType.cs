namespace Pastry.Wire;

/// <summary>
/// Client protocol message types. The numbers follow Astron's client protocol where Astron has the message, so that
/// anyone who knows OTP can read a capture; Pastry's own additions use numbers Astron leaves free.
/// </summary>
public enum MessageType : ushort
{
    /// <summary>Client → server: <c>schemaHash: uint64, version: string</c>. Must be the first message.</summary>
    Hello = 1,

    /// <summary>Server → client: <c>serverTimeTicks: int64</c>; the hello was accepted.</summary>
    HelloResp = 2,

    /// <summary>Client → server: a polite goodbye.</summary>
    Disconnect = 3,

    /// <summary>Server → client: <c>code: uint16, reason: string</c>, then the server closes the connection.</summary>
    Eject = 4,

    /// <summary>Both ways: keeps the session alive.</summary>
    Heartbeat = 5,

    /// <summary>Client → server <c>clientSendTicks: int64</c>; server → client adds <c>serverTicks: int64</c>.</summary>
    ClockSync = 6,

    /// <summary>Both ways: <c>doid, fieldIndex: uint16, value</c>.</summary>
    SetField = 120,

    /// <summary>Both ways: <c>doid, count: uint16, (fieldIndex: uint16, value)*</c>, applied atomically.</summary>
    SetFields = 121,

    /// <summary>Both ways: <c>doid, methodIndex: uint16, arguments</c>. An RPC is a field that is not stored.</summary>
    CallMethod = 122,

    /// <summary>Server → client: <c>doid, reason: byte</c> (<c>1</c> disabled, <c>2</c> deleted).</summary>
    LeaveObject = 132,

    /// <summary>Server → client: <c>doid, parent, zone: uint32</c>.</summary>
    Location = 140,

    /// <summary>Server → client: <c>doid, classId: uint32, parent, zone: uint32, owner, values of Required+Ram+Broadcast fields</c>.</summary>
    EnterObject = 142,

    /// <summary>Server → client: as <see cref="EnterObject"/>, for the owner: OwnSend fields included.</summary>
    EnterOwnedObject = 172,

    /// <summary>Client → server: <c>context: uint32, parent, count: varint, zones: uint32*</c>.</summary>
    AddInterest = 200,

    /// <summary>Client → server: <c>context: uint32</c>.</summary>
    RemoveInterest = 203,

    /// <summary>Server → client: <c>context: uint32</c>; every object of that interest has been sent.</summary>
    InterestDone = 204,
}
