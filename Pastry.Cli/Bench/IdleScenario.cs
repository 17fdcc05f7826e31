using System.Diagnostics;

namespace Pastry.Cli.Bench;

/// <summary>
/// <c>pastry bench idle</c>: the server's resident memory per logged-in session that does nothing (no interest).
/// A few warm-up sessions connect first, so that code paths, pools and the JIT are warm before the first reading;
/// the result is the growth of RSS while N more sessions connect, divided by N. It includes the account each session
/// created (the in-memory account store; a database holds those in production).
/// </summary>
internal static class IdleScenario
{
    private const int WarmUpSessions = 20;
    private static readonly TimeSpan StableWithin = TimeSpan.FromSeconds(15);

    public static async Task<BenchReport> RunAsync(Settings settings, CancellationToken cancellation)
    {
        var registry = ModelRegistry.FromAssemblies(typeof(BenchEntity).Assembly);
        await using var server = await BenchCommand.StartServerAsync(settings.Options, needsDirector: false, ChildSettings, cancellation).ConfigureAwait(false);
        if (server.ReadRssBytes() is null)
        {
            throw new UsageException("bench idle reads the server's memory: run it without --target, or give --pid of the target server.");
        }

        string prefix = BenchCommand.NewRunPrefix();
        var run = new BenchRunState(-1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var all = new List<BenchClient>();
        var receiving = new List<Task>();
        try
        {
            var warm = await BenchCommand.ConnectClientsAsync(server, registry, WarmUpSessions, prefix + "w", 1024, null, cancellation).ConfigureAwait(false);
            Watch(warm);
            long before = await SettledRssAsync(server, settings.Settle, cancellation).ConfigureAwait(false);
            BenchCommand.Progress($"server RSS with {WarmUpSessions} warm-up sessions: {before / 1048576.0:0.0} MB");

            var idle = await BenchCommand.ConnectClientsAsync(server, registry, settings.Clients, prefix, 1024, null, cancellation).ConfigureAwait(false);
            Watch(idle);
            var heartbeats = BenchCommand.HeartbeatAsync(all, stop.Token);
            long after = await SettledRssAsync(server, settings.Settle, cancellation).ConfigureAwait(false);
            server.EnsureAlive();
            int ejects = all.Count(c => c.ClosedByServer || c.Ejects > 0);

            run.Stopping = true;
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
            await heartbeats.ConfigureAwait(false);

            double perSession = (after - before) / 1024.0 / settings.Clients;
            return new BenchReport("idle")
                .Add("server", "server", server.IsChild ? "child" : "target")
                .Add("clients", "idle sessions measured", settings.Clients)
                .Add("warmup_sessions", "warm-up sessions (before)", WarmUpSessions)
                .Add("server_rss_before_mb", "server RSS before", Math.Round(before / 1048576.0, 1), "MB")
                .Add("server_rss_after_mb", "server RSS after", Math.Round(after / 1048576.0, 1), "MB")
                .Add("server_rss_mb", "server RSS", Math.Round(after / 1048576.0, 1), "MB")
                .Add("kib_per_session", "RSS per idle session", Math.Round(perSession, 2), "KiB")
                .Add("goal_kib_per_session", "goal", 16, "KiB")
                .Add("errors", "errors", all.Sum(c => c.ProtocolErrors))
                .Add("ejects", "ejects and disconnects", ejects)
                .Add("server_warnings", "server warnings logged", server.Warnings);
        }
        finally
        {
            run.Stopping = true;
            await stop.CancelAsync().ConfigureAwait(false);
            BenchCommand.CloseAll(all);
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

    /// <summary>The options of <c>pastry bench idle</c>.</summary>
    public sealed record Settings(CommandOptions Options, int Clients, double Settle)
    {
        public static Settings From(CommandOptions options)
        {
            BenchCommand.AllowOnly(options, "settle");
            if (options.Has("md"))
            {
                throw new UsageException("bench idle does not use the Message Director; drop --md.");
            }

            return new Settings(options, BenchCommand.Int(options, "clients", 1000, 1), BenchCommand.Number(options, "settle", 3, 0));
        }
    }
}
