using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// One client connection: hello, heartbeats, anonymous vs established, interests with their sync queue, the
/// objects in view, and the checks on every field set and RPC a client sends (ARCHITECTURE 3-4). Client messages
/// and routed messages are handled under one lock per session, so the session's view never tears.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Everything it owns is disposed when RunAsync ends; the session lives exactly as long as that call.")]
internal sealed partial class ClientSession : IParticipant, IInterestView
{
    private readonly ClientAgent agent;

    // The connection: replaced when the session resumes on another one (see ClientSession.Resume.cs). It is the
    // socket of a TCP client, or the WebSocket request of a browser client (its disposal ends that request).
    private IDisposable connection;
    private Stream stream;
    private FrameOutbox outbox;
    private readonly object sync = new();
    private readonly PooledBufferWriter scratch = new(256);

    // The earlier schema this session's client speaks (null: the current one) and the buffer its frames are rewritten in.
    private SessionSchema? schema;
    private PooledBufferWriter? schemaScratch;
    private readonly InterestSet interests = new();
    private readonly VisibleObjects visible = new();
    private RecentlyLeftObjects? recentlyLeft;
    private readonly Dictionary<uint, uint> pendingQueries = new();
    private readonly Queue<Envelope> queuedDuringSync = new();

    // For each object that entered during the current sync: how many messages were queued before its entry arrived.
    // Those came from the State Server before it took the snapshot, so the entry already holds them (see Superseded).
    private readonly Dictionary<DoId, int> enteredDuringSync = new();
    private int replayIndex = -1;
    private readonly Dictionary<ModelInfo, DistributedObject> cleanContexts = new();
    private CancellationTokenSource stopReading = new();
    private CancellationTokenSource abort = new();
    private readonly CancellationTokenSource gone = new();
    private readonly ILogger logger;
    private SessionStage stage = SessionStage.AwaitingHello;
    private DoId account;
    private uint nextQuery;
    private uint ownedQuery;
    private long queuedBytes;
    private long lastReceivedMs;
    private TokenBucket messages;
    private TokenBucket interestChanges;
    private readonly long connectedMs;
    private int pendingUberDogCalls;

    /// <summary>
    /// A session on <paramref name="connection"/> (a socket, or a WebSocket request) from <paramref name="remote"/>, read
    /// and written through <paramref name="stream"/> (the socket's own stream, TLS over it, or the WebSocket's frames).
    /// </summary>
    public ClientSession(ClientAgent agent, IDisposable connection, Stream stream, System.Net.IPEndPoint? remote)
    {
        this.agent = agent;
        this.connection = connection;
        this.stream = stream;
        outbox = new FrameOutbox(agent.Options.MaxOutgoingBytes, agent.Flusher);
        logger = agent.Logger;
        Id = DoId.NewId();
        Channel = Messaging.Channel.ForSession(Id);
        Remote = remote?.ToString() ?? "?";
        RemoteAddress = remote?.Address;
        lastReceivedMs = connectedMs = Environment.TickCount64;
        messages = new TokenBucket(agent.Options.MaxMessagesPerSecond, connectedMs);
        interestChanges = new TokenBucket(agent.Options.MaxInterestChangesPerSecond, connectedMs);
    }

    private enum SessionStage
    {
        AwaitingHello,
        Anonymous,
        Established,
        /// <summary>The connection dropped; the session keeps its account, objects and interests for the grace period.</summary>
        Parked,
        Closed,
    }

    public DoId Id { get; }

    public Channel Channel { get; }

    public string Remote { get; private set; }

    /// <summary>The client's IP address (the key of the per-address limits), or null when the socket has none.</summary>
    public System.Net.IPAddress? RemoteAddress { get; private set; }

    /// <summary>What the per-address limits (connections, login failures) count this session under: its IPv4 address or IPv6 /64.</summary>
    public System.Net.IPAddress? AddressKey => RemoteAddress is null ? null : AddressLimits.KeyOf(RemoteAddress);

    /// <summary>Cancelled when the connection has closed: work queued for it (a password hash) is dropped.</summary>
    public CancellationToken Gone => gone.Token;

    public string Name => $"session {Id} ({Remote})";

    public DoId Account => account;

    /// <summary>This session's UberDOG calls, chained so that they run in order; set under the session's lock.</summary>
    public Task UberDogCalls { get; set; } = Task.CompletedTask;

