using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Pastry.Ai;
using Pastry.Client;

namespace Pastry.Bench;

/// <summary>
/// The scenarios that measure the client library (<see cref="PastryClient"/>) and the AI library
/// (<see cref="AiRepository"/>) end to end, rather than raw sockets:
/// <c>relay</c> — one client sets a <c>[ClSend]</c> field and every other client sees it (latency client → client);
/// <c>clientmem</c> — the client's managed memory per object in view.
/// </summary>
internal static class ClientScenarios
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);


    /// <summary><c>pastry bench relay</c>.</summary>
    public static async Task<BenchReport> RelayAsync(BenchOptions options, CancellationToken cancellation)
    {
        BenchRunner.AllowOnly(options, "rate", "seconds", "warmup", "transport");
        int count = BenchRunner.Int(options, "clients", 2);
        double rate = BenchRunner.Number(options, "rate", 1);
        double seconds = BenchRunner.Number(options, "seconds", 0.1);
        double warmup = BenchRunner.Number(options, "warmup", 0);
        var registry = ModelRegistry.FromAssemblies(typeof(BenchToken).Assembly);
        await using var server = await BenchRunner.StartServerAsync(options, needsDirector: true, BenchRunner.LoadSettings, cancellation).ConfigureAwait(false);
        await using var ai = await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
        var zone = ai.Create(new BenchZone { Name = "relay" }, DoId.Empty, 0);
        var token = ai.Create(new BenchToken { Label = "token" }, zone.DoId, 1);

        string prefix = BenchRunner.NewRunPrefix();
        var clients = new PastryClient[count];
        var histograms = new LatencyHistogram[count];
        long received = 0;
        bool measuring = false;
        using var gate = new SemaphoreSlim(32);
        var tokens = new BenchToken[count];
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                var client = server.WebSocketUrl is { } url
                    ? await PastryClient.ConnectAsync(url, registry, cancellation: cancellation).ConfigureAwait(false)
                    : await PastryClient.ConnectAsync(server.ClientEndPoint.Address.ToString(), server.ClientEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
                clients[i] = client;
                await client.CreateAccountAsync($"{prefix}r{i}", "bench password", cancellation).ConfigureAwait(false);
                await client.LoginAsync($"{prefix}r{i}", "bench password", cancellation).ConfigureAwait(false);
                var seen = client.Of<BenchToken>().Created.FirstAsync().ToTask(cancellation);
                await client.AddInterestAsync(zone.DoId, new[] { 1u }, cancellation).ConfigureAwait(false);
                tokens[i] = client.TryGet<BenchToken>(token.DoId, out var mine) ? mine : await seen.WaitAsync(Patience, cancellation).ConfigureAwait(false);
                var histogram = histograms[i] = new LatencyHistogram();
                client.Of<BenchToken>().Updated.Subscribe(change =>
                {
                    if (change.Origin != ChangeOrigin.Remote || !Volatile.Read(ref measuring))
                    {
                        return;
                    }

                    long sent = (long)change.NewValue!;
                    histogram.Record((Stopwatch.GetTimestamp() - sent) * 1_000_000 / Stopwatch.Frequency);
                    Interlocked.Increment(ref received);
                });
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        BenchRunner.Progress($"relay: {count} clients in view of one [ClSend] field; {rate}/s sets, each seen by {count - 1} others");

        long sets = 0;
        using var setFigure = BenchProgress.Current.Counter("sets", () => Volatile.Read(ref sets));
        var interval = TimeSpan.FromSeconds(1 / rate);
        var start = Stopwatch.GetTimestamp();
        long measureFrom = start + (long)(warmup * Stopwatch.Frequency);
        long end = measureFrom + (long)(seconds * Stopwatch.Frequency);
        long measuredSets = 0, receivedAtStart = 0;
        var cpuStart = TimeSpan.Zero;
        for (long n = 0; ;)
        {
            long due = start + (long)(n * interval.TotalSeconds * Stopwatch.Frequency);
            long now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                break;
            }

            if (!measuring && now >= measureFrom)
            {
                receivedAtStart = Interlocked.Read(ref received);
                cpuStart = server.ReadCpuTime() ?? TimeSpan.Zero;
                Volatile.Write(ref measuring, true);
            }

            if (due > now)
            {
                await Task.Delay(TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (due - now) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)), cancellation).ConfigureAwait(false);
                continue;
            }

            var sender = tokens[n % count];
            sender.Stamp = Stopwatch.GetTimestamp();
            n++;
            sets++;
            if (measuring)
            {
                measuredSets++;
            }
        }

        // Let the last sets arrive, then stop counting.
        await Task.Delay(500, cancellation).ConfigureAwait(false);
        Volatile.Write(ref measuring, false);
        var cpuEnd = server.ReadCpuTime();
        long? rss = server.ReadRssBytes();
        var latency = new LatencyHistogram();
        int ejected = 0;
        foreach (var histogram in histograms)
        {
            latency.Add(histogram);
        }

        foreach (var client in clients)
        {
            ejected += client.Closed.IsCompleted ? 1 : 0;
            await client.DisposeAsync().ConfigureAwait(false);
        }

        long deliveries = Interlocked.Read(ref received) - receivedAtStart;
        return new BenchReport("relay")
            .Add("transport", "clients over", options.Get("transport") ?? "tcp")
            .Add("clients", "clients", count)
            .Add("objects", "objects", 1)
            .Add("seconds", "measured", seconds, "s")
            .Add("sets_per_sec", "client sets per second", measuredSets / seconds)
            .Add("deliveries_per_sec", "deliveries per second", deliveries / seconds)
            .AddLatency("latency_ms", "latency client set -> other client sees it", latency)
            .Add("latency_samples", "latency samples", latency.Count)
            .Add("server_rss_mb", "server RSS", rss is long bytes ? Math.Round(bytes / 1048576.0, 1) : null, "MB")
            .Add("server_cpu_percent", "server CPU (100 = one core)", cpuEnd is TimeSpan e ? Math.Round((e - cpuStart).TotalSeconds * 100 / seconds, 1) : null, "%")
            .Add("errors", "errors", 0)
            .Add("ejects", "ejects and disconnects", ejected);
    }

    /// <summary><c>pastry bench clientmem</c>.</summary>
    public static async Task<BenchReport> ClientMemoryAsync(BenchOptions options, CancellationToken cancellation)
    {
        BenchRunner.AllowOnly(options, "objects");
        int objects = BenchRunner.Int(options, "objects", 1);
        var registry = ModelRegistry.FromAssemblies(typeof(BenchToken).Assembly);
        await using var server = await BenchRunner.StartServerAsync(options, needsDirector: true, BenchRunner.LoadSettings, cancellation).ConfigureAwait(false);
        await using var ai = await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
        var zone = ai.Create(new BenchZone { Name = "memory" }, DoId.Empty, 0);
        for (int i = 0; i < objects; i++)
        {
            ai.Create(new BenchEntity { Value = i, SentTicks = i }, zone.DoId, 1);
        }

        await using var client = await PastryClient.ConnectAsync(server.ClientEndPoint.Address.ToString(), server.ClientEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
        string user = BenchRunner.NewRunPrefix() + "m";
        await client.CreateAccountAsync(user, "bench password", cancellation).ConfigureAwait(false);
        await client.LoginAsync(user, "bench password", cancellation).ConfigureAwait(false);
        var all = client.Of<BenchEntity>().Created.Take(objects).LastAsync().ToTask(cancellation);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        await client.AddInterestAsync(zone.DoId, new[] { 1u }, cancellation).ConfigureAwait(false);
        if (client.Objects.Count < objects)
        {
            await all.WaitAsync(Patience, cancellation).ConfigureAwait(false);
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        int inView = client.Objects.Count;
        GC.KeepAlive(client);
        return new BenchReport("clientmem")
            .Add("objects", "objects in view", inView)
            .Add("client_heap_kib", "client managed heap growth", Math.Round((after - before) / 1024.0, 1), "KiB")
            .Add("bytes_per_object", "client bytes per object in view", Math.Round((after - before) / (double)inView, 0), "B")
            .Add("kib_per_1000_objects", "client KiB per 1,000 objects in view", Math.Round((after - before) / (double)inView * 1000 / 1024.0, 1), "KiB")
            .Add("errors", "errors", 0)
            .Add("ejects", "ejects and disconnects", client.Closed.IsCompleted ? 1 : 0);
    }

}
