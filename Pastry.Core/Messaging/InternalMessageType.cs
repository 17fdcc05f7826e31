namespace Pastry.Messaging;

/// <summary>
/// The types of internal messages between the server roles. Payload layouts are given per member; all values use
/// the wire codec of ARCHITECTURE 3. Numbers are grouped by the role that handles them, as in Astron.
/// </summary>
public enum InternalMessageType : ushort
{
    /// <summary>To the MD itself: subscribe the sending link to <c>channel</c>.</summary>
    AddChannel = 9000,

    /// <summary>To the MD itself: unsubscribe the sending link from <c>channel</c>.</summary>
    RemoveChannel = 9001,

    /// <summary>To the MD itself: subscribe to a zone range <c>parent, low: uint32, high: uint32</c>.</summary>
    AddRange = 9002,

    /// <summary>To the MD itself: unsubscribe from a zone range.</summary>
    RemoveRange = 9003,

    /// <summary>To the MD itself: <c>targets, frame</c> — a message the MD routes when this link drops.</summary>
    AddPostRemove = 9010,

    /// <summary>To the MD itself: forget every post-remove message of this link.</summary>
    ClearPostRemoves = 9011,

    /// <summary>
    /// On the NATS backplane's node subject (an OTP process's: the keeper subject), from every process every
    /// <c>Nats:HeartbeatInterval</c>: <c>flags: u8</c>, bit 0 keeper (an OTP process), bit 1 ready (its roles are
    /// subscribed); <see cref="Envelope.Sender"/> is the process's node channel. A keeper that hears nothing from a node
    /// for <c>Nats:NodeTimeout</c> routes its post-removes; an AI process that stops hearing a ready keeper creates its
    /// objects again once a ready one is there.
    /// </summary>
    NodeHeartbeat = 9200,

    /// <summary>On the node subject: <c>type: uint16, envelope body</c> (as <see cref="AddPostRemove"/> on the MD link), registered by the sending node.</summary>
    NodeAddPostRemove = 9201,

    /// <summary>On the node subject: forget every post-remove of the sending node.</summary>
    NodeClearPostRemoves = 9202,

    /// <summary>On the node subject: the sending node is shutting down; keepers route its post-removes at once.</summary>
    NodeGoodbye = 9203,

    /// <summary>
    /// From a keeper to one node: <c>expired: bool</c>. True: the keeper routed the node's post-removes (it heard nothing
    /// from it for <c>Nats:NodeTimeout</c>), so the node registers them again and re-creates what they removed. False:
    /// the keeper holds no post-removes of the node (it started later), which registers them again.
    /// </summary>
    NodeReset = 9204,

    /// <summary>
    /// On the node subject: as <see cref="NodeAddPostRemove"/>, but owned by the inner envelope's sender (a Client
    /// Agent's session on an OTP node): it replaces that owner's previous one and <see cref="NodeRemoveOwnedPostRemove"/>
    /// forgets it; <see cref="NodeClearPostRemoves"/> leaves it.
    /// </summary>
    NodeAddOwnedPostRemove = 9205,

    /// <summary>On the node subject: <c>owner: channel</c>; forget the sending node's post-remove of that owner (it ended cleanly).</summary>
    NodeRemoveOwnedPostRemove = 9206,

    /// <summary>
    /// From the MD to a link that just connected, before anything else: <c>version: uint16, nonce: 32 bytes</c>. The
    /// link answers with <see cref="LinkAuthenticate"/>; nothing is routed for it before the handshake succeeds.
    /// </summary>
    LinkChallenge = 9020,

    /// <summary>
    /// From a link to the MD, its first message: <c>version: uint16, privileged: bool, nonce: 32 bytes, proof: bytes</c>.
    /// The proof is HMAC-SHA256 over both nonces with the shared secret (never the secret itself); empty without one.
    /// </summary>
    LinkAuthenticate = 9021,

