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
internal sealed partial class ClientAgent : IAsyncDisposable
{
    private readonly ConcurrentDictionary<ClientSession, Task> sessions = new();
    private readonly CancellationTokenSource stop = new();
    private readonly AddressLimits addressLimits;
    private readonly FileDescriptorBudget descriptors;
    private readonly ConcurrentDictionary<Task, byte> handshakes = new();
    private int refusedForDescriptors;
    private TcpAcceptor? acceptor;

    // The one sweep over every session (heartbeat and login deadlines, resume grace, idle buffers): a one-shot timer
    // armed for the earliest moment something is due, so an idle server does not tick (see Sweep).
    private readonly object sweepGate = new();
    private readonly long sweepPeriodMs;
    private Timer? sweepTimer;
    private long sweepDueMs = long.MaxValue;
    private bool sweeping;
    private bool sweepStopped;
    private int sentSinceSweep;

    /// <summary>Creates the agent; call <see cref="Start"/> to listen.</summary>
    public ClientAgent(ClientAgentOptions options, IMessageRouter router, ModelRegistry registry, UberDogHost uberDogs, IInterestPolicy interestPolicy, TimeProvider time, OtpMetrics metrics, ILogger logger)
    {
        options.Validate();
        Options = options;
        Router = router;
        OwnedPostRemoves = router as IOwnedPostRemoveRouter;
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
        Flusher = new FlushScheduler(options.FlushInterval, OnFlushed);
        sweepPeriodMs = (long)Math.Clamp(options.HeartbeatTimeout.TotalMilliseconds / 4, 50, 1000);
        addressLimits = new AddressLimits(options.MaxConnectionsPerAddress, options.MaxNewConnectionsPerSecondPerAddress);
        descriptors = new FileDescriptorBudget(options.FileDescriptorReserve);
        tls = CreateTlsOptions();
        accounts = new AccountClaims<ClientSession>(time);
        claimListener = new ClaimListener(this);
    }

    /// <summary>Whether clients must connect with TLS (<c>ClientAgent:Tls:CertificatePath</c> is set).</summary>
    public bool UsesTls => tls is not null;

    /// <summary>The endpoint the agent listens on (with the real port when 0 was asked for).</summary>
    public IPEndPoint? LocalEndPoint => acceptor?.LocalEndPoint;

    /// <summary>Connected sessions now.</summary>
    public int SessionCount => sessions.Count;

    internal ClientAgentOptions Options { get; }

    internal IMessageRouter Router { get; }

    /// <summary>
    /// Where a logged-in session registers its SessionClosed, run by the other OTP nodes if this one dies (on the NATS
    /// backplane); null in one process and behind the MD's TCP link, where nothing outlives this process to hear it.
    /// </summary>
    internal IOwnedPostRemoveRouter? OwnedPostRemoves { get; }

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
        sweepTimer = new Timer(static state => ((ClientAgent)state!).Sweep(), this, Timeout.Infinite, Timeout.Infinite);

        // Before the first login: the claims of the other Client Agents must reach this one before it makes its own.
        Router.Subscribe(claimListener, Messaging.Channel.SessionEvents);
        acceptor = new TcpAcceptor(Options.Host, Options.Port, 512, "Client Agent", Logger, OnAccepted);
        if (descriptors.Limit is { } limit && descriptors.Reserve > 0)
        {
            Logger.LogInformation("Client Agent: file-descriptor limit {Limit} (ulimit -n); a connection that would take descriptor {First} or above is refused with 349, keeping {Reserve} for the runtime, the database and links (ClientAgent:FileDescriptorReserve)", limit, descriptors.FirstReserved, descriptors.Reserve);
        }
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
        lock (sweepGate)
        {
            sweepStopped = true;
        }

        if (sweepTimer is not null)
        {
            // Waits for a sweep that is running now.
            await sweepTimer.DisposeAsync().ConfigureAwait(false);
        }

