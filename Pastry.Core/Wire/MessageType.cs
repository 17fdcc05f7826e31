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

    /// <summary>
    /// Server → client: <c>token: bytes, graceMs: uint32</c>. Sent after a login and after every resume: the single-use
    /// token that <see cref="Resume"/> presents if the connection drops, and how long the server keeps the session.
    /// </summary>
    ResumeToken = 7,

    /// <summary>
    /// Client → server, instead of <see cref="Hello"/> on a new connection: <c>schemaHash: uint64, version: string,
    /// account, token: bytes, receivedBytes: int64</c> (the bytes of frames the client read from the session so far).
    /// Answered with <see cref="ResumeResp"/>; send nothing else until it arrives.
    /// </summary>
    Resume = 8,

    /// <summary>
    /// Server → client: <c>status: uint8, reason: string, mode: uint8</c>. Status is a <see cref="ResumeStatus"/>; on
    /// a refusal the connection stays open and awaits <see cref="Hello"/>. Mode 0 (replay): what the client missed
    /// follows, then the session goes on; mode 1 (snapshot): a fresh Enter for every object in view follows, then
    /// <see cref="ResumeSnapshotDone"/>.
    /// </summary>
    ResumeResp = 9,

    /// <summary>Server → client: the fresh snapshot after a <see cref="ResumeResp"/> of mode 1 is complete; objects it did not re-enter have left the view.</summary>
    ResumeSnapshotDone = 10,

    /// <summary>
    /// Server → client: <c>doid, code: uint16, reason: string</c>. A set or call the client sent on that object reached
    /// the server but no AI will handle it (codes 380, 381: its AI is being replaced, or gone for now); the client may
    /// send it again. Not an eject: the session goes on. Older clients ignore it.
    /// </summary>
    RequestRefused = 50,

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