    /// <summary>
    /// From the MD: the handshake succeeded. <c>version: uint16, privileged: bool, proof: bytes</c>; the proof shows
    /// that the MD knows the secret too (empty when it has none).
    /// </summary>
    LinkWelcome = 9022,

    /// <summary>From the MD: <c>code: uint16, reason: string</c> (an MD-link <c>EjectCode</c>, 360-364); the link is closed next.</summary>
    LinkRefused = 9023,

    /// <summary>
    /// From the MD to the State Server: <c>participant: channel</c> now speaks for a link that is not privileged, so
    /// its sets, moves and deletes are checked against the objects it created or was given. Links cannot send it.
    /// </summary>
    LinkParticipantRestricted = 9024,

    /// <summary>From the MD to the State Server: <c>participant: channel</c>; its link closed (after its post-removes). Links cannot send it.</summary>
    LinkParticipantReleased = 9025,

    /// <summary>
    /// To the diagnostics role (<see cref="Channel.Diagnostics"/>): <c>collect: bool</c>. When true, a full blocking,
    /// compacting garbage collection that returns free memory to the OS runs first. Answered with
    /// <see cref="MemoryReport"/> to the sender. Tools such as <c>pastry bench idle</c> use it to measure memory per session.
    /// </summary>
    MemoryQuery = 9100,

    /// <summary>
    /// From the diagnostics role: <c>managedHeapBytes: int64, gcCommittedBytes: int64, workingSetBytes: int64,
    /// gen0Collections: int32, gen1Collections: int32, gen2Collections: int32</c>.
    /// </summary>
    MemoryReport = 9101,

    /// <summary>
    /// To the State Server: <c>classId: uint32, parent, zone: uint32, owner, ai: channel, count: uint16,
    /// (field: uint16, value)*[, databaseBacked: byte]</c>; <see cref="Envelope.Subject"/> is the new DoId. Missing
    /// Required fields are refused. The optional trailing <c>databaseBacked</c> (1) marks a stored object an AI puts back
    /// after the OTP restarted: its Db fields are kept and later sets of them written through, as after an activation.
    /// </summary>
    CreateObject = 2000,

    /// <summary>To the State Server from the AI: <c>field: uint16, value</c> (also from Client Agents, already checked).</summary>
    SetField = 2020,

    /// <summary>To the State Server: <c>count: uint16, (field: uint16, value)*</c>, applied together.</summary>
    SetFields = 2021,

    /// <summary>To the State Server: <c>method: uint16, arguments</c>: an RPC on an object, relayed by its keywords.</summary>
    CallMethod = 2022,

    /// <summary>To the State Server: <c>parent, zone: uint32</c>.</summary>
    SetLocation = 2040,

    /// <summary>To the State Server: <c>owner</c>.</summary>
    SetOwner = 2041,

    /// <summary>To the State Server: delete the object and, recursively, its children (an activated object is only unloaded from RAM; its stored row stays, see <see cref="DbDeleteObject"/>).</summary>
    DeleteObject = 2050,

    /// <summary>To the State Server: <c>ai: channel</c>: delete every object created by that AI (post-remove cleanup).</summary>
    DeleteAiObjects = 2051,

    /// <summary>
    /// To the State Server: <c>context: uint32, classId: uint32, parent, zone: uint32, owner, ai: channel, count: uint16,
    /// (field: uint16, value)*</c>; <see cref="Envelope.Subject"/> is the DoId. Loads the object's Db fields from the
    /// Database role, adds the given values (Required or Ram fields that are not Db), creates the object in RAM and
    /// publishes <see cref="EnterLocation"/>. From then on it behaves like any RAM object, and its Db fields are
    /// written through. Answered with <see cref="ActivateObjectResp"/>.
    /// </summary>
    ActivateObject = 2060,

