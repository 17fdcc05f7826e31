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
    private readonly SessionOutbox outbox;
    private readonly object sync = new();
    private readonly PooledBufferWriter scratch = new(256);
    private readonly InterestSet interests = new();
    private readonly Dictionary<DoId, VisibleObject> visible = new();
    private RecentlyLeftObjects? recentlyLeft;
    private readonly Dictionary<uint, uint> pendingQueries = new();
    private readonly Queue<Envelope> queuedDuringSync = new();
    private readonly Dictionary<ModelInfo, DistributedObject> cleanContexts = new();
    private readonly CancellationTokenSource stopReading = new();
    private readonly CancellationTokenSource abort = new();
    private readonly ILogger logger;
    private SessionStage stage = SessionStage.AwaitingHello;
    private DoId account;
    private uint nextQuery;
    private long queuedBytes;
    private long lastReceivedMs;
    private double tokens;
    private long tokensRefilledMs;

    public ClientSession(ClientAgent agent, Socket socket)
    {
        this.agent = agent;
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: true);
        outbox = new SessionOutbox(agent.Options.MaxOutgoingBytes, agent.Flusher);
        logger = agent.Logger;
        Id = DoId.NewId();
        Channel = Messaging.Channel.ForSession(Id);
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        lastReceivedMs = tokensRefilledMs = Environment.TickCount64;
        tokens = agent.Options.MaxMessagesPerSecond * 2.0;
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
            lock (sync)
            {
                stage = SessionStage.Closed;
            }

            agent.Router.UnsubscribeAll(this);
            if (!account.IsEmpty)
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
            agent.OnSessionClosed(this);
        }
    }

    /// <summary>Ejects the session when it has been silent for longer than the heartbeat timeout.</summary>
    public void CheckHeartbeat(long nowMs)
    {
        long silentMs = nowMs - Interlocked.Read(ref lastReceivedMs);
        if (silentMs > agent.Options.HeartbeatTimeout.TotalMilliseconds)
        {
            lock (sync)
            {
                Eject(EjectCode.HeartbeatTimeout, $"no message for {silentMs / 1000.0:0.0} s (heartbeat timeout is {agent.Options.HeartbeatTimeout.TotalSeconds:0.#} s)");
            }
        }
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

    /// <summary>Marks the session logged in as <paramref name="accountId"/> (called by the login UberDOG).</summary>
    public void Establish(DoId accountId)
    {
        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return;
            }

            if (!account.IsEmpty && account != accountId)
            {
                agent.Router.Unsubscribe(this, Messaging.Channel.ForAccount(account));
            }

            account = accountId;
            stage = SessionStage.Established;
            agent.Router.Subscribe(this, Messaging.Channel.ForAccount(accountId));
            logger.LogDebug("{Session} logged in as account {Account}", Name, accountId);
        }
    }

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

    private void DropSlowConsumer(string why)
    {
        logger.LogWarning("{Session}: dropped as a slow consumer ({Code}): {Why}", Name, (int)EjectCode.SlowConsumer, why);
        agent.OnEjected(this, EjectCode.SlowConsumer, why);
        stage = SessionStage.Closed;
        stopReading.Cancel();
        abort.Cancel();
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

    private bool TakeToken()
    {
        long now = Environment.TickCount64;
        double rate = agent.Options.MaxMessagesPerSecond;
        tokens = Math.Min(rate * 2, tokens + ((now - tokensRefilledMs) * rate / 1000.0));
        tokensRefilledMs = now;
        if (tokens < 1)
        {
            return false;
        }

        tokens -= 1;
        return true;
    }
}
