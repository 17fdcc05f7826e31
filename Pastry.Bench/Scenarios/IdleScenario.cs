using System.Diagnostics;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench idle</c>: the server's resident memory per logged-in session that does nothing (no interest).
/// A few warm-up sessions connect first, so that code paths, pools and the JIT are warm before the first reading;
/// the result is the growth of RSS while N more sessions connect, divided by N: from the baseline after a full GC to
/// the RSS as found once settled, and to the RSS after another full GC (what stays; the difference is garbage and heap
/// the GC has not returned yet). It includes the account each session created (the in-memory account store; a
/// database holds those in production). It also reads the server's CPU over <c>--cpu-seconds</c> (10 by default),
/// first with no session at all and then with the idle sessions (which send a heartbeat every 5 s, as clients do):
/// an idle server should cost next to nothing (the goal is under 0.5% of one core).
/// </summary>
internal static class IdleScenario
{
    private const int WarmUpSessions = 20;
    private static readonly TimeSpan StableWithin = TimeSpan.FromSeconds(15);

    public static async Task<BenchReport> RunAsync(Settings settings, CancellationToken cancellation)
    {
        var registry = ModelRegistry.FromAssemblies(typeof(BenchEntity).Assembly);
        await using var server = await BenchRunner.StartServerAsync(settings.Options, needsDirector: false, ChildSettings, cancellation).ConfigureAwait(false);
        if (server.ReadRssBytes() is null)
        {
            throw new BenchUsageException("bench idle reads the server's memory: run it without --target, or give --pid of the target server.");
        }

        string prefix = BenchRunner.NewRunPrefix();
        var run = new BenchRunState(-1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var all = new List<BenchClient>();
        var receiving = new List<Task>();
        await using var ai = server.DirectorEndPoint.Port != 0 ? await BenchAi.ConnectAsync(server.DirectorEndPoint, cancellation).ConfigureAwait(false) : null;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(settings.Settle), cancellation).ConfigureAwait(false);
            double? cpuEmpty = await CpuPercentAsync(server, settings.CpuSeconds, cancellation).ConfigureAwait(false);
            BenchRunner.Progress($"no sessions: server CPU {cpuEmpty:0.00}% of one core over {settings.CpuSeconds} s");
            var warm = await BenchRunner.ConnectClientsAsync(server, registry, WarmUpSessions, prefix + "w", 1024, null, cancellation).ConfigureAwait(false);
            Watch(warm);
            var before = await ReadMemoryAsync(server, ai, settings.Settle, cancellation).ConfigureAwait(false);
            BenchRunner.Progress($"with {WarmUpSessions} warm-up sessions: {before}");

            var idle = await BenchRunner.ConnectClientsAsync(server, registry, settings.Clients, prefix, 1024, null, cancellation).ConfigureAwait(false);
            Watch(idle);
            var heartbeats = BenchRunner.HeartbeatAsync(all, stop.Token);
            var after = await ReadMemoryAsync(server, ai, settings.Settle, cancellation).ConfigureAwait(false);
            BenchRunner.Progress($"with {settings.Clients} more sessions: {after}");
            double? cpuIdle = await CpuPercentAsync(server, settings.CpuSeconds, cancellation).ConfigureAwait(false);
            BenchRunner.Progress($"{settings.Clients + WarmUpSessions} idle sessions: server CPU {cpuIdle:0.00}% of one core over {settings.CpuSeconds} s");
            server.EnsureAlive();
            int ejects = all.Count(c => c.ClosedByServer || c.Ejects > 0);

            run.Stopping = true;
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
            await heartbeats.ConfigureAwait(false);

            return new BenchReport("idle")
                .Add("server", "server", server.IsChild ? "child" : "target")
                .Add("clients", "idle sessions measured", settings.Clients)
                .Add("warmup_sessions", "warm-up sessions (before)", WarmUpSessions)
                .Add("server_rss_before_mb", "server RSS before", Megabytes(before.Baseline), "MB")
                .Add("server_rss_after_mb", "server RSS after, as found", Megabytes(after.Rss), "MB")
                .Add("server_rss_after_gc_mb", "server RSS after, after a full GC", Megabytes(after.RssAfterGc), "MB")
                .Add("server_rss_mb", "server RSS", Megabytes(after.Rss), "MB")
                .Add("kib_per_session_without_gc", "RSS per idle session, as found", PerSession(before.Baseline, after.Rss, settings.Clients), "KiB")
                .Add("kib_per_session", "RSS per idle session, after a full GC", PerSession(before.RssAfterGc, after.RssAfterGc, settings.Clients), "KiB")
                .Add("managed_kib_per_session", "managed heap per idle session", PerSession(before.Managed, after.Managed, settings.Clients), "KiB")
                .Add("goal_kib_per_session", "goal", 16, "KiB")
                .Add("server_cpu_percent_no_sessions", $"server CPU with no session, over {settings.CpuSeconds} s", cpuEmpty, "% of a core")
                .Add("server_cpu_percent_idle_sessions", $"server CPU with {settings.Clients + WarmUpSessions} idle sessions, over {settings.CpuSeconds} s", cpuIdle, "% of a core")
                .Add("goal_server_cpu_percent", "goal", 0.5, "% of a core")
                .Add("errors", "errors", all.Sum(c => c.ProtocolErrors))
                .Add("ejects", "ejects and disconnects", ejects)
                .Add("server_warnings", "server warnings logged", server.Warnings);
        }
        finally
        {
            run.Stopping = true;
            await stop.CancelAsync().ConfigureAwait(false);
            BenchRunner.CloseAll(all);
        }

