using System.Diagnostics;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench fanout</c>: one AI updates M objects in one zone; N clients with interest in that zone receive
/// every update (ARCHITECTURE 4: encode once, fan out to every interested session). With rate 0 the AI sends as fast
/// as the server drains: it keeps at most <c>window</c> updates in flight (sent, not yet received by the average
/// client), so the measured latency is mostly that queue (Little's law); give <c>--rate</c> to measure latency at a
/// fixed load, or <c>--percent-of-peak</c> to measure the peak first and then run at that share of it.
/// </summary>
internal static class FanoutScenario
{
    private const uint Zone = 1;

    public static async Task<BenchReport> RunAsync(Settings settings, CancellationToken cancellation)
    {
        var registry = ModelRegistry.FromAssemblies(typeof(BenchEntity).Assembly);
        await using var server = await BenchRunner.StartServerAsync(settings.Options, needsDirector: true, BenchRunner.LoadSettings, cancellation).ConfigureAwait(false);
        await using var ai = await BenchAi.ConnectAsync(server, cancellation).ConfigureAwait(false);
        var world = await ai.CreateWorldAsync(registry, settings.Objects, Zone, cancellation).ConfigureAwait(false);
        BenchRunner.Progress($"created {settings.Objects} objects in zone {Zone} of {world.DoId}");
        long? baseline = server.ReadRssBytes();

        var clients = await BenchRunner.ConnectClientsAsync(server, registry, settings.Clients, BenchRunner.NewRunPrefix(), 64 * 1024, async (client, token) =>
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
            BenchRunner.CloseAll(clients);
        }
    }