    /// <summary>
    /// From the State Server to the sender of <see cref="ActivateObject"/>: <c>context: uint32, status: uint8, reason:
    /// string, count: uint16, (field: uint16, value)*</c>. Status is a <c>DatabaseStatus</c> (0 ok; 2 no stored object
    /// with that DoId; 3 already active; 4 invalid; 5 bad stored data, the reason names the DoId and field); on 0 the
    /// values are every stored field of the now active object.
    /// </summary>
    ActivateObjectResp = 2061,

    /// <summary>
    /// To the State Server: <c>context: uint32, parent, count, zones: uint32*, mustBePublic: byte</c>; answered with
    /// entries and a done. With <c>mustBePublic</c> 1 (the interest policy left the parent to the State Server) only the
    /// root and objects at the root are answered; any other parent gets a done with the refused byte.
    /// </summary>
    QueryZones = 2100,

    /// <summary>From the State Server: an object now visible at its location; payload an object entry (<c>ObjectEntry</c>).</summary>
    EnterLocation = 2200,

    /// <summary>From the State Server to a querying session: one object of a zone query; payload an object entry (<c>ObjectEntry</c>) after <c>context: uint32</c>.</summary>
    QueryEntry = 2201,

    /// <summary>From the State Server to a querying session: <c>context: uint32</c>, then <c>refused: byte</c> 1 when a <c>mustBePublic</c> parent was not public.</summary>
    QueryDone = 2202,

    /// <summary>From the State Server: <c>oldParent, oldZone, entry</c>: the object moved (entry is its new location and values).</summary>
    ChangingLocation = 2203,

    /// <summary>From the State Server: <c>clientFrame</c> relaying a field update (or RPC) that everyone at the location may see.</summary>
    RelayBroadcast = 2204,

    /// <summary>From the State Server to the AI and owner: <c>clientFrame</c> relaying a non-broadcast update.</summary>
    RelayPrivate = 2205,

    /// <summary>From the State Server: the object was deleted; payload is the client LeaveObject(Deleted) frame.</summary>
    ObjectDeleted = 2206,

    /// <summary>From the State Server: <c>newOwner, entry</c>: the owner changed.</summary>
    ChangingOwner = 2207,

    /// <summary>
    /// From the State Server: <c>parent: DoId, zone: uint32, census: uint32, flags: byte, clientFrame*</c>, several
    /// <see cref="RelayBroadcast"/> frames in a row for one location and one sender, each about the object whose DoId
    /// starts its payload; <see cref="Envelope.Subject"/> is empty. The State Server coalesces relays it has queued, so
    /// that a busy location costs each session one delivery per batch rather than one per update (PERFORMANCE: batching
    /// decides everything). <c>census</c> is how many objects were at the location, and flag 1 says a frame is about an
    /// owned object: a session that sees that many objects there and owns none of the batch's sends the frames as one
    /// block, shared by reference with every other such session. The payload never changes once published.
    /// </summary>
    RelayBroadcastBatch = 2208,

    /// <summary>From the State Server to the creating AI: <c>field: uint16, value</c> sent by a client.</summary>
    ClientSetField = 2300,

    /// <summary>From the State Server to the object's AI: <c>account, method: uint16, arguments</c> called by a client.</summary>
    ClientCallMethod = 2301,

    /// <summary>
    /// To the Database role: <c>context: uint32, classId: uint32, count: uint16, (field: uint16, value)*</c>;
    /// <see cref="Envelope.Subject"/> is the new DoId. Stores a new row: the given Db fields (cleaned and validated),
    /// every other Db field at its type's default; a Required Db field must be given. Answered with
    /// <see cref="DbCreateObjectResp"/> after the commit.
    /// </summary>
    DbCreateObject = 3000,

    /// <summary>From the Database role: <c>context: uint32, status: uint8, reason: string</c> (status 0 = committed).</summary>
    DbCreateObjectResp = 3001,