        void Watch(BenchClient[] clients)
        {
            all.AddRange(clients);
            receiving.AddRange(clients.Select(c => Task.Run(() => c.ReceiveAsync(run, stop.Token), CancellationToken.None)));
        }
    }

    private static readonly string[] ChildSettings =
    {
        "--Accounts:Pbkdf2Iterations", "1000",
        "--ClientAgent:HeartbeatTimeout", "00:05:00",
    };

    /// <summary>The server's CPU time over <paramref name="seconds"/> of wall time, as a percentage of one core.</summary>
    private static async Task<double?> CpuPercentAsync(BenchServer server, double seconds, CancellationToken cancellation)
    {
        if (server.ReadCpuTime() is not TimeSpan before)
        {
            return null;
        }

        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds), cancellation).ConfigureAwait(false);
        return server.ReadCpuTime() is TimeSpan after ? Math.Round((after - before).TotalSeconds * 100 / wall.Elapsed.TotalSeconds, 2) : null;
    }

    internal static double? Megabytes(long? bytes) => bytes is long b ? Math.Round(b / 1048576.0, 1) : null;

    private static double? PerSession(long? before, long? after, int sessions) =>
        before is long b && after is long a ? Math.Round((a - b) / 1024.0 / sessions, 2) : null;

    /// <summary>
    /// The server's memory once settled: RSS as found, then (when the AI link is there) RSS and managed heap after the
    /// server ran a full, compacting collection that returns free memory to the OS (<see cref="Messaging.InternalMessageType.MemoryQuery"/>).
    /// </summary>
    internal static async Task<MemoryReading> ReadMemoryAsync(BenchServer server, BenchAi? ai, double settle, CancellationToken cancellation)
    {
        long rss = await SettledRssAsync(server, settle, cancellation).ConfigureAwait(false);
        if (ai is null || await ai.QueryMemoryAsync(collect: true, cancellation).ConfigureAwait(false) is not ServerMemory memory)
        {
            return new MemoryReading(rss, null, null);
        }

        return new MemoryReading(rss, server.ReadRssBytes(), memory.ManagedHeapBytes);
    }

    /// <summary>
    /// Waits <paramref name="settle"/> seconds, then reads RSS every half second until two readings a second apart
    /// differ by less than 1% (or <see cref="StableWithin"/> has passed), and returns the last reading.
    /// </summary>
    private static async Task<long> SettledRssAsync(BenchServer server, double settle, CancellationToken cancellation)
    {
        await Task.Delay(TimeSpan.FromSeconds(settle), cancellation).ConfigureAwait(false);
        var waited = Stopwatch.StartNew();
        long previous = server.ReadRssBytes() ?? throw new BenchException("the server's memory could not be read");
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellation).ConfigureAwait(false);
            long current = server.ReadRssBytes() ?? throw new BenchException("the server's memory could not be read");
            if (Math.Abs(current - previous) < previous / 100 || waited.Elapsed > StableWithin)
            {
                return current;
            }

            previous = current;
        }
    }

    /// <summary>One reading of the server's memory.</summary>
    internal readonly record struct MemoryReading(long Rss, long? RssAfterGc, long? Managed)
    {
        /// <summary>The cleanest reading: after the full GC when there was one (it clears what earlier runs left behind).</summary>
        public long Baseline => RssAfterGc ?? Rss;

        public override string ToString() =>
            $"RSS {Rss / 1048576.0:0.0} MB" + (RssAfterGc is long gc ? $", after a full GC {gc / 1048576.0:0.0} MB" : string.Empty) + (Managed is long m ? $", managed heap {m / 1048576.0:0.0} MB" : string.Empty);
    }

    /// <summary>The options of <c>pastry bench idle</c>.</summary>
    public sealed record Settings(BenchOptions Options, int Clients, double Settle, double CpuSeconds)
    {
        public static Settings From(BenchOptions options)
        {
            BenchRunner.AllowOnly(options, "settle", "cpu-seconds");
            return new Settings(options, BenchRunner.Int(options, "clients", 1), BenchRunner.Number(options, "settle", 0), BenchRunner.Number(options, "cpu-seconds", 1));
        }
    }
}