    private static async Task<BenchReport> MeasureAsync(Settings settings, ModelRegistry registry, BenchServer server, BenchAi ai, BenchClient[] clients, long? baseline, CancellationToken cancellation)
    {
        var run = new BenchRunState(registry.GetModel<BenchEntity>().GetField(nameof(BenchEntity.SentTicks)).WireId);
        using var stopClients = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var receiving = clients.Select(c => Task.Run(() => c.ReceiveAsync(run, stopClients.Token), CancellationToken.None)).ToArray();
        var heartbeats = BenchRunner.HeartbeatAsync(clients, stopClients.Token);
        using var sentFigure = BenchProgress.Current.Counter("updates sent", () => ai.Sent);
        using var deliveredFigure = BenchProgress.Current.Counter("deliveries", () => clients.Sum(c => c.Deliveries));

        // RSS before the load (clients connected and in the zone), its highest sample during the load, and after it.
        long? beforeLoad = server.ReadRssBytes();
        using var sampler = new RssSampler(server);
        Phase? peak = null;
        double rate = settings.Rate;
        if (settings.PercentOfPeak > 0)
        {
            // First find the peak (as fast as the server drains), then load the same server and clients at a share of it.
            peak = await RunPhaseAsync(settings, 0, server, ai, clients, run, cancellation).ConfigureAwait(false);
            rate = Math.Max(1, peak.Value.Sets / peak.Value.Seconds * settings.PercentOfPeak / 100);
            BenchRunner.Progress($"peak: {peak.Value.Deliveries / peak.Value.Seconds:0} deliveries/s ({peak.Value.Sets / peak.Value.Seconds:0} updates/s); next: {settings.PercentOfPeak}% of it");
        }

        var phase = await RunPhaseAsync(settings, rate, server, ai, clients, run, cancellation).ConfigureAwait(false);
        long? peakRss = await sampler.StopAsync().ConfigureAwait(false);
        long? afterLoad = null;
        if (settings.RssAfter > 0)
        {
            // The clients stay connected and idle (heartbeats go on): what the server gives back once the load is over.
            BenchRunner.Progress($"load over; reading the server's RSS in {settings.RssAfter} s");
            await Task.Delay(TimeSpan.FromSeconds(settings.RssAfter), cancellation).ConfigureAwait(false);
            afterLoad = server.ReadRssBytes();
        }

        run.Stopping = true;
        await stopClients.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
        await heartbeats.ConfigureAwait(false);

        int ejects = 0, protocolErrors = 0;
        string? lastEject = null;
        foreach (var client in clients)
        {
            protocolErrors += client.ProtocolErrors;
            ejects += client.Ejects > 0 ? client.Ejects : client.ClosedByServer ? 1 : 0;
            lastEject ??= client.LastEject;
        }

        if (lastEject is not null)
        {
            BenchRunner.Progress($"a client was ejected: {lastEject}");
        }

        var latency = phase.Latency;
        double seconds = phase.Seconds;
        long deliveries = phase.Deliveries;
        var report = new BenchReport("fanout")
            .Add("server", "server", server.IsChild ? "child" : "target")
            .Add("transport", "clients over", server.WebSocketUrl is null ? "tcp" : "ws")
            .Add("clients", "clients", settings.Clients)
            .Add("objects", "objects", settings.Objects)
            .Add("rate", "rate (0 = max)", Math.Round(rate, 1), "updates/s")
            .Add("window", "window", settings.Window, "updates in flight");
        if (peak is Phase p)
        {
            report
                .Add("percent_of_peak", "percent of peak", settings.PercentOfPeak, "%")
                .Add("peak_deliveries_per_sec", "peak: deliveries per second", p.Deliveries / p.Seconds)
                .Add("peak_sets_per_sec", "peak: updates sent per second", p.Sets / p.Seconds)
                .AddLatency("peak_latency_ms", "peak: latency AI -> client", p.Latency)
                .Add("peak_server_cpu_s_per_million", "peak: server CPU-s per 1M deliveries", p.ServerCpu is double pc && p.Deliveries > 0 ? Math.Round(pc * 1e6 / p.Deliveries, 4) : null, "s");
        }

        return report
            .Add("seconds", "measured", Math.Round(seconds, 3), "s")
            .Add("sets", "updates sent", phase.Sets)
            .Add("sets_per_sec", "updates sent per second", phase.Sets / seconds)
            .Add("deliveries", "deliveries", deliveries)
            .Add("deliveries_per_sec", "deliveries per second", deliveries / seconds)
            .AddLatency("latency_ms", "latency AI -> client", latency)
            .Add("latency_samples", "latency samples", latency.Count)
            .Add("bytes_out_per_sec", "bytes to clients per second", phase.Bytes / seconds)
            .Add("server_rss_mb", "server RSS", phase.Rss is long bytes ? Math.Round(bytes / 1048576.0, 1) : null, "MB")
            .Add("server_rss_baseline_mb", "server RSS before the clients", baseline is long b ? Math.Round(b / 1048576.0, 1) : null, "MB")
            .Add("kib_per_session", "RSS growth per session under load", phase.Rss is long r && baseline is long b0 ? Math.Round((r - b0) / 1024.0 / settings.Clients, 1) : null, "KiB")
            .Add("server_rss_before_load_mb", "server RSS with the clients, before the load", Megabytes(beforeLoad), "MB")
            .Add("server_rss_peak_mb", "server RSS, highest during the load", Megabytes(peakRss), "MB")
            .Add("server_rss_after_mb", $"server RSS {settings.RssAfter:0.#} s after the load", settings.RssAfter > 0 ? Megabytes(afterLoad) : null, "MB")
            .Add("server_rss_after_goal_mb", "goal for it: 1.5 x before the load + 50 MB", settings.RssAfter > 0 && beforeLoad is long bl ? Math.Round((1.5 * bl / 1048576.0) + 50, 1) : null, "MB")
            .Add("server_cpu_percent", "server CPU (100 = one core)", phase.ServerCpu is double cpu ? Math.Round(cpu * 100 / seconds, 1) : null, "%")
            .Add("server_cpu_s_per_million", "server CPU-s per 1M deliveries", phase.ServerCpu is double c && deliveries > 0 ? Math.Round(c * 1e6 / deliveries, 4) : null, "s")
            .Add("bench_cpu_percent", "bench process CPU", Math.Round(phase.BenchCpu * 100 / seconds, 1), "%")
            .Add("errors", "errors", ai.Errors + protocolErrors)
            .Add("ejects", "ejects and disconnects", ejects)
            .Add("server_warnings", "server warnings logged", server.Warnings);
    }