    /// <summary>To the Database role: <c>context: uint32, classId: uint32</c>; reads every Db field of the object <see cref="Envelope.Subject"/>.</summary>
    DbGetAll = 3010,

    /// <summary>
    /// From the Database role: <c>context: uint32, status: uint8, reason: string, count: uint16, (field: uint16,
    /// value)*</c>. On status 0 the values are every Db field. A stored value that fails its type or validators
    /// answers status 5 (bad data) with a reason naming the DoId and field, and nothing is changed.
    /// </summary>
    DbGetAllResp = 3011,

    /// <summary>
    /// To the Database role: <c>context: uint32, classId: uint32, count: uint16, (field: uint16, value)*</c>: writes
    /// Db fields of <see cref="Envelope.Subject"/>, batched with other writes in one transaction. With a context
    /// other than 0 it is answered with <see cref="DbSetFieldsAck"/> after the commit; context 0 (the State Server's
    /// write-through) is not answered, and its failures are logged.
    /// </summary>
    DbSetFields = 3020,

    /// <summary>From the Database role: <c>context: uint32, status: uint8, reason: string</c>; status 0 means committed (durable).</summary>
    DbSetFieldsAck = 3021,

    /// <summary>
    /// To the Database role: <c>context: uint32, classId: uint32, count: uint16, (field: uint16, expected, new)*</c>:
    /// compare and swap. The new values are written only if every field holds its expected value, in one statement,
    /// so two spenders can never both spend the same gold. Answered with <see cref="DbSetFieldsIfEqualsResp"/>.
    /// </summary>
    DbSetFieldsIfEquals = 3022,

    /// <summary>
    /// From the Database role: <c>context: uint32, status: uint8, reason: string, count: uint16, (field: uint16,
    /// value)*</c>. Status 0: swapped and committed; 1: a value differed and nothing was written. For both the values
    /// are the current values of the request's fields, so the requester can retry without another read.
    /// </summary>
    DbSetFieldsIfEqualsResp = 3023,

    /// <summary>To the Database role: <c>context: uint32, classId: uint32</c>; deletes the stored object <see cref="Envelope.Subject"/> (not the RAM copy).</summary>
    DbDeleteObject = 3030,

    /// <summary>From the Database role: <c>context: uint32, status: uint8, reason: string</c> (status 0 = deleted and committed).</summary>
    DbDeleteObjectResp = 3031,

    /// <summary>
    /// To the Database role: <c>context: uint32, classId: uint32, result: uint8 (1 objects, 2 DoIds, 3 count),
    /// skip: uint32, take: uint32 (0: up to the role's limit), filters: uint16, (field: uint16, operator: uint8,
    /// count: uint16, value*)*, orders: uint16, (field: uint16, descending: uint8)*</c>; field 65535 is the DoId. One
    /// query, answered with <see cref="DbQueryResp"/> by the role's reader, beside the write batches (see
    /// <c>Pastry.Otp.Database.QueryRunner</c>). Values are parameters, never SQL text.
    /// </summary>
    DbQuery = 3040,

    /// <summary>
    /// From the Database role: <c>context: uint32, status: uint8, reason: string</c>, then by result: objects
    /// <c>count: uint32, (doid, fields: uint16, (field: uint16, value)*)*</c>, DoIds <c>count: uint32, doid*</c>, or
    /// <c>count: uint64</c>; then <c>badRows: uint16, reason: string*</c> (rows left out because a stored value fails
    /// its field, as activation reports them).
    /// </summary>
    DbQueryResp = 3041,

    /// <summary>
    /// To the State Server from the AI: <c>count: uint16, (field: uint16, value)*</c>, applied and relayed like
    /// <see cref="SetFields"/> but not written through, because the values are already the database's (the answer
    /// of an acknowledged write, a compare-and-swap or a refused write). Writing them again could undo a later
    /// compare-and-swap that reached the database first.
    /// </summary>
    SetFieldsStored = 3042,

