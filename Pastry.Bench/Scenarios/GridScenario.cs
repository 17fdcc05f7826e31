using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench grid</c>: N clients walk across a grid of zones (<see cref="ZoneGrid"/>: zone = cell, interest =
/// the clipped 3x3 block) under one parent, the way a game runs. The bench AI creates one <see cref="BenchAvatar"/>
/// per client in its start cell and gives it to the client's account; each client walks in a straight line that
/// turns at the world's edges and sends its position with the send time at <c>hz</c>; every other client with the
/// cell in view receives it. When a position lies in another cell the AI moves the avatar (clients cannot move
/// objects), the client sees its avatar's Location and alters its interest to the new 3x3 block. Measures
/// deliveries, latency from a client's send to every other client's receive, and the time from AlterInterest to
/// InterestDone. The grid's side grows with N (<c>density</c> clients per cell), so receivers per update stay the
/// same as N grows: the server should pay per interested client, not per client in the world.
/// </summary>
internal static class GridScenario
{
    private const uint InterestContext = 1;

    public static async Task<BenchReport> RunAsync(Settings settings, CancellationToken cancellation)
    {
        CheckFileDescriptors(settings.Clients);
        var registry = ModelRegistry.FromAssemblies(typeof(BenchAvatar).Assembly);
        var grid = new ZoneGrid(settings.Grid, settings.Grid);
        float worldSize = settings.Grid * settings.CellSize;
        var starts = new (float X, float Y)[settings.Clients];
        var headings = new (float X, float Y)[settings.Clients];
        for (int i = 0; i < settings.Clients; i++)
        {
            // Deterministic per client, so that runs with the same options walk the same paths.
            var random = new Random(i);
            starts[i] = ((float)(random.NextDouble() * worldSize), (float)(random.NextDouble() * worldSize));
            double angle = random.NextDouble() * 2 * Math.PI;
            headings[i] = ((float)(Math.Cos(angle) * settings.Speed), (float)(Math.Sin(angle) * settings.Speed));
        }

        await using var server = await BenchRunner.StartServerAsync(settings.Options, needsDirector: true, BenchRunner.LoadSettings, cancellation).ConfigureAwait(false);
        await using var ai = await BenchAi.ConnectAsync(server, cancellation).ConfigureAwait(false);
        var (world, avatars) = await ai.CreateGridAsync(registry, grid, settings.CellSize, starts, cancellation).ConfigureAwait(false);
        BenchRunner.Progress($"created a {settings.Grid}x{settings.Grid} grid ({settings.CellSize} units per cell) under {world.DoId} with {settings.Clients} avatars");

        // The baseline for memory per session: the world exists, no client is connected; garbage from creating it is
        // collected first (a server without the diagnostics role does not answer, and the RSS is read as found).
        await ai.QueryMemoryAsync(collect: true, cancellation).ConfigureAwait(false);
        long? baselineRss = server.ReadRssBytes();

        var run = new BenchRunState(registry.GetModel<BenchAvatar>().GetField(nameof(BenchAvatar.SentTicks)).WireId);
        var walkers = new GridWalker[settings.Clients];
        int assigned = 0;
        long inViewAtStart = 0;
        var clients = await BenchRunner.ConnectClientsAsync(server, registry, settings.Clients, BenchRunner.NewRunPrefix(), 8 * 1024, async (client, token) =>
        {
            int i = Interlocked.Increment(ref assigned) - 1;
            var walker = new GridWalker(client, run, registry, world.DoId, avatars[i], grid, settings, starts[i], headings[i]);
            walkers[i] = walker;
            client.Observer = walker;
            ai.SetOwner(avatars[i], client.Account);
            int entered = await client.AddInterestAsync(InterestContext, world.DoId, grid.Neighbourhood(walker.InterestZone).ToArray(), token).ConfigureAwait(false);
            Interlocked.Add(ref inViewAtStart, entered);
        }, cancellation).ConfigureAwait(false);

        try
        {
            return await MeasureAsync(settings, server, ai, clients, walkers, run, baselineRss, inViewAtStart / (double)settings.Clients, cancellation).ConfigureAwait(false);
        }
        finally
        {
            BenchRunner.CloseAll(clients);
            foreach (var walker in walkers)
            {
                walker?.Dispose();
            }
        }
    }

    /// <summary>
    /// Fails early, with the fix, when the bench process may not open a socket per client (the child server inherits
    /// the same limit and needs one per session); otherwise the connect phase would fail half way with EMFILE.
    /// </summary>
    private static void CheckFileDescriptors(int clients)
    {
        const int Spare = 256;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    string soft = line.Substring("Max open files".Length).TrimStart().Split(' ')[0];
                    if (long.TryParse(soft, NumberStyles.None, CultureInfo.InvariantCulture, out long limit) && limit < clients + Spare)
                    {
                        throw new BenchException($"{clients} clients need about {clients + Spare} file descriptors, but the limit is {limit}; raise it first (ulimit -n {clients + Spare})");
                    }
                }
            }
        }
        catch (IOException)
        {
            // No /proc (not Linux): the connect phase reports the error if there is one.
        }
    }

    private static async Task<BenchReport> MeasureAsync(Settings settings, BenchServer server, BenchAi ai, BenchClient[] clients, GridWalker[] walkers, BenchRunState run, long? baselineRss, double inViewAtStart, CancellationToken cancellation)
    {
        using var stopClients = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var receiving = clients.Select(c => Task.Run(() => c.ReceiveAsync(run, stopClients.Token), CancellationToken.None)).ToArray();

        // Positions keep every session alive (each resets the server's heartbeat timer), so no heartbeat loop is needed.
        long loadEnds = Stopwatch.GetTimestamp() + (long)((settings.Warmup + settings.Seconds) * Stopwatch.Frequency);
        var pacer = new WalkPacer(walkers, settings.Hz);
        var sender = new Thread(() => pacer.Run(loadEnds, cancellation)) { IsBackground = true, Name = "bench-walkers" };
        BenchRunner.Progress($"load: {settings.Clients} clients walking at {settings.Speed} units/s, {settings.Hz} positions/s each, on a {settings.Grid}x{settings.Grid} grid; warm-up {settings.Warmup} s, measuring {settings.Seconds} s");
        sender.Start();
        using var sentFigure = BenchProgress.Current.Counter("positions sent", () => pacer.Sent);
        using var deliveredFigure = BenchProgress.Current.Counter("deliveries", () => clients.Sum(c => c.Deliveries));
        using var movesFigure = BenchProgress.Current.Counter("avatars moved to another cell", () => ai.Moves);

        await Task.Delay(TimeSpan.FromSeconds(settings.Warmup), cancellation).ConfigureAwait(false);
        var before = Snapshot.Take(server, ai, clients, pacer);
        run.Measuring = true;
        await Task.Delay(TimeSpan.FromSeconds(settings.Seconds), cancellation).ConfigureAwait(false);
        run.Measuring = false;
        var after = Snapshot.Take(server, ai, clients, pacer);
        long? rss = server.ReadRssBytes();
        server.EnsureAlive();

        sender.Join(TimeSpan.FromSeconds(10));
        run.Stopping = true;
        await stopClients.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);

        var latency = new LatencyHistogram();
        var interest = new LatencyHistogram();
        int ejects = 0, protocolErrors = 0;
        long enters = 0, leaves = 0, avatarLost = 0;
        string? lastEject = null;
        foreach (var client in clients)
        {
            latency.Add(client.Latency);
            protocolErrors += client.ProtocolErrors;
            ejects += client.Ejects > 0 ? client.Ejects : client.ClosedByServer ? 1 : 0;
            lastEject ??= client.LastEject;
        }

        foreach (var walker in walkers)
        {
            interest.Add(walker.InterestTime);
            protocolErrors += walker.Errors;
            enters += walker.Enters;
            leaves += walker.Leaves;
            avatarLost += walker.AvatarLost;
        }

        if (lastEject is not null)
        {
            BenchRunner.Progress($"a client was ejected: {lastEject}");
        }

        double seconds = (after.Timestamp - before.Timestamp) / (double)Stopwatch.Frequency;
        long deliveries = after.Deliveries - before.Deliveries;
        long sets = after.Sets - before.Sets;
        double? serverCpu = after.ServerCpu is TimeSpan end && before.ServerCpu is TimeSpan begin ? (end - begin).TotalSeconds : null;
        double benchCpu = (after.BenchCpu - before.BenchCpu).TotalSeconds;
        return new BenchReport("grid")
            .Add("server", "server", server.IsChild ? "child" : "target")
            .Add("clients", "clients", settings.Clients)
            .Add("objects", "avatars", settings.Clients)
            .Add("grid", "grid", settings.Grid, $"x {settings.Grid} cells")
            .Add("density", "clients per cell", Math.Round(settings.Clients / (double)(settings.Grid * settings.Grid), 3))
            .Add("cell_size", "cell size", (double)settings.CellSize, "units")
            .Add("speed", "walking speed", (double)settings.Speed, "units/s")
            .Add("hz", "positions per client per second", settings.Hz)
            .Add("seconds", "measured", Math.Round(seconds, 3), "s")
            .Add("sets", "positions sent", sets)
            .Add("sets_per_sec", "positions sent per second", sets / seconds)
            .Add("deliveries", "deliveries", deliveries)
            .Add("deliveries_per_sec", "deliveries per second", deliveries / seconds)
            .Add("receivers_per_update", "receivers per position (average)", sets > 0 ? Math.Round(deliveries / (double)sets, 2) : null)
            .Add("in_view_at_start", "avatars in view at start (average)", Math.Round(inViewAtStart, 2))
            .AddLatency("latency_ms", "latency client -> other clients", latency)
            .Add("latency_samples", "latency samples", latency.Count)
            .Add("moves_per_sec", "avatars moved to another cell per second", (after.Moves - before.Moves) / seconds)
            .Add("interest_changes", "interest changes (AlterInterest -> InterestDone)", interest.Count)
            .Add("interest_changes_per_sec", "interest changes per second", interest.Count / seconds)
            .AddLatency("interest_change_ms", "AlterInterest -> InterestDone", interest)
            .Add("positions_heard_per_sec", "positions the AI heard per second", (after.Heard - before.Heard) / seconds)
            .Add("avatar_lost", "own avatar left view (whole run)", avatarLost)
            .Add("paused_steps", "steps skipped while the own avatar was out of view", pacer.Paused)
            .Add("enters", "objects entered view (whole run)", enters)
            .Add("leaves", "objects left view (whole run)", leaves)
            .Add("bytes_out_per_sec", "bytes to clients per second", (after.Bytes - before.Bytes) / seconds)
            .Add("server_rss_baseline_mb", "server RSS with the world, before clients", baselineRss is long baseline ? Math.Round(baseline / 1048576.0, 1) : null, "MB")
            .Add("server_rss_mb", "server RSS", rss is long bytes ? Math.Round(bytes / 1048576.0, 1) : null, "MB")
            .Add("server_kib_per_client", "server RSS per client under load", rss is long r && baselineRss is long b ? Math.Round((r - b) / 1024.0 / settings.Clients, 1) : null, "KiB")
            .Add("server_cpu_percent", "server CPU (100 = one core)", serverCpu is double cpu ? Math.Round(cpu * 100 / seconds, 1) : null, "%")
            .Add("server_cpu_s_per_million", "server CPU-s per 1M deliveries", serverCpu is double c && deliveries > 0 ? Math.Round(c * 1e6 / deliveries, 4) : null, "s")
            .Add("bench_cpu_percent", "bench process CPU", Math.Round(benchCpu * 100 / seconds, 1), "%")
            .Add("errors", "errors", ai.Errors + protocolErrors + (int)Math.Min(int.MaxValue, pacer.SendFailures))
            .Add("ejects", "ejects and disconnects", ejects)
            .Add("server_warnings", "server warnings logged", server.Warnings);
    }

    /// <summary>The counters at one instant.</summary>
    private readonly record struct Snapshot(long Timestamp, long Deliveries, long Bytes, long Sets, long Moves, long Heard, TimeSpan? ServerCpu, TimeSpan BenchCpu)
    {
        public static Snapshot Take(BenchServer server, BenchAi ai, BenchClient[] clients, WalkPacer pacer)
        {
            long deliveries = 0, bytes = 0;
            foreach (var client in clients)
            {
                deliveries += client.Deliveries;
                bytes += client.BytesReceived;
            }

            return new Snapshot(Stopwatch.GetTimestamp(), deliveries, bytes, pacer.Sent, ai.Moves, ai.PositionsHeard, server.ReadCpuTime(), BenchServer.ReadCpuTime(Environment.ProcessId) ?? TimeSpan.Zero);
        }
    }

    /// <summary>The options of <c>pastry bench grid</c>.</summary>
    public sealed record Settings(BenchOptions Options, int Clients, double Hz, int Grid, float CellSize, float Speed, double Seconds, double Warmup)
    {
        public static Settings From(BenchOptions options)
        {
            BenchRunner.AllowOnly(options, "hz", "density", "grid", "cell", "speed", "seconds", "warmup");
            int clients = BenchRunner.Int(options, "clients", 1);
            if (options.Has("grid") && options.Has("density"))
            {
                throw new BenchUsageException("Give --grid or --density, not both: the grid's side is derived from the density.");
            }

            double density = BenchRunner.Number(options, "density", 0.001);
            int derived = (int)Math.Max(1, Math.Ceiling(Math.Sqrt(clients / density)));
            int side = BenchRunner.Int(options, "grid", derived, 1);
            if (side > 65_535)
            {
                throw new BenchUsageException($"--grid must be at most 65535 cells per side; got {side.ToString(CultureInfo.InvariantCulture)}.");
            }

            return new Settings(
                options,
                clients,
                BenchRunner.Number(options, "hz", 0.1),
                side,
                (float)BenchRunner.Number(options, "cell", 0.001),
                (float)BenchRunner.Number(options, "speed", 0),
                BenchRunner.Number(options, "seconds", 0.1),
                BenchRunner.Number(options, "warmup", 0));
        }
    }
}

