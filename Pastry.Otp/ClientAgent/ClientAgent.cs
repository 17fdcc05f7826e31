using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.UberDogs;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// The Client Agent: a TCP listener (and, when configured, a WebSocket one) whose connections become
/// <see cref="ClientSession"/>s (read through System.IO.Pipelines, written in batches). It enforces who may set what, interests, heartbeats and limits
/// (ARCHITECTURE 4).
/// </summary>
public sealed partial class ClientAgent : IAsyncDisposable
{
    private readonly ConcurrentDictionary<ClientSession, Task> sessions = new();
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentDictionary<DoId, ClientSession> sessionsByAccount = new();
    private readonly AddressLimits addressLimits;
    private readonly FileDescriptorBudget descriptors;
    private readonly ConcurrentDictionary<Task, byte> handshakes = new();
    private int refusedForDescriptors;
    private TcpAcceptor? acceptor;
    private Task? heartbeatLoop;

    /// <summary>Creates the agent; call <see cref="Start"/> to listen.</summary>
    public ClientAgent(ClientAgentOptions options, IMessageRouter router, ModelRegistry registry, UberDogHost uberDogs, IInterestPolicy interestPolicy, TimeProvider time, OtpMetrics metrics, ILogger logger)
    {
        options.Validate();
        Options = options;
        Router = router;
        Registry = registry;
        SchemaHistory = SchemaHistory.For(registry);
        if (SchemaHistory.Compatible > 0)
        {
            logger.LogInformation("Client Agent: also serves {Count} earlier compatible schema version(s) from the schema lock's history", SchemaHistory.Compatible);
        }

        UberDogs = uberDogs;
        InterestPolicy = interestPolicy;
        Time = time;
        Metrics = metrics;
        Logger = logger;
        Flusher = new FlushScheduler(options.FlushInterval, metrics is null ? null : metrics.Flushed);
        addressLimits = new AddressLimits(options.MaxConnectionsPerAddress, options.MaxNewConnectionsPerSecondPerAddress);
        descriptors = new FileDescriptorBudget(options.FileDescriptorReserve);
        tls = CreateTlsOptions();
    }

    /// <summary>Whether clients must connect with TLS (<c>ClientAgent:Tls:CertificatePath</c> is set).</summary>
    public bool UsesTls => tls is not null;

    /// <summary>The endpoint the agent listens on (with the real port when 0 was asked for).</summary>
    public IPEndPoint? LocalEndPoint => acceptor?.LocalEndPoint;

    /// <summary>Connected sessions now.</summary>
    public int SessionCount => sessions.Count;

    internal ClientAgentOptions Options { get; }

    internal IMessageRouter Router { get; }

    internal ModelRegistry Registry { get; }

    /// <summary>The earlier schema versions accepted at hello (the schema lock's compatible history).</summary>
    internal SchemaHistory SchemaHistory { get; }

    internal UberDogHost UberDogs { get; }

    internal IInterestPolicy InterestPolicy { get; }

    internal TimeProvider Time { get; }

    internal OtpMetrics Metrics { get; }

    internal ILogger Logger { get; }

    internal FlushScheduler Flusher { get; }

    /// <summary>Binds the listener and starts accepting clients.</summary>
    /// <exception cref="SocketException">The address is in use or cannot be bound.</exception>
    public void Start()
    {
        acceptor = new TcpAcceptor(Options.Host, Options.Port, 512, "Client Agent", Logger, OnAccepted);
        if (descriptors.Limit is { } limit && descriptors.Reserve > 0)
        {
            Logger.LogInformation("Client Agent: file-descriptor limit {Limit} (ulimit -n); a connection that would take descriptor {First} or above is refused with 349, keeping {Reserve} for the runtime, the database and links (ClientAgent:FileDescriptorReserve)", limit, descriptors.FirstReserved, descriptors.Reserve);
        }

        heartbeatLoop = Task.Run(HeartbeatAsync);
    }

    /// <summary>Stops accepting, ejects every session with 154 and waits for them to close.</summary>
    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        if (acceptor is not null)
        {
            await acceptor.DisposeAsync().ConfigureAwait(false);
        }

        // Handshakes in progress see the stop token and end at once.
        await Task.WhenAll(handshakes.Keys).ConfigureAwait(false);
        foreach (var session in sessions.Keys)
        {
            session.Shutdown();
        }

        try
        {
            await Task.WhenAll(sessions.Values).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Logger.LogWarning("{Count} session(s) did not close within 5 s of shutdown", sessions.Count);
        }