        Router.UnsubscribeAll(claimListener);
        Flusher.Dispose();
        stop.Dispose();
    }

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
        SweepBy(session.NextCheckMs);
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

    /// <summary>When the next sweep runs (<see cref="Environment.TickCount64"/>), or null while none is armed (tests).</summary>
    internal long? SweepDueMs
    {
        get
        {
            lock (sweepGate)
            {
                return sweepDueMs == long.MaxValue ? null : sweepDueMs;
            }
        }
    }

    /// <summary>The sweep's period while sends happen (a quarter of the heartbeat timeout, 50 ms to 1 s).</summary>
    internal long SweepPeriodMs => sweepPeriodMs;

    /// <summary>
    /// Asks for a sweep no later than <paramref name="dueMs"/> (<see cref="Environment.TickCount64"/>): a session whose
    /// deadline may now be earlier than the one armed (a new connection, a park, a resume) calls it.
    /// </summary>
    internal void SweepBy(long dueMs)
    {
        lock (sweepGate)
        {
            if (dueMs >= sweepDueMs)
            {
                return;
            }

            sweepDueMs = dueMs;
            if (!sweeping)
            {
                // A sweep that runs now arms the next one itself, no later than this.
                ArmSweep();
            }
        }
    }

    /// <summary>
    /// The one sweep: checks every session's deadlines (eject 345 or 349, the end of a resume grace) and gives back
    /// the send buffers of sessions that sent nothing since the last sweep. It runs once per sweep period (a quarter of
    /// the heartbeat timeout, 50 ms to 1 s) while sends happen, as the periodic sweep did; otherwise only when the
    /// earliest deadline of any session is due, and never while there is no session (issue 17: an idle server,
    /// with or without idle connections, does not tick). A heartbeat only stamps the session's time; the deadline it
    /// moves is read here. Sessions whose deadlines fall within one period of each other are checked in one sweep, so
    /// an eject comes at most one period after its deadline, as before.
    /// </summary>
    internal void Sweep()
    {
        lock (sweepGate)
        {
            if (sweeping || sweepStopped)
            {
                return;
            }

            sweeping = true;
            sweepDueMs = long.MaxValue;
        }

        long now = Environment.TickCount64;
        long next = long.MaxValue;
        try
        {
            long givenBack = 0;
            long due = long.MaxValue;
            foreach (var entry in sessions)
            {
                var session = entry.Key;
                session.CheckHeartbeat(now);
                givenBack += session.TrimIdleBuffers();
                due = Math.Min(due, session.NextCheckMs);
            }

            bool sent = Interlocked.Exchange(ref sentSinceSweep, 0) == 1;
            CollectAfterBurst(givenBack, now);
            next = sent || busySinceCollect ? now + sweepPeriodMs : due == long.MaxValue ? due : Math.Max(due, now + sweepPeriodMs);
        }
        finally
        {
            lock (sweepGate)
            {
                sweeping = false;
                sweepDueMs = Math.Min(next, sweepDueMs);
                ArmSweep();
            }
        }
    }

    /// <summary>Arms the sweep timer for <see cref="sweepDueMs"/> (none when it is <see cref="long.MaxValue"/>); under the sweep's lock.</summary>
    private void ArmSweep()
    {
        if (sweepStopped || sweepTimer is null)
        {
            return;
        }

        long delay = sweepDueMs == long.MaxValue ? Timeout.Infinite : Math.Max(0, sweepDueMs - Environment.TickCount64);
        sweepTimer.Change(delay, Timeout.Infinite);
    }

    /// <summary>
    /// Counts a batch written to a client (metrics) and, for the first send since the last sweep, asks for a sweep
    /// within one period: sends grow buffers that the sweep gives back once they stop, and bursts end in a collection.
    /// </summary>
    private void OnFlushed(int bytes, int frames, long startedTimestamp)
    {
        Metrics?.Flushed(bytes, frames, startedTimestamp);
        if (Volatile.Read(ref sentSinceSweep) == 0 && Interlocked.Exchange(ref sentSinceSweep, 1) == 0)
        {
            SweepBy(Environment.TickCount64 + sweepPeriodMs);
        }

        FlushNoted?.Invoke();
    }

    /// <summary>
    /// Raised after a written batch was counted and noted for the sweep (tests: a batch's write returns after its client
    /// may already have read it, so a test of the sweep waits for this, not for the client's read).
    /// </summary>
    internal event Action? FlushNoted;

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