/// <summary>
/// Sends every walker's position at <c>hz</c>, from one thread, evenly spread: walker <c>i</c> sends at
/// <c>(k + i / N) / hz</c>, so the server sees a steady stream rather than a burst per period. Ends by itself.
/// </summary>
internal sealed class WalkPacer(GridWalker[] walkers, double hz)
{
    private long sent;
    private long sendFailures;
    private long paused;

    /// <summary>Positions sent (read from other threads).</summary>
    public long Sent => Volatile.Read(ref sent);

    /// <summary>Positions that could not be sent because the connection was gone.</summary>
    public long SendFailures => Volatile.Read(ref sendFailures);

    /// <summary>Steps skipped because the walker's avatar was out of its client's view.</summary>
    public long Paused => Volatile.Read(ref paused);

    public void Run(long endsAt, CancellationToken cancellation)
    {
        long started = Stopwatch.GetTimestamp();
        long next = 0;
        double perTick = walkers.Length * hz / Stopwatch.Frequency;
        while (!cancellation.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= endsAt)
            {
                return;
            }

            long due = (long)((now - started) * perTick);
            if (next >= due)
            {
                Thread.Sleep(1);
                continue;
            }

            for (; next < due; next++)
            {
                var walker = walkers[(int)(next % walkers.Length)];
                if (walker.Client.ClosedByServer)
                {
                    continue;
                }

                switch (walker.Step(hz))
                {
                    case StepResult.Sent:
                        Volatile.Write(ref sent, sent + 1);
                        break;
                    case StepResult.Paused:
                        Volatile.Write(ref paused, paused + 1);
                        break;
                    default:
                        Volatile.Write(ref sendFailures, sendFailures + 1);
                        break;
                }
            }
        }
    }
}