    /// <summary>
    /// From the Client Agent to <see cref="Channel.SessionEvents"/>: a logged-in session closed (logout, disconnect,
    /// eject or timeout); <see cref="Envelope.Subject"/> is its account. AIs use it to save and unload a player.
    /// </summary>
    SessionClosed = 2400,

    /// <summary>
    /// From the Client Agent to <see cref="Channel.SessionEvents"/> when a session logs in (and, answering an older
    /// claim, to that claim's session): <c>stamp: int64, remote: string</c>; <see cref="Envelope.Sender"/> is the session,
    /// <see cref="Envelope.Subject"/> its account. Of two claims of one account, the one with the higher
    /// <c>(stamp, session)</c> holds it: every Client Agent ejects (100) its own session of the account that holds an
    /// older claim, and an AI ignores the <see cref="SessionClosed"/> of a session that no longer holds its account.
    /// <c>stamp</c> is a hybrid logical clock (Unix milliseconds, past every stamp its node has heard); <c>remote</c>
    /// names the new connection in the eject's reason.
    /// </summary>
    AccountClaimed = 2472,

    /// <summary>
    /// To the State Server: <c>context: uint32, owner</c>; answered like <see cref="QueryZones"/>, with a
    /// <see cref="QueryEntry"/> for every object <c>owner</c> owns and a <see cref="QueryDone"/>. A resumed session whose
    /// missed updates overflowed uses it to rebuild the owned part of its view (a scan of every object: a rare path).
    /// </summary>
    QueryOwned = 2410,

    /// <summary>
    /// To the State Server, an AI's post-remove instead of <see cref="DeleteAiObjects"/>: <c>ai: channel, name: string</c>.
    /// When the AI's link drops, its objects stay where they are for <c>StateServer:AiRestartGrace</c>, parked under
    /// <c>name</c> (its application), so that the next AI of that name takes them back with <see cref="ClaimAiObjects"/>
    /// and no client sees them leave; when the grace ends unclaimed they are deleted as <see cref="DeleteAiObjects"/> does.
    /// </summary>
    ParkAiObjects = 2440,

    /// <summary>
    /// To the State Server from an AI that starts or reconnects: <c>context: uint32, name: string, ai: channel</c>. Every
    /// object parked under <c>name</c> (<see cref="ParkAiObjects"/>) becomes <c>ai</c>'s, and is sent to the sender as a
    /// <see cref="ClaimedAiObject"/>, then a <see cref="QueryDone"/> with the context (nothing parked: only the done).
    /// </summary>
    ClaimAiObjects = 2441,

    /// <summary>
    /// From the State Server to a claiming AI: <c>context: uint32, databaseBacked: byte, entry</c> (an object entry,
    /// <c>ObjectEntry</c>, whose owner frame holds every value the State Server keeps, Db fields too when database-backed).
    /// </summary>
    ClaimedAiObject = 2442,

    /// <summary>
    /// From the State Server to a claiming AI, after its <see cref="ClaimedAiObject"/>s: <c>context: uint32</c>;
    /// <see cref="Envelope.Subject"/> is an account that owned a parked object and whose session closed while no AI was
    /// there to hear <see cref="SessionClosed"/>. The AI raises it as a closed session once the game has started.
    /// </summary>
    ClaimedSessionClosed = 2443,

    /// <summary>
    /// Rolling AI upgrade, to the State Server from a new AI: <c>context: uint32, name: string, key: string, ai: channel</c>.
    /// The running AI of application <c>name</c> is asked to hand its objects over (<see cref="HandOverAi"/>); once it
    /// has (<see cref="AiHandedOver"/>), or its link dropped, every one of its objects becomes <c>ai</c>'s and is sent to
    /// the sender as a <see cref="ClaimedAiObject"/>, then a <see cref="QueryDone"/> with the context. Nothing running and
    /// nothing parked, another hand-over under way or a wrong key: <see cref="AiClaimRefused"/>. Client sets and calls
    /// for those objects are held from here until the new AI says <see cref="TakenOverAiStarted"/>.
    /// </summary>
    TakeOverAi = 2450,