    /// <summary>
    /// One load phase at <paramref name="rate"/> (0 = as fast as the server drains): warm-up, then the measured
    /// window; returns its counters and the clients' latencies, which it clears for the next phase.
    /// </summary>
    private static async Task<Phase> RunPhaseAsync(Settings settings, double rate, BenchServer server, BenchAi ai, BenchClient[] clients, BenchRunState run, CancellationToken cancellation)
    {
        long loadEnds = Stopwatch.GetTimestamp() + (long)((settings.Warmup + settings.Seconds) * Stopwatch.Frequency);
        var sender = new Thread(() => SendLoop(ai, clients, settings.Window, rate, loadEnds, cancellation)) { IsBackground = true, Name = "bench-ai" };
        BenchRunner.Progress($"load: {settings.Clients} clients, {settings.Objects} objects, rate {(rate > 0 ? rate.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + "/s" : "max")}, window {settings.Window}; warm-up {settings.Warmup} s, measuring {settings.Seconds} s");
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

        var latency = new LatencyHistogram();
        foreach (var client in clients)
        {
            latency.Add(client.Latency);
            client.Latency.Clear();
        }

        return new Phase(
            (after.Timestamp - before.Timestamp) / (double)Stopwatch.Frequency,
            after.Deliveries - before.Deliveries,
            after.Sets - before.Sets,
            after.Bytes - before.Bytes,
            after.ServerCpu is TimeSpan end && before.ServerCpu is TimeSpan begin ? (end - begin).TotalSeconds : null,
            (after.BenchCpu - before.BenchCpu).TotalSeconds,
            rss,
            latency);
    }

    /// <summary>
    /// The AI's send loop, on its own thread: round-robin over the entities, at most <c>window</c> updates ahead of
    /// the average live client, and no faster than <c>rate</c> when one is given. Ends at <paramref name="endsAt"/>.
    /// </summary>
    private static void SendLoop(BenchAi ai, BenchClient[] clients, int window, double rate, long endsAt, CancellationToken cancellation)
    {
        long started = Stopwatch.GetTimestamp();
        long sentAtStart = ai.Sent;

        // A paced sender that fell behind (the box was busy) catches up by at most 50 ms of updates, not in one burst
        // of everything it owes: a burst would measure a different load than the one asked for.
        long mostBehind = Math.Max(1, (long)(rate * 0.05));
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
            long budget = window - (sent - (delivered / live));
            if (rate > 0)
            {
                long behind = (long)((now - started) * rate / Stopwatch.Frequency) - (sent - sentAtStart);
                if (behind > mostBehind)
                {
                    started += (long)((behind - mostBehind) * Stopwatch.Frequency / rate);
                    behind = mostBehind;
                }

                budget = Math.Min(budget, behind);
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

    /// <summary>What one load phase measured.</summary>
    private readonly record struct Phase(double Seconds, long Deliveries, long Sets, long Bytes, double? ServerCpu, double BenchCpu, long? Rss, LatencyHistogram Latency);

    private static double? Megabytes(long? bytes) => bytes is long b ? Math.Round(b / 1048576.0, 1) : null;

    /// <summary>Reads the server's RSS four times a second until stopped, and keeps the highest reading.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task<long?> sampling;

        public RssSampler(BenchServer server) => sampling = Task.Run(async () =>
        {
            long? highest = null;
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            try
            {
                do
                {
                    if (server.ReadRssBytes() is long rss && (highest is null || rss > highest))
                    {
                        highest = rss;
                    }
                }
                while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false));
            }
            catch (OperationCanceledException)
            {
            }

            return highest;
        });

        /// <summary>Stops sampling; the highest reading (null when none could be read).</summary>
        public async Task<long?> StopAsync()
        {
            await stop.CancelAsync().ConfigureAwait(false);
            return await sampling.ConfigureAwait(false);
        }

        public void Dispose()
        {
            stop.Cancel();
            stop.Dispose();
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
    public sealed record Settings(BenchOptions Options, int Clients, int Objects, double Rate, int Window, double Seconds, double Warmup, double PercentOfPeak, double RssAfter)
    {
        public static Settings From(BenchOptions options)
        {
            BenchRunner.AllowOnly(options, "objects", "rate", "window", "seconds", "warmup", "percent-of-peak", "rss-after", "transport");
            double percent = BenchRunner.Number(options, "percent-of-peak", 0);
            if (percent > 100)
            {
                throw new BenchUsageException("--percent-of-peak must be between 0 and 100.");
            }

            if (percent > 0 && options.Has("rate"))
            {
                throw new BenchUsageException("--percent-of-peak sets the rate itself; give --rate or --percent-of-peak, not both.");
            }

            return new Settings(
                options,
                BenchRunner.Int(options, "clients", 1),
                BenchRunner.Int(options, "objects", 1),
                BenchRunner.Number(options, "rate", 0),
                BenchRunner.Int(options, "window", 1),
                BenchRunner.Number(options, "seconds", 0.1),
                BenchRunner.Number(options, "warmup", 0),
                percent,
                BenchRunner.Number(options, "rss-after", 0));
        }
    }
}