/// <summary>What one step of a walker did.</summary>
internal enum StepResult
{
    /// <summary>It walked and sent its position.</summary>
    Sent,

    /// <summary>Its avatar was out of view, so it stood still and sent nothing.</summary>
    Paused,

    /// <summary>The connection was gone.</summary>
    Failed,
}

/// <summary>
/// One client's walk: its position and heading (touched only by the pacer's thread), and its interest, which
/// follows the avatar's cell (touched only by the client's receive loop). The position frame is built once and
/// rewritten in place before each send, so walking allocates nothing.
/// </summary>
internal sealed class GridWalker : IBenchFrameObserver, IDisposable
{
    private static readonly long TicksPerMicrosecond = Math.Max(1, Stopwatch.Frequency / 1_000_000);

    private readonly BenchRunState run;
    private readonly DoId world;
    private readonly DoId avatar;
    private readonly ZoneGrid grid;
    private readonly float cellSize;
    private readonly float worldSize;
    private readonly byte[] positionFrame;
    private readonly int xOffset;
    private readonly int yOffset;
    private readonly int ticksOffset;
    private readonly PooledBufferWriter interestFrame = new(128);
    private float x;
    private float y;
    private float vx;
    private float vy;
    private uint avatarZone;
    private volatile bool avatarInView = true;
    private bool interestPending;
    private long interestSentAt;

