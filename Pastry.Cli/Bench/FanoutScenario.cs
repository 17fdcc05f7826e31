using System.Diagnostics;

namespace Pastry.Cli.Bench;

/// <summary>
/// <c>pastry bench fanout</c>: one AI updates M objects in one zone; N clients with interest in that zone receive
/// every update (ARCHITECTURE 4: encode once, fan out to every interested session). With rate 0 the AI sends as fast
/// as the server drains: it keeps at most <c>window</c> updates in flight (sent, not yet received by the average
/// client), so the measured latency is mostly that queue (Little's law); give <c>--rate</c> to measure latency at a
/// fixed load.
/// </summary>
internal static class FanoutScenario
{
    private const uint Zone = 1;

    public static async Task<BenchReport> RunAsync(Settings settings, CancellationToken cancellation)
    {
        var registry = ModelRegistry.FromAssemblies(typeof(BenchEntity).Assembly);
        await using var server = await BenchCommand.StartServerAsync(settings.Options, needsDirector: true, BenchCommand.LoadSettings, cancellation).ConfigureAwait(false);
        await using var ai = await BenchAi.ConnectAsync(server.DirectorEndPoint, cancellation).ConfigureAwait(false);
        var world = await ai.CreateWorldAsync(registry, settings.Objects, Zone, cancellation).ConfigureAwait(false);
        BenchCommand.Progress($"created {settings.Objects} objects in zone {Zone} of {world.DoId}");
        long? baseline = server.ReadRssBytes();

        var clients = await BenchCommand.ConnectClientsAsync(server, registry, settings.Clients, BenchCommand.NewRunPrefix(), 64 * 1024, async (client, token) =>
        {
            int entered = await client.AddInterestAsync(1, world.DoId, Zone, token).ConfigureAwait(false);
            if (entered != settings.Objects)
            {
                throw new BenchException($"a client saw {entered} of {settings.Objects} objects when its interest completed");
            }
        }, cancellation).ConfigureAwait(false);

        try
        {
            return await MeasureAsync(settings, registry, server, ai, clients, baseline, cancellation).ConfigureAwait(false);
        }
        finally
        {
            BenchCommand.CloseAll(clients);
        }
    }


    /// <summary>
    /// Runs the load on connected clients and reports; <paramref name="baseline"/> is the server's RSS before the
    /// clients connected, so that memory per session under load can be derived.
    /// </summary>
    private static async Task<BenchReport> MeasureAsync(Settings settings, ModelRegistry registry, BenchServer server, BenchAi ai, BenchClient[] clients, long? baseline, CancellationToken cancellation)
    {
        var run = new BenchRunState(registry.GetModel<BenchEntity>().GetField(nameof(BenchEntity.SentTicks)).Index);
        using var stopClients = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var receiving = clients.Select(c => Task.Run(() => c.ReceiveAsync(run, stopClients.Token), CancellationToken.None)).ToArray();
        var heartbeats = BenchCommand.HeartbeatAsync(clients, stopClients.Token);
        using var sentFigure = BenchProgress.Current.Counter("updates sent", () => ai.Sent);
        using var deliveredFigure = BenchProgress.Current.Counter("deliveries", () => clients.Sum(c => c.Deliveries));

        long loadEnds = Stopwatch.GetTimestamp() + (long)((settings.Warmup + settings.Seconds) * Stopwatch.Frequency);
        var sender = new Thread(() => SendLoop(ai, clients, settings, loadEnds, cancellation)) { IsBackground = true, Name = "bench-ai" };
        BenchCommand.Progress($"load: {settings.Clients} clients, {settings.Objects} objects, rate {(settings.Rate > 0 ? settings.Rate.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/s" : "max")}, window {settings.Window}; warm-up {settings.Warmup} s, measuring {settings.Seconds} s");
        sender.Start();

        await Task.Delay(TimeSpan.FromSeconds(settings.Warmup), cancellation).ConfigureAwait(false);
        var before = Snapshot.Take(server, ai, clients);
        run.Measuring = true;
        await Task.Delay(TimeSpan.FromSeconds(settings.Seconds), cancellation).ConfigureAwait(false);
        run.Measuring = false;
        var after = Snapshot.Take(server, ai, clients);
        long? rss = server.ReadRssBytes();
        server.EnsureAlive();

        sender.Join(TimeSpan.FromSeconds(10));
        run.Stopping = true;
        await stopClients.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
        await heartbeats.ConfigureAwait(false);

        var latency = new LatencyHistogram();
        int ejects = 0, protocolErrors = 0;
        string? lastEject = null;
        foreach (var client in clients)
        {
            latency.Add(client.Latency);
            protocolErrors += client.ProtocolErrors;
            ejects += client.Ejects > 0 ? client.Ejects : client.ClosedByServer ? 1 : 0;
            lastEject ??= client.LastEject;
        }

        if (lastEject is not null)
        {
            BenchCommand.Progress($"a client was ejected: {lastEject}");
        }