    public async Task RunAsync()
    {
        agent.Router.Subscribe(this, Channel);
        PipeReader? resumedReader = null;
        try
        {
            while (true)
            {
                bool parked = await RunConnectionAsync(resumedReader).ConfigureAwait(false);
                if (handedOver || !parked)
                {
                    break;
                }

                // The connection dropped, the session did not: it waits for a resume until its grace period ends.
                var handover = await WaitForResumeAsync().ConfigureAwait(false);
                if (handover is null)
                {
                    break;
                }

                resumedReader = handover.Reader;
                Adopt(handover);
            }
        }
        finally
        {
            await CloseForGoodAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs one connection: sends, reads, and when it ends decides whether the session parks (an established session
    /// whose connection dropped, within the cap of parked sessions) or closes. Returns whether it parked.
    /// </summary>
    private async Task<bool> RunConnectionAsync(PipeReader? resumedReader)
    {
        var sending = outbox.RunAsync(stream, abort.Token);
        var reader = resumedReader;
        bool parked = false;
        try
        {
            reader ??= FrameReader.Open(stream);
            while (true)
            {
                await ReceiveAsync(reader).ConfigureAwait(false);
                if (pendingResume is not { } request)
                {
                    break;
                }

                // A Resume: this connection's outbox finishes first, so that the resumed session alone writes to it.
                pendingResume = null;
                outbox.Complete();
                await sending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (agent.TryResume(this, request, new Handover(connection, stream, reader, Remote, RemoteAddress, request.ReceivedBytes), out var refusal, out string reason))
                {
                    handedOver = true;
                    return false; // the finally below lets go of this connection without closing it
                }

                lock (sync)
                {
                    outbox.Dispose();
                    outbox = new FrameOutbox(agent.Options.MaxOutgoingBytes, agent.Flusher);
                    sending = outbox.RunAsync(stream, abort.Token);
                    scratch.Reset();
                    ClientFrames.WriteResumeResp(scratch, refusal, reason, snapshot: false);
                    Append(scratch.WrittenSpan);
                }
            }

            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            logger.LogDebug("{Session}: connection lost: {Message}", Name, ex.Message);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "{Session}: unexpected error; closing the session", Name);
        }
        finally
        {
            if (handedOver)
            {
                lock (sync)
                {
                    stage = SessionStage.Closed;
                    outbox.Dispose();
                }

                stopReading.Dispose();
                abort.Dispose();
            }
            else
            {
                // Decide under the lock, before the connection goes: from here on the session is parked or closed.
                // A WebSocket its client closed with a close message (a page closed, a client's Dispose) is a player
                // leaving, not a network drop: the session ends now, so others see the player leave at once instead
                // of after the grace period.
                bool leftOnPurpose = stream is WebSocketFrameStream { CloseReceived: true };
                if (leftOnPurpose && stage == SessionStage.Established)
                {
                    logger.LogInformation("{Session} (account {Account}): the client closed its WebSocket; the session ends without waiting for a resume", Name, account);
                }

                parked = !leftOnPurpose && Park();
                if (!parked)
                {
                    lock (sync)
                    {
                        stage = SessionStage.Closed;
                    }
                }

                await EndConnectionAsync(sending).ConfigureAwait(false);
            }
        }

        return parked;
    }

    /// <summary>Ends the current connection: flushes what is queued (2 s at most), closes the socket and frees the per-address slot.</summary>
    private async Task EndConnectionAsync(Task sending)
    {
        outbox.Complete();
        try
        {
            await sending.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }

        abort.Cancel();
        connection.Dispose();
        await stream.DisposeAsync().ConfigureAwait(false);
        lock (sync)
        {
            outbox.Dispose();
        }

        stopReading.Dispose();
        abort.Dispose();
        if (RemoteAddress is { } address)
        {
            agent.ReleaseAddress(address);
        }
    }

    /// <summary>Runs once, when the session ends for good: says it closed (unless its account moved on) and frees everything.</summary>
    private async Task CloseForGoodAsync()
    {
        gone.Cancel();
        bool wasParked;
        lock (sync)
        {
            wasParked = stage == SessionStage.Parked;
            stage = SessionStage.Closed;
            parkedQueue?.Dispose();
            parkedQueue = null;
            resumeSecret = null;
        }

        if (wasParked)
        {
            agent.Unparked();
        }

        agent.Router.UnsubscribeAll(this);

        // Only the session that still holds the account says it closed: one kicked by a second login (eject 100)
        // handed the account, and its objects, to the new session, so the AI must not clean them up.
        if (!account.IsEmpty && agent.ReleaseAccount(this, account))
        {
            agent.Router.Publish(SessionClosedEnvelope(), Messaging.Channel.SessionEvents);
        }

        // After the publish (one ordered queue): dying in between runs it twice at worst, never not at all.
        agent.OwnedPostRemoves?.RemoveOwnedPostRemove(Channel);

        lock (sync)
        {
            scratch.Dispose();
            schemaScratch?.Dispose();
        }

        // Pending UberDOG calls see Gone and finish without work; wait for them before the token goes away.
        await UberDogCalls.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        gone.Dispose();
        agent.OnSessionClosed(this);
    }

    /// <summary>
    /// Ejects the session when it has been silent for longer than the heartbeat timeout (345), or has not logged in
    /// within the login deadline (349): heartbeats alone do not keep an anonymous session alive.
    /// </summary>
    public void CheckHeartbeat(long nowMs)
    {
        if (stage == SessionStage.Parked)
        {
            CheckGrace(nowMs);
            return;
        }

        if (stage is SessionStage.AwaitingHello or SessionStage.Anonymous && nowMs - connectedMs > agent.Options.LoginTimeout.TotalMilliseconds)
        {
            lock (sync)
            {
                if (stage is SessionStage.AwaitingHello or SessionStage.Anonymous)
                {
                    Eject(EjectCode.NotAdmitted, $"not logged in within the login deadline of {agent.Options.LoginTimeout.TotalSeconds:0.#} s");
                }
            }

            return;
        }

        long silentMs = nowMs - Interlocked.Read(ref lastReceivedMs);
        if (silentMs > agent.Options.HeartbeatTimeout.TotalMilliseconds)
        {
            lock (sync)
            {
                string reason = $"no message for {silentMs / 1000.0:0.0} s (heartbeat timeout is {agent.Options.HeartbeatTimeout.TotalSeconds:0.#} s)";
                if (stage == SessionStage.Established && ParkNow(force: false))
                {
                    // A silent connection is most likely a dead one (Wi-Fi gone): the session parks, so the client can
                    // still resume within the grace period; the connection itself ends as any 345 does.
                    logger.LogInformation("{Session} (account {Account}): {Code} {CodeName}: {Reason}; parked for a resume", Name, account, (int)EjectCode.HeartbeatTimeout, EjectCode.HeartbeatTimeout, reason);
                    agent.OnEjected(this, EjectCode.HeartbeatTimeout, reason);
                    scratch.Reset();
                    ClientFrames.WriteEject(scratch, EjectCode.HeartbeatTimeout, reason);
                    outbox.AppendFinal(scratch.WrittenSpan);
                    stopReading.Cancel();
                    return;
                }

                Eject(EjectCode.HeartbeatTimeout, reason);
            }
        }
    }

    /// <summary>
    /// The earliest <see cref="Environment.TickCount64"/> at which <see cref="CheckHeartbeat"/> may act on this session
    /// (its login deadline, heartbeat deadline or the end of its resume grace); <see cref="long.MaxValue"/> when never.
    /// Read without the lock, as <see cref="CheckHeartbeat"/> reads the stage: a stale value only moves one sweep.
    /// </summary>
    public long NextCheckMs
    {
        get
        {
            var options = agent.Options;
            long heartbeatDue = Interlocked.Read(ref lastReceivedMs) + After(options.HeartbeatTimeout);
            return stage switch
            {
                SessionStage.AwaitingHello or SessionStage.Anonymous => Math.Min(connectedMs + After(options.LoginTimeout), heartbeatDue),
                SessionStage.Established => heartbeatDue,
                // A resume being handed over is checked every sweep until it completes (it stamps the time).
                SessionStage.Parked => pendingHandover is null ? parkedAtMs + After(options.ResumeGrace) : 0,
                _ => long.MaxValue,
            };
        }
    }

    /// <summary>The first whole millisecond past <paramref name="limit"/>: the checks eject when more time than the limit has passed.</summary>
    private static long After(TimeSpan limit) => (long)Math.Floor(limit.TotalMilliseconds) + 1;

    /// <summary>Gives back the send buffers a burst grew, when the session sent nothing since the last sweep; returns how many bytes.</summary>
    public long TrimIdleBuffers()
    {
        var box = outbox;
        int before = box.RetainedBytes;
        return box.TrimIfIdle() ? Math.Max(0, before - box.RetainedBytes) : 0;
    }

    /// <summary>Ejects the session because the server is stopping.</summary>
    public void Shutdown()
    {
        lock (sync)
        {
            Eject(EjectCode.ServerShutdown, "the server is shutting down");
        }
    }

    /// <inheritdoc />
    public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        if (envelope.Type == InternalMessageType.AccountClaimed)
        {
            // Another node's newer claim of this session's account, answering this session's own: the agent decides.
            agent.OnAccountClaimed(envelope);
            return;
        }

        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return;
            }

            switch (envelope.Type)
            {
                case InternalMessageType.QueryEntry:
                    OnQueryEntry(envelope);
                    return;
                case InternalMessageType.QueryDone:
                    OnQueryDone(envelope);
                    return;
                case InternalMessageType.Error:
                    logger.LogDebug("{Session}: server refused a request about {DoId}", Name, envelope.Subject);
                    return;
                case InternalMessageType.ClientRequestRefused:
                    {
                        // No AI will hear a set or call this client sent (a rolling AI upgrade, an AI restart): it is told, not left waiting.
                        var reader = new WireReader(envelope.Payload.Span);
                        var code = (EjectCode)reader.ReadUInt16();
                        string reason = reader.ReadString();
                        scratch.Reset();
                        ClientFrames.WriteRequestRefused(scratch, envelope.Subject, code, reason);
                        Append(scratch.WrittenSpan);
                        return;
                    }
            }

            if (Syncing)
            {
                // Updates that arrive during an interest sync are queued and replayed in order (ARCHITECTURE 4).
                queuedDuringSync.Enqueue(envelope);
                queuedBytes += envelope.Payload.Length;
                if (queuedBytes > agent.Options.MaxOutgoingBytes)
                {
                    DropSlowConsumer($"{queuedBytes} bytes of updates queued during an interest sync");
                }

                return;
            }

            Process(envelope);
        }
    }

    /// <summary>
    /// Marks the session logged in as <paramref name="accountId"/> (called by the login UberDOG), and kicks the
    /// account's previous session with 100: one session per account, and the account's objects pass to this one.
    /// False when the session has closed or is already logged in (a session never changes account).
    /// </summary>
    public bool Establish(DoId accountId)
    {
        lock (sync)
        {
            if (stage != SessionStage.Anonymous || !account.IsEmpty)
            {
                return false;
            }

            account = accountId;
            stage = SessionStage.Established;
            agent.Router.Subscribe(this, Messaging.Channel.ForAccount(accountId));
            logger.LogDebug("{Session} logged in as account {Account}", Name, accountId);
            IssueResumeToken();

            // What the account owns is in its view wherever it is; a second login must see it at once.
            QueryOwnedObjects();

            // If this OTP node dies, the others say this session closed (its own post-remove, kept by their keepers).
            // Under the lock: a close (stage Closed first) removes it after this, never before.
            agent.OwnedPostRemoves?.AddOwnedPostRemove(SessionClosedEnvelope(), Messaging.Channel.SessionEvents);
        }

        // Outside this session's lock: the kick takes the other session's lock, and two logins never wait on each other.
        agent.ClaimAccount(this, accountId)?.Kick(Remote);
        return true;
    }

    /// <summary>What this session says when it closes for good holding its account (<see cref="InternalMessageType.SessionClosed"/>).</summary>
    private Envelope SessionClosedEnvelope() => new(InternalMessageType.SessionClosed, Channel, account, Array.Empty<byte>());

    /// <summary>Whether the session is logged in (its login UberDOG refuses a second login).</summary>
    public bool IsEstablished
    {
        get
        {
            lock (sync)
            {
                return !account.IsEmpty;
            }
        }
    }

    /// <summary>Ejects the session with 100 because its account logged in from <paramref name="newRemote"/>.</summary>
    public void Kick(string newRemote)
    {
        lock (sync)
        {
            if (stage == SessionStage.Parked)
            {
                logger.LogInformation("{Session} (account {Account}, parked) ends: the account logged in from {Remote} ({Code} semantics: its objects pass to that session)", Name, account, newRemote, (int)EjectCode.LoggedInElsewhere);
                EndParking();
                return;
            }

            Eject(EjectCode.LoggedInElsewhere, $"this account logged in from another connection ({newRemote}); it now has the account's objects");
        }
    }

    /// <summary>Counts an UberDOG call as answered (see <see cref="ClientAgentOptions.MaxPendingUberDogCalls"/>).</summary>
    public void UberDogCallDone() => Interlocked.Decrement(ref pendingUberDogCalls);

    /// <summary>Sends an RPC from the server to this client (UberDOG answers).</summary>
    public void SendCall(DoId target, MethodDescriptor method, params object?[] arguments)
    {
        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return;
            }

            scratch.Reset();
            ClientFrames.WriteCallMethod(scratch, target, method, arguments);
            Append(scratch.WrittenSpan);
        }
    }

    private bool Append(ReadOnlySpan<byte> frames)
    {
        if (stage == SessionStage.Closed)
        {
            return false;
        }

        if (stage == SessionStage.Parked)
        {
            return AppendParked(frames);
        }

        if (outbox.TryAppend(frames))
        {
            // What the client was sent, counted as it counts what it read: a resume replays only when the two agree.
            appendedBytes += frames.Length;
            return true;
        }

        DropSlowConsumer($"more than {agent.Options.MaxOutgoingBytes} bytes waiting to be sent");
        return false;
    }

    /// <summary>
    /// Appends frames that other sessions send too (a location's broadcast batch), by reference: the outbox keeps the
    /// block, it does not copy it. A parked session copies it into its resume queue as any frame.
    /// </summary>
    private bool AppendShared(ReadOnlyMemory<byte> frames, int frameCount)
    {
        if (stage is SessionStage.Closed or SessionStage.Parked)
        {
            return Append(frames.Span);
        }

        if (outbox.TryAppendShared(frames, frameCount))
        {
            appendedBytes += frames.Length;
            return true;
        }

        DropSlowConsumer($"more than {agent.Options.MaxOutgoingBytes} bytes waiting to be sent");
        return false;
    }

    /// <summary>
    /// Ejects a session whose output backs up: its queued updates are dropped and the eject takes their place, so it
    /// leaves after the batch already on the wire. A client that still does not read is cut off when the send loop's
    /// grace time at close runs out (see <see cref="RunAsync"/>).
    /// </summary>
    private void DropSlowConsumer(string why)
    {
        if (stage is SessionStage.Closed or SessionStage.Parked)
        {
            return;
        }

        logger.LogWarning("{Session}: dropped as a slow consumer ({Code}): {Why}", Name, (int)EjectCode.SlowConsumer, why);
        agent.OnEjected(this, EjectCode.SlowConsumer, why);
        stage = SessionStage.Closed;
        using (var frame = new PooledBufferWriter(256))
        {
            ClientFrames.WriteEject(frame, EjectCode.SlowConsumer, $"slow consumer: {why}; read faster or ask for less interest");
            outbox.ReplaceWithFinal(frame.WrittenSpan);
        }

        stopReading.Cancel();
    }

    /// <summary>
    /// Queues an eject and stops reading; the connection closes once the eject is sent. Always returns false.
    /// <paramref name="subject"/>, when the eject is about one object, is the log line's <c>DoId</c> property.
    /// </summary>
    private bool Eject(EjectCode code, string reason, DoId subject = default)
    {
        if (stage == SessionStage.Closed)
        {
            return false;
        }

        if (stage == SessionStage.Parked)
        {
            // No connection to tell: the parked session simply ends (an operator's eject, a shutdown).
            logger.LogInformation("Ending parked {Session} (account {Account}) with {Code} {CodeName}: {Reason}", Name, account, (int)code, code, reason);
            agent.OnEjected(this, code, reason);
            EndParking();
            return false;
        }

        if (subject.IsEmpty)
        {
            logger.LogInformation("Ejecting {Session} (account {Account}) with {Code} {CodeName}: {Reason}", Name, account, (int)code, code, reason);
        }
        else
        {
            logger.LogInformation("Ejecting {Session} (account {Account}) with {Code} {CodeName} about {DoId}: {Reason}", Name, account, (int)code, code, subject, reason);
        }

        agent.OnEjected(this, code, reason);
        stage = SessionStage.Closed;
        scratch.Reset();
        ClientFrames.WriteEject(scratch, code, reason);
        outbox.AppendFinal(scratch.WrittenSpan);
        stopReading.Cancel();
        return false;
    }

}