    public GridWalker(BenchClient client, BenchRunState run, ModelRegistry registry, DoId world, DoId avatar, ZoneGrid grid, GridScenario.Settings settings, (float X, float Y) start, (float X, float Y) velocity)
    {
        Client = client;
        this.run = run;
        this.world = world;
        this.avatar = avatar;
        this.grid = grid;
        cellSize = settings.CellSize;
        worldSize = grid.Width * settings.CellSize;
        (x, y) = start;
        (vx, vy) = velocity;
        InterestZone = avatarZone = grid.ZoneAt(x, y, settings.CellSize);

        // SetFields(avatar, 3, (X, float), (Y, float), (SentTicks, long)): the send time goes last, where the
        // receive loop looks for it.
        var model = registry.GetModel<BenchAvatar>();
        using var frame = new PooledBufferWriter(64);
        int start0 = frame.BeginFrame(MessageType.SetFields);
        frame.WriteDoId(avatar);
        frame.WriteUInt16(3);
        frame.WriteUInt16(model.GetField(nameof(BenchAvatar.X)).WireId);
        xOffset = frame.WrittenCount;
        frame.WriteSingle(0);
        frame.WriteUInt16(model.GetField(nameof(BenchAvatar.Y)).WireId);
        yOffset = frame.WrittenCount;
        frame.WriteSingle(0);
        frame.WriteUInt16(model.GetField(nameof(BenchAvatar.SentTicks)).WireId);
        ticksOffset = frame.WrittenCount;
        frame.WriteInt64(0);
        frame.EndFrame(start0);
        positionFrame = frame.WrittenSpan.ToArray();
    }

