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
internal sealed partial class ClientSession : IParticipant
{
    private readonly ClientAgent agent;
    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly FrameOutbox outbox;
    private readonly object sync = new();
    private readonly PooledBufferWriter scratch = new(256);
    private readonly InterestSet interests = new();
    private readonly Dictionary<DoId, VisibleObject> visible = new();
    private RecentlyLeftObjects? recentlyLeft;
    private readonly Dictionary<uint, uint> pendingQueries = new();
    private readonly Queue<Envelope> queuedDuringSync = new();

    // For each object that entered during the current sync: how many messages were queued before its entry arrived.
    // Those came from the State Server before it took the snapshot, so the entry already holds them (see Superseded).
    private readonly Dictionary<DoId, int> enteredDuringSync = new();
    private int replayIndex = -1;
    private readonly Dictionary<ModelInfo, DistributedObject> cleanContexts = new();
    private readonly CancellationTokenSource stopReading = new();
    private readonly CancellationTokenSource abort = new();
    private readonly CancellationTokenSource gone = new();
    private readonly ILogger logger;
    private SessionStage stage = SessionStage.AwaitingHello;
    private DoId account;
    private uint nextQuery;
    private long queuedBytes;
    private long lastReceivedMs;
    private TokenBucket messages;
    private TokenBucket interestChanges;
    private readonly long connectedMs;
    private int pendingUberDogCalls;

    public ClientSession(ClientAgent agent, Socket socket)
    {
        this.agent = agent;
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: true);
        outbox = new FrameOutbox(agent.Options.MaxOutgoingBytes, agent.Flusher);
        logger = agent.Logger;
        Id = DoId.NewId();
        Channel = Messaging.Channel.ForSession(Id);
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        RemoteAddress = (socket.RemoteEndPoint as System.Net.IPEndPoint)?.Address;
        lastReceivedMs = connectedMs = Environment.TickCount64;
        messages = new TokenBucket(agent.Options.MaxMessagesPerSecond, connectedMs);
        interestChanges = new TokenBucket(agent.Options.MaxInterestChangesPerSecond, connectedMs);
    }

    private enum SessionStage
    {
        AwaitingHello,
        Anonymous,
        Established,
        Closed,
    }

    public DoId Id { get; }

    public Channel Channel { get; }

    public string Remote { get; }

    /// <summary>The client's IP address (the key of the per-address limits), or null when the socket has none.</summary>
    public System.Net.IPAddress? RemoteAddress { get; }

    /// <summary>Cancelled when the connection has closed: work queued for it (a password hash) is dropped.</summary>
    public CancellationToken Gone => gone.Token;

    public string Name => $"session {Id} ({Remote})";

    public DoId Account => account;

    /// <summary>This session's UberDOG calls, chained so that they run in order; set under the session's lock.</summary>
    public Task UberDogCalls { get; set; } = Task.CompletedTask;

    public async Task RunAsync()
    {
        agent.Router.Subscribe(this, Channel);
        var sending = outbox.RunAsync(stream, abort.Token);
        try
        {
            // Zero-byte reads: an idle session waits for data without holding a 4 KiB receive buffer (bench idle).
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 512, leaveOpen: true, useZeroByteReads: true));
            await ReceiveAsync(reader).ConfigureAwait(false);
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
            gone.Cancel();
            lock (sync)
            {
                stage = SessionStage.Closed;
            }

            agent.Router.UnsubscribeAll(this);

            // Only the session that still holds the account says it closed: one kicked by a second login (eject 100)
            // handed the account, and its objects, to the new session, so the AI must not clean them up.
            if (!account.IsEmpty && agent.ReleaseAccount(this, account))
            {
                agent.Router.Publish(new Envelope(InternalMessageType.SessionClosed, Channel, account, Array.Empty<byte>()), Messaging.Channel.SessionEvents);
            }

            outbox.Complete();
            try
            {
                await sending.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }

            abort.Cancel();
            socket.Dispose();
            await stream.DisposeAsync().ConfigureAwait(false);
            lock (sync)
            {
                outbox.Dispose();
                scratch.Dispose();
            }

            stopReading.Dispose();
            abort.Dispose();

            // Pending UberDOG calls see Gone and finish without work; wait for them before the token goes away.
            await UberDogCalls.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            gone.Dispose();
            agent.OnSessionClosed(this);
        }
    }

    /// <summary>
    /// Ejects the session when it has been silent for longer than the heartbeat timeout (345), or has not logged in
    /// within the login deadline (349): heartbeats alone do not keep an anonymous session alive.
    /// </summary>
    public void CheckHeartbeat(long nowMs)
    {
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
                Eject(EjectCode.HeartbeatTimeout, $"no message for {silentMs / 1000.0:0.0} s (heartbeat timeout is {agent.Options.HeartbeatTimeout.TotalSeconds:0.#} s)");
            }
        }
    }

    /// <summary>Gives back the send buffers a burst grew, when the session sent nothing since the last sweep.</summary>
    public void TrimIdleBuffers() => outbox.TrimIfIdle();

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
            }

            if (pendingQueries.Count > 0)
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
        }

        // Outside this session's lock: the kick takes the other session's lock, and two logins never wait on each other.
        agent.ClaimAccount(this, accountId)?.Kick(Remote);
        return true;
    }

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

        if (outbox.TryAppend(frames))
        {
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
        if (stage == SessionStage.Closed)
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

    /// <summary>Queues an eject and stops reading; the connection closes once the eject is sent. Always returns false.</summary>
    private bool Eject(EjectCode code, string reason)
    {
        if (stage == SessionStage.Closed)
        {
            return false;
        }

        logger.LogInformation("Ejecting {Session} (account {Account}) with {Code} {CodeName}: {Reason}", Name, account, (int)code, code, reason);
        agent.OnEjected(this, code, reason);
        stage = SessionStage.Closed;
        scratch.Reset();
        ClientFrames.WriteEject(scratch, code, reason);
        outbox.AppendFinal(scratch.WrittenSpan);
        stopReading.Cancel();
        return false;
    }

}