    /// <summary>
    /// From the State Server to the running AI of an application: <c>newAi: channel</c>. The AI stops its timers,
    /// finishes what it has queued and its database requests, then answers <see cref="AiHandedOver"/>.
    /// </summary>
    HandOverAi = 2451,

    /// <summary>To the State Server from an AI asked to <see cref="HandOverAi"/>: <c>ai: channel</c>; it has stopped and sends nothing more about its objects.</summary>
    AiHandedOver = 2452,

    /// <summary>
    /// From the State Server to the AI that handed over: <c>completed: uint8</c>. 1: its objects are the new AI's, and
    /// it may stop; 0: the new AI went away before the switch, so it keeps its objects and carries on.
    /// </summary>
    AiHandOverFinished = 2453,

    /// <summary>
    /// From the State Server to an AI whose <see cref="ClaimAiObjects"/> or <see cref="TakeOverAi"/> it refused:
    /// <c>context: uint32, code: uint16 (an <c>EjectCode</c>, 382-384), reason: string</c>.
    /// </summary>
    AiClaimRefused = 2454,

    /// <summary>
    /// From the State Server to a client's session: <c>code: uint16, reason: string</c>; <see cref="Envelope.Subject"/>
    /// is the object. A set or call the client sent was applied where it could be but no AI will hear it (its AI is
    /// being replaced and too many requests wait, or its AI is gone): the session sends the client
    /// <c>RequestRefused</c> (client message 50) so that nothing is lost silently.
    /// </summary>
    ClientRequestRefused = 2455,

    /// <summary>
    /// To the State Server from an AI that took over (<see cref="TakeOverAi"/>): <c>ai: channel</c>; its game has started,
    /// so the client sets and calls held during the hand-over are delivered to it now, in order.
    /// </summary>
    TakenOverAiStarted = 2456,

    /// <summary>
    /// To the State Server from an AI: <c>ai: channel, count: uint16, (parent: DoId, firstZone: uint32, lastZone: uint32) x count</c>.
    /// The locations (districts) <c>ai</c> serves from now on, replacing what it said before (a count of 0 serves
    /// nothing). An object that moves into one of them while another AI handles it is handed over to <c>ai</c>
    /// (<see cref="AdoptedAiObject"/>, <see cref="ReleasedAiObject"/>). Ranges of another AI that overlap are taken from
    /// it (the newest word wins, logged). Forgotten when the AI's post-remove runs.
    /// </summary>
    ServeDistricts = 2460,

    /// <summary>
    /// To the State Server from the AI of <see cref="Envelope.Subject"/>: <c>to: channel</c>. Hands the object over to the
    /// AI <c>to</c> now, wherever it is; <c>to</c> must have said which districts it serves (<see cref="ServeDistricts"/>),
    /// which is how the State Server knows it is connected. Otherwise the object stays and the sender gets an Error.
    /// </summary>
    HandOverObject = 2461,

    /// <summary>
    /// From the State Server to the AI an object was handed over to: <c>context: uint32 (0), databaseBacked: byte, entry</c>,
    /// laid out as <see cref="ClaimedAiObject"/>. Client sets and RPCs of the object go to this AI from the same moment.
    /// </summary>
    AdoptedAiObject = 2462,

    /// <summary>
    /// From the State Server to the AI that handled <see cref="Envelope.Subject"/> until it was handed over: <c>to: channel</c>.
    /// Its sets of the object that arrive after the handover are refused (an RPC call is still relayed: the answer to a
    /// client's call that reached it before).
    /// </summary>
    ReleasedAiObject = 2463,

    /// <summary>From the State Server to the sender: <c>reason: string</c>; a request was refused (for example a create without Required fields).</summary>
    Error = 2900,
}