    /// <summary>The client that walks.</summary>
    public BenchClient Client { get; }

    /// <summary>The cell at the centre of the client's interest.</summary>
    public uint InterestZone { get; private set; }

    /// <summary>AlterInterest -> InterestDone times recorded while the run was measuring.</summary>
    public LatencyHistogram InterestTime { get; } = new();

    /// <summary>Objects that entered the client's view during the load.</summary>
    public long Enters { get; private set; }

    /// <summary>Objects that left the client's view during the load.</summary>
    public long Leaves { get; private set; }

    /// <summary>Frames that must not come (none so far; kept so that a new frame type is noticed).</summary>
    public int Errors { get; private set; }

    /// <summary>
    /// How often the client's own avatar left its view: the AI moved it out of the old 3x3 block before the
    /// client's interest had followed (two cell crossings within one interest change, when the server lags).
    /// </summary>
    public int AvatarLost { get; private set; }

    /// <summary>
    /// Takes one step (1/<paramref name="hz"/> s of walking, turning at the edges) and sends the position. While the
    /// avatar is out of view the client stands still and sends nothing: the Client Agent ejects a client that sets a
    /// field of an object it does not see. Pacer thread only.
    /// </summary>
    public StepResult Step(double hz)
    {
        if (!avatarInView)
        {
            return StepResult.Paused;
        }

        x = Walk(x, ref vx, (float)(vx / hz));
        y = Walk(y, ref vy, (float)(vy / hz));
        var frame = positionFrame.AsSpan();
        BinaryPrimitives.WriteSingleLittleEndian(frame.Slice(xOffset), x);
        BinaryPrimitives.WriteSingleLittleEndian(frame.Slice(yOffset), y);
        BinaryPrimitives.WriteInt64LittleEndian(frame.Slice(ticksOffset), Stopwatch.GetTimestamp());
        return Client.TrySend(frame) ? StepResult.Sent : StepResult.Failed;
    }

