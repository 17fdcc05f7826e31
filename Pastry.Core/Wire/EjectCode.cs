namespace Pastry.Wire;

/// <summary>
/// Why the server disconnected a client. The numbers are Astron's client eject codes, so that anyone who knows OTP
/// knows ours. The reason text sent with a code is never empty.
/// </summary>
public enum EjectCode : ushort
{
    /// <summary>
    /// The account logged in from another connection, which takes over the account's objects (Astron's number:
    /// one session per account; the second login kicks the first).
    /// </summary>
    LoggedInElsewhere = 100,

    /// <summary>The frame is larger than the configured maximum.</summary>
    OversizedFrame = 106,

    /// <summary>The first message was not Hello.</summary>
    NoHello = 107,

    /// <summary>The message type is unknown.</summary>
    UnknownMessageType = 108,

    /// <summary>The frame ended before its contents did, or could not be decoded.</summary>
    TruncatedFrame = 109,

    /// <summary>An anonymous session sent something only logged-in sessions may send.</summary>
    AnonymousViolation = 113,

    /// <summary>The interest policy refused the requested parent or zones.</summary>
    ForbiddenInterest = 115,

    /// <summary>The object is not in the session's view.</summary>
    UnknownObject = 117,

    /// <summary>The session may not set that field or call that method.</summary>
    ForbiddenField = 118,

    /// <summary>The session may not move that object.</summary>
    ForbiddenRelocate = 119,

    /// <summary>The client's app version differs from the server's.</summary>
    BadVersion = 124,

    /// <summary>The client's schema hash differs from the server's.</summary>
    BadSchemaHash = 125,

    /// <summary>A value failed the field's clean method or validators.</summary>
    FieldConstraintViolated = 127,

    /// <summary>The object the session depended on (for example its avatar) was lost.</summary>
    SessionObjectLost = 153,

    /// <summary>The session sent nothing within the heartbeat timeout.</summary>
    HeartbeatTimeout = 345,

    /// <summary>The session's outgoing queue stayed full: it reads too slowly (Pastry's own code).</summary>
    SlowConsumer = 346,

    /// <summary>The session sent more messages per second than allowed (Pastry's own code).</summary>
    RateLimited = 347,

    /// <summary>The session asked for more interests, or more zones in all, than allowed (Pastry's own code).</summary>
    TooManyInterests = 348,

    /// <summary>
    /// The session did not log in within the login deadline, or its address has too many connections or opens them
    /// too fast (Pastry's own code; the reason says which limit).
    /// </summary>
    NotAdmitted = 349,

    /// <summary>An operator ejected the session from the admin endpoint; the reason is theirs (Pastry's own code).</summary>
    OperatorEject = 350,

    /// <summary>
    /// The Client Agent speaks TLS on this port and the client sent plain frames: turn on TLS in the client
    /// (<c>ClientOptions.UseTls</c>). Sent in the clear, since the client cannot read anything else (Pastry's own code).
    /// </summary>
    TlsRequired = 356,

    /// <summary>
    /// The session was resumed from another connection with its resume token, so this connection is no longer its
    /// (Pastry's own code; the session and its objects live on over the new connection).
    /// </summary>
    ResumedElsewhere = 351,

    /// <summary>The server is shutting down.</summary>
    ServerShutdown = 154,

    /// <summary>
    /// WebSocket transport: one WebSocket message was larger than <c>ClientAgent:WebSocket:MaxMessageBytes</c>. Send the
    /// frames in more, smaller binary messages (Pastry's own code).
    /// </summary>
    WebSocketMessageTooLarge = 370,

    /// <summary>WebSocket transport: the client sent a text message; Pastry frames travel only in binary messages (Pastry's own code).</summary>
    WebSocketTextMessage = 371,

    /// <summary>
    /// WebSocket transport: the page's Origin is not in <c>ClientAgent:WebSocket:AllowedOrigins</c>. The upgrade is
    /// refused with HTTP 403 before any session exists; the code names the refusal in logs and metrics (Pastry's own code).
    /// </summary>
    OriginNotAllowed = 372,

    /// <summary>Message Director link: the link speaks another link protocol version, or did not start with the handshake (Pastry's own code).</summary>
    LinkVersionMismatch = 360,

    /// <summary>Message Director link: wrong or missing secret, or a privileged claim this MD does not grant (Pastry's own code).</summary>
    LinkAuthenticationFailed = 361,

    /// <summary>Message Director link: more post-removes (count or bytes) or subscriptions than one link may hold (Pastry's own code).</summary>
    LinkLimitExceeded = 362,

    /// <summary>
    /// Message Director link: a link that is not privileged sent something only the server may send (another sender,
    /// a reply or relay type, a target that is not a server role, or another participant's channel) (Pastry's own code).
    /// </summary>
    LinkForbidden = 363,

    /// <summary>Message Director link: no handshake within <c>MessageDirector:HandshakeTimeout</c> (Pastry's own code).</summary>
    LinkHandshakeTimeout = 364,

    /// <summary>
    /// Rolling AI upgrade: the object's AI is being replaced and more client requests wait for the new one than
    /// <c>StateServer:MaxHandOverHeldRequests</c>; this one was refused (sent as <c>RequestRefused</c>, not an eject). Send it again.
    /// </summary>
    HandOverBacklogFull = 380,

    /// <summary>
    /// No AI serves the object now (its AI stopped and the next one has not taken it back yet); the request was refused
    /// (sent as <c>RequestRefused</c>, not an eject). Send it again once the AI is back.
    /// </summary>
    NoAiServesObject = 381,

    /// <summary>
    /// Several OTP nodes: the object is moving to another node and more requests wait for the move than
    /// <c>StateServer:MaxHandOverHeldRequests</c>; this one was refused (sent as <c>RequestRefused</c>, not an eject). Send it again.
    /// </summary>
    ObjectMoveBacklogFull = 385,

    /// <summary>Rolling AI upgrade: no AI of the application is connected or parked, so there is nothing to take over (to the new AI).</summary>
    NothingToTakeOver = 382,

    /// <summary>Rolling AI upgrade: another hand-over of the application is under way, or several AIs of it run (to the new AI).</summary>
    HandOverUnderWay = 383,

    /// <summary>
    /// The AI's <c>Ai:ApplicationKey</c> differs from the one the application's first AI gave: it may not claim or
    /// take over that application's objects (to the claiming AI).
    /// </summary>
    ApplicationKeyMismatch = 384,

    /// <summary>
    /// A Message Director link frame was larger than the receiving side accepts (<c>MessageDirector:MaxFrameBytes</c> at
    /// the Message Director, <c>Ai:MaxFrameBytes</c> at the AI), so the link was dropped before the frame was read.
    /// </summary>
    LinkFrameTooLarge = 395,

    /// <summary>
    /// The AI gave no <c>Ai:ApplicationKey</c>, and the Message Director's links use a secret: an AI on a participant
    /// link may not claim or take over an application's objects without its key (to the claiming AI).
    /// </summary>
    ApplicationKeyRequired = 396,
}