        await StopWebSocketsAsync().ConfigureAwait(false);
        if (heartbeatLoop is not null)
        {
            try
            {
                await heartbeatLoop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        Flusher.Dispose();
        stop.Dispose();
    }

    /// <summary>
    /// Makes <paramref name="session"/> the one session of <paramref name="account"/>; returns the session that held
    /// it before (to be kicked with 100), or null.
    /// </summary>
    internal ClientSession? ClaimAccount(ClientSession session, DoId account)
    {
        ClientSession? previous = null;
        sessionsByAccount.AddOrUpdate(account, session, (_, old) =>
        {
            previous = old;
            return session;
        });
        return previous == session ? null : previous;
    }

    /// <summary>Lets go of <paramref name="account"/> if <paramref name="session"/> still holds it; false when another session took it over.</summary>
    internal bool ReleaseAccount(ClientSession session, DoId account) =>
        sessionsByAccount.TryRemove(KeyValuePair.Create(account, session));

    internal void OnSessionClosed(ClientSession session)
    {
        sessions.TryRemove(session, out _);
        sessionsById.TryRemove(KeyValuePair.Create(session.Id, session));
        Metrics.SessionClosed();
        Logger.LogDebug("{Session} closed", session.Name);
    }

    private void OnAccepted(Socket socket)
    {
        // The process's last descriptors are the runtime's: without one it cannot start a thread, and dies.
        if (!descriptors.Admits(socket))
        {
            if (refusedForDescriptors++ == 0)
            {
                Logger.LogWarning("Refusing connections with {Code} {CodeName}: a new connection took descriptor {Descriptor}, within the last {Reserve} of the limit {Limit} (ClientAgent:FileDescriptorReserve); logged once until one is admitted again", (int)EjectCode.NotAdmitted, EjectCode.NotAdmitted, socket.Handle.ToInt64(), descriptors.Reserve, descriptors.Limit);
            }

            Metrics.Ejected(EjectCode.NotAdmitted);
            Refuse(socket, descriptors.Refusal);
            return;
        }

        if (refusedForDescriptors > 0)
        {
            Logger.LogWarning("Admitting connections again after refusing {Count} at the file-descriptor reserve", refusedForDescriptors);
            refusedForDescriptors = 0;
        }

        // Per-address admission before any per-session state exists: a refused connection costs one small send.
        if ((socket.RemoteEndPoint as IPEndPoint)?.Address is { } address
            && addressLimits.TryAdmit(address, Environment.TickCount64, out bool firstRefusal) is { } refusal)
        {
            if (firstRefusal)
            {
                Logger.LogWarning("Refusing connections with {Code} {CodeName}: {Reason} (logged once until the address is admitted again)", (int)EjectCode.NotAdmitted, EjectCode.NotAdmitted, refusal);
            }

            Metrics.Ejected(EjectCode.NotAdmitted);
            Refuse(socket, refusal);
            return;
        }

        // A small kernel send buffer keeps the slow-consumer bound (MaxOutgoingBytes, 346) close to the truth.
        socket.SendBufferSize = Options.SocketSendBufferBytes;
        if (tls is not null)
        {
            // The handshake runs before any session state exists; it is bounded by Tls:HandshakeTimeout.
            var handshake = HandshakeAsync(socket, (socket.RemoteEndPoint as IPEndPoint)?.Address, tls);
            handshakes[handshake] = 0;
            _ = handshake.ContinueWith(static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _), handshakes, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        StartSession(socket, new NetworkStream(socket, ownsSocket: true), socket.RemoteEndPoint as IPEndPoint);
    }

    /// <summary>
    /// Starts the session of an admitted connection over <paramref name="stream"/> (the socket's, TLS over it, or a
    /// WebSocket's frames); disposing <paramref name="connection"/> ends the connection.
    /// </summary>
    private void StartSession(IDisposable connection, Stream stream, IPEndPoint? remote)
    {
        var session = new ClientSession(this, connection, stream, remote);
        sessionsById[session.Id] = session;
        Metrics.SessionOpened();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sessions[session] = done.Task;
        _ = RunSessionAsync(session, done);
    }

    /// <summary>Sends eject 349 with <paramref name="reason"/> to a connection that was not admitted, and closes it.</summary>
    private static void Refuse(Socket socket, string reason)
    {
        using var frame = new Pastry.Wire.PooledBufferWriter(128);
        ClientFrames.WriteEject(frame, EjectCode.NotAdmitted, reason);
        try
        {
            // A fresh socket's send buffer is empty, so this small send does not block.
            socket.Blocking = false;
            socket.Send(frame.WrittenSpan);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static async Task RunSessionAsync(ClientSession session, TaskCompletionSource done)
    {
        try
        {
            await session.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            done.TrySetResult();
        }
    }

    private async Task HeartbeatAsync()
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(Options.HeartbeatTimeout.TotalMilliseconds / 4, 50, 1000));
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
        {
            long now = Environment.TickCount64;
            long givenBack = 0;
            foreach (var session in sessions.Keys)
            {
                session.CheckHeartbeat(now);
                givenBack += session.TrimIdleBuffers();
            }

            CollectAfterBurst(givenBack, now);
        }
    }

    /// <summary>Flush rounds in one sweep period that make it busy: a burst of sends, not a game's steady ticks.</summary>
    internal const long BusyRounds = 100;

    /// <summary>The least time between two collections after bursts.</summary>
    private const long BurstCollectIntervalMs = 30_000;

    private long lastBurstCollectMs = long.MinValue / 2;
    private long roundsAtLastSweep;
    private bool busySinceCollect;

    /// <summary>
    /// When a busy sweep period (<see cref="BusyRounds"/> flush rounds or more) is followed by one with almost no sends,
    /// a burst of load just ended: then one full, compacting collection gives the memory it used back to the OS. An idle
    /// server allocates too little to ever collect, and would keep its peak resident size (issue 17). At most once per
    /// 30 s, and never during a load.
    /// </summary>
    private void CollectAfterBurst(long givenBack, long now)
    {
        long rounds = Flusher.Rounds;
        long sweepRounds = rounds - roundsAtLastSweep;
        roundsAtLastSweep = rounds;
        if (sweepRounds >= BusyRounds)
        {
            busySinceCollect = true;
            return;
        }

        if (!busySinceCollect || sweepRounds > 5 || now - lastBurstCollectMs < BurstCollectIntervalMs)
        {
            return;
        }

        busySinceCollect = false;
        lastBurstCollectMs = now;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Logger.LogDebug("Client Agent: a burst of sends ended ({Bytes} bytes of send buffers given back); collected and returned the memory to the OS", givenBack);
    }
}