    /// <inheritdoc />
    public void OnFrame(BenchClient client, MessageType type, ReadOnlySpan<byte> payload, long now)
    {
        switch (type)
        {
            case MessageType.Location when payload.Length == DoId.Size + DoId.Size + 4:
                if (DoId.Read(payload) == avatar)
                {
                    avatarZone = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(DoId.Size * 2));
                    FollowAvatar();
                }

                break;
            case MessageType.InterestDone when payload.Length == 4:
                if (interestPending && BinaryPrimitives.ReadUInt32LittleEndian(payload) == 1)
                {
                    interestPending = false;
                    if (run.Measuring)
                    {
                        InterestTime.Record((now - interestSentAt) / TicksPerMicrosecond);
                    }

                    // The avatar crossed again while the last change was syncing: follow it now.
                    FollowAvatar();
                }

                break;
            case MessageType.EnterObject:
            case MessageType.EnterOwnedObject:
                Enters++;

                // doid, class id, parent, zone: the avatar is back in view, in that zone.
                if (payload.Length >= DoId.Size + 4 + DoId.Size + 4 && DoId.Read(payload) == avatar)
                {
                    avatarZone = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(DoId.Size + 4 + DoId.Size));
                    avatarInView = true;
                    FollowAvatar();
                }

                break;
            case MessageType.LeaveObject:
                Leaves++;
                if (payload.Length >= DoId.Size && DoId.Read(payload) == avatar)
                {
                    // Stand still at the last position sent; the AI will place the avatar in that cell, so look there.
                    AvatarLost++;
                    avatarInView = false;
                    avatarZone = grid.ZoneAt(x, y, cellSize);
                    FollowAvatar();
                }

                break;
            default:
                Errors++;
                break;
        }
    }

    public void Dispose() => interestFrame.Dispose();

    /// <summary>Moves one coordinate by <paramref name="step"/>, turning back at the world's edges.</summary>
    private float Walk(float position, ref float velocity, float step)
    {
        float next = position + step;
        if (next < 0)
        {
            next = -next;
            velocity = -velocity;
        }
        else if (next >= worldSize)
        {
            next = Math.Max(0, worldSize - (next - worldSize) - 0.001f);
            velocity = -velocity;
        }

        return next;
    }

    /// <summary>Alters the interest to the avatar's cell unless it is already there or a change is still syncing.</summary>
    private void FollowAvatar()
    {
        if (!interestPending && avatarZone != InterestZone)
        {
            AlterInterest();
        }
    }

    /// <summary>Replaces the interest with the 3x3 block around the avatar's cell (AddInterest with the same context).</summary>
    private void AlterInterest()
    {
        grid.TryGetCell(avatarZone, out int cx, out int cy);
        Span<uint> zones = stackalloc uint[9];
        int count = 0;
        for (int row = Math.Max(0, cy - 1); row <= Math.Min(grid.Height - 1, cy + 1); row++)
        {
            for (int column = Math.Max(0, cx - 1); column <= Math.Min(grid.Width - 1, cx + 1); column++)
            {
                zones[count++] = grid.ZoneOf(column, row);
            }
        }

        interestFrame.Reset();
        ClientFrames.WriteAddInterest(interestFrame, 1, world, zones.Slice(0, count));
        InterestZone = avatarZone;
        interestPending = true;
        interestSentAt = Stopwatch.GetTimestamp();
        Client.TrySend(interestFrame.WrittenSpan);
    }
}