        double seconds = (after.Timestamp - before.Timestamp) / (double)Stopwatch.Frequency;
        long deliveries = after.Deliveries - before.Deliveries;
        long sets = after.Sets - before.Sets;
        double? serverCpu = after.ServerCpu is TimeSpan end && before.ServerCpu is TimeSpan begin ? (end - begin).TotalSeconds : null;
        double benchCpu = (after.BenchCpu - before.BenchCpu).TotalSeconds;
        return new BenchReport("fanout")
            .Add("server", "server", server.IsChild ? "child" : "target")
            .Add("clients", "clients", settings.Clients)
            .Add("objects", "objects", settings.Objects)
            .Add("rate", "rate (0 = max)", settings.Rate, "updates/s")
            .Add("window", "window", settings.Window, "updates in flight")
            .Add("seconds", "measured", Math.Round(seconds, 3), "s")
            .Add("sets", "updates sent", sets)
            .Add("sets_per_sec", "updates sent per second", sets / seconds)
            .Add("deliveries", "deliveries", deliveries)
            .Add("deliveries_per_sec", "deliveries per second", deliveries / seconds)
            .AddGroup("latency_ms", "latency AI -> client", "ms", ("p50", BenchCommand.Millis(latency.Percentile(50))), ("p95", BenchCommand.Millis(latency.Percentile(95))), ("p99", BenchCommand.Millis(latency.Percentile(99))), ("max", BenchCommand.Millis(latency.MaxMicroseconds)))
            .Add("latency_samples", "latency samples", latency.Count)
            .Add("bytes_out_per_sec", "bytes to clients per second", (after.Bytes - before.Bytes) / seconds)
            .Add("server_rss_mb", "server RSS", rss is long bytes ? Math.Round(bytes / 1048576.0, 1) : null, "MB")
            .Add("server_rss_baseline_mb", "server RSS before the clients", baseline is long b ? Math.Round(b / 1048576.0, 1) : null, "MB")
            .Add("kib_per_session", "RSS growth per session under load", rss is long r && baseline is long b0 ? Math.Round((r - b0) / 1024.0 / settings.Clients, 1) : null, "KiB")
            .Add("server_cpu_percent", "server CPU (100 = one core)", serverCpu is double cpu ? Math.Round(cpu * 100 / seconds, 1) : null, "%")
            .Add("server_cpu_s_per_million", "server CPU-s per 1M deliveries", serverCpu is double c && deliveries > 0 ? Math.Round(c * 1e6 / deliveries, 4) : null, "s")
            .Add("bench_cpu_percent", "bench process CPU", Math.Round(benchCpu * 100 / seconds, 1), "%")
            .Add("errors", "errors", ai.Errors + protocolErrors)
            .Add("ejects", "ejects and disconnects", ejects)
            .Add("server_warnings", "server warnings logged", server.Warnings);
    }


    /// <summary>
    /// The AI's send loop, on its own thread: round-robin over the entities, at most <c>window</c> updates ahead of
    /// the average live client, and no faster than <c>rate</c> when one is given. Ends at <paramref name="endsAt"/>.
    /// </summary>
    private static void SendLoop(BenchAi ai, BenchClient[] clients, Settings settings, long endsAt, CancellationToken cancellation)
    {
        long started = Stopwatch.GetTimestamp();
        int next = 0;
        int count = ai.Entities.Count;
        if (count == 0)
        {
            return;
        }

        while (!cancellation.IsCancellationRequested)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= endsAt)
            {
                return;
            }

            long delivered = 0;
            int live = 0;
            foreach (var client in clients)
            {
                if (!client.ClosedByServer)
                {
                    delivered += client.Deliveries;
                    live++;
                }
            }

            if (live == 0)
            {
                return;
            }

            long sent = ai.Sent;
            long budget = settings.Window - (sent - (delivered / live));
            if (settings.Rate > 0)
            {
                budget = Math.Min(budget, (long)((now - started) * settings.Rate / Stopwatch.Frequency) - sent);
            }

            if (budget <= 0)
            {
                Thread.Sleep(1);
                continue;
            }

            budget = Math.Min(budget, 256);
            for (long i = 0; i < budget; i++)
            {
                ai.SendUpdate(next, Stopwatch.GetTimestamp());
                next = next + 1 == count ? 0 : next + 1;
            }
        }
    }

    /// <summary>The counters at one instant.</summary>
    private readonly record struct Snapshot(long Timestamp, long Deliveries, long Bytes, long Sets, TimeSpan? ServerCpu, TimeSpan BenchCpu)
    {
        public static Snapshot Take(BenchServer server, BenchAi ai, BenchClient[] clients)
        {
            long deliveries = 0, bytes = 0;
            foreach (var client in clients)
            {
                deliveries += client.Deliveries;
                bytes += client.BytesReceived;
            }

            return new Snapshot(Stopwatch.GetTimestamp(), deliveries, bytes, ai.Sent, server.ReadCpuTime(), BenchServer.ReadCpuTime(Environment.ProcessId) ?? TimeSpan.Zero);
        }
    }

    /// <summary>The options of <c>pastry bench fanout</c>.</summary>
    public sealed record Settings(CommandOptions Options, int Clients, int Objects, double Rate, int Window, double Seconds, double Warmup)
    {
        public static Settings From(CommandOptions options)
        {
            BenchCommand.AllowOnly(options, "objects", "rate", "window", "seconds", "warmup");
            return new Settings(
                options,
                BenchCommand.Int(options, "clients", 100, 1),
                BenchCommand.Int(options, "objects", 100, 1),
                BenchCommand.Number(options, "rate", 0, 0),
                BenchCommand.Int(options, "window", 1024, 1),
                BenchCommand.Number(options, "seconds", 5, 0.1),
                BenchCommand.Number(options, "warmup", 1, 0));
        }
    }
}
