using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Globalization;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Pastry.Ai;
using Pastry.Client;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench soak</c> (issue 18 item 8): N bots (the real client library, auto-reconnect on) walk in one zone for
/// T minutes, each dropping its connection at random (it resumes by itself); an AI over the Message Director link
/// scores them with write-through Db writes and compare-and-swaps, and is restarted once halfway (its objects are
/// parked and taken back by the new AI). Every few seconds the server's RSS, open handles, threads and GC heap are
/// sampled; the report lists the samples and compares the first and the last third of the run.
/// </summary>
internal static class SoakScenario
{
    private const string Application = "pastry-bench-soak";
    private const string Password = "bench soak password";

    /// <summary>One reading: when, the server's memory and resources, and the load's counters so far.</summary>
    /// <summary>Every this many samples (and the last), the live heap is read after a full collection too.</summary>
    private const int LiveHeapEvery = 6;

    /// <summary>
    /// One reading: when, the server's memory and resources, and the load's counters so far. The heap is the managed
    /// heap as found (garbage included); the live heap, on every <see cref="LiveHeapEvery"/>th sample, what a full
    /// collection leaves.
    /// </summary>
    private sealed record Sample(double Seconds, double RssMb, double? HeapMb, double? LiveHeapMb, double? GcCommittedMb, int? Handles, int? Threads, long Moves, long Drops, long Resumes, long DbWrites, long Errors);

    public static async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken cancellation)
    {
        BenchRunner.AllowOnly(options, "bots", "minutes", "sample-seconds", "drop-every", "hz");
        int bots = BenchRunner.Int(options, "bots", 1);
        double minutes = BenchRunner.Number(options, "minutes", 0.01);
        double sampleSeconds = BenchRunner.Number(options, "sample-seconds", 0.5);
        double dropEvery = BenchRunner.Number(options, "drop-every", 0.5);
        double hz = BenchRunner.Number(options, "hz", 0.1);
        var registry = ModelRegistry.FromAssemblies(typeof(SoakPlayer).Assembly);
        string directory = Directory.CreateTempSubdirectory("pastry-bench-soak").FullName;
        try
        {
            var settings = BenchRunner.LoadSettings.Concat(new[] { "--Database:Path", Path.Combine(directory, "soak.db"), "--Database:AutoMigrate", "true" });
            await using var server = await BenchRunner.StartServerAsync(options, needsDirector: true, settings, cancellation).ConfigureAwait(false);
            if (server.ProcessId is null)
            {
                throw new BenchUsageException("soak samples the server's memory, handles and threads: with --target give --pid too.");
            }

            await using var probe = await BenchAi.ConnectAsync(server.DirectorEndPoint, cancellation).ConfigureAwait(false);
            var aiOptions = new AiOptions { Application = Application, Credentials = server.Credentials };
            var ai = await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, aiOptions, cancellation: cancellation).ConfigureAwait(false);
            try
            {
                var zone = ai.Create(new BenchZone { Name = "soak" }, DoId.Empty, 0);
                string prefix = BenchRunner.NewRunPrefix();
                BenchRunner.Progress($"soak: {bots} bots log in, each with a stored character");
                var soakBots = await Task.WhenAll(Enumerable.Range(0, bots).Select(i => SoakBot.JoinAsync(server, registry, ai, zone, $"{prefix}s{i}", cancellation))).ConfigureAwait(false);
                var players = soakBots.Select(b => b.PlayerId).ToArray();

                long dbWrites = 0, errors = 0, restartTakenBack = -1;
                var samples = new List<Sample>();
                var clock = Stopwatch.StartNew();
                var duration = TimeSpan.FromMinutes(minutes);
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                BenchRunner.Progress($"soak: {bots} bots for {minutes} min (moves at {hz}/s each, a drop every ~{dropEvery} s each, an AI restart at half time); a sample every {sampleSeconds} s");
                var load = soakBots.Select(b => b.RunAsync(hz, dropEvery, stop.Token)).ToArray();

                // The AI's side: a write-through write of a score every 100 ms, a compare-and-swap every second, and one restart.
                var scoring = Task.Run(async () =>
                {
                    long tick = 0;
                    bool restarted = false;
                    while (!stop.IsCancellationRequested)
                    {
                        try
                        {
                            await Task.Delay(100, stop.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }

                        if (!restarted && clock.Elapsed >= duration / 2)
                        {
                            restarted = true;
                            (ai, restartTakenBack) = await RestartAiAsync(ai, server, registry, aiOptions, stop.Token).ConfigureAwait(false);
                            continue;
                        }

                        var current = ai;
                        var id = players[Random.Shared.Next(players.Length)];
                        if (current.Objects.FirstOrDefault(o => o.DoId == id) is not SoakPlayer player)
                        {
                            continue;
                        }

                        try
                        {
                            if (++tick % 10 == 0)
                            {
                                long score = player.Score;
                                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                                await current.SetIfEqualsAsync(player, p => p.Score, score, score + 5, timeout.Token).ConfigureAwait(false);
                            }
                            else
                            {
                                await current.InvokeAsync(() => player.Score++).ConfigureAwait(false);
                            }

                            Interlocked.Increment(ref dbWrites);
                        }
                        catch (Exception ex) when (ex is DatabaseRequestException or OperationCanceledException or ObjectDisabledException)
                        {
                            if (!stop.IsCancellationRequested && Interlocked.Increment(ref errors) <= 5)
                            {
                                BenchRunner.Progress($"soak: an AI write failed: {ex.GetType().Name}: {ex.Message}");
                            }
                        }
                    }
                }, CancellationToken.None);

                // The samples: the server's resources, read from /proc and (GC heap) asked over the Message Director.
                while (clock.Elapsed < duration && !cancellation.IsCancellationRequested)
                {
                    var sample = await ReadSampleAsync(server, probe, clock.Elapsed.TotalSeconds, samples.Count % LiveHeapEvery == 0, soakBots, Volatile.Read(ref dbWrites), Volatile.Read(ref errors), cancellation).ConfigureAwait(false);
                    samples.Add(sample);
                    BenchRunner.Progress(string.Create(CultureInfo.InvariantCulture, $"soak: t={sample.Seconds:0}s rss={sample.RssMb:0.0} MB heap={sample.HeapMb:0.0} MB live_heap={sample.LiveHeapMb:0.0} MB gc_committed={sample.GcCommittedMb:0.0} MB handles={sample.Handles} threads={sample.Threads} moves={sample.Moves} drops={sample.Drops} resumes={sample.Resumes} db_writes={sample.DbWrites} errors={sample.Errors}"));
                    var next = TimeSpan.FromSeconds(sampleSeconds * samples.Count);
                    var wait = (next < duration ? next : duration) - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancellation).ConfigureAwait(false);
                    }
                }

                await stop.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(load.Append(scoring)).ConfigureAwait(false);
                var last = await ReadSampleAsync(server, probe, clock.Elapsed.TotalSeconds, true, soakBots, Volatile.Read(ref dbWrites), Volatile.Read(ref errors), cancellation).ConfigureAwait(false);
                samples.Add(last);
                foreach (var bot in soakBots)
                {
                    await bot.DisposeAsync().ConfigureAwait(false);
                }

                return Report(bots, minutes, sampleSeconds, samples, soakBots, restartTakenBack, server.Warnings);
            }
            finally
            {
                await ai.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // The child may still hold the file for a moment; the temporary directory is the OS's to clean.
            }
        }
    }

    /// <summary>
    /// Restarts the AI: the old one's link closes (the server parks its objects for the next AI of the application),
    /// and a new one connects and takes them back. Returns the new AI and how many objects it took back.
    /// </summary>
    private static async Task<(AiRepository Ai, long TakenBack)> RestartAiAsync(AiRepository old, BenchServer server, ModelRegistry registry, AiOptions options, CancellationToken cancellation)
    {
        int before = old.ObjectCount;
        BenchRunner.Progress($"soak: restarting the AI ({before} objects)");
        await old.DisposeAsync().ConfigureAwait(false);
        var fresh = await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, new AiOptions { Application = options.Application, Credentials = options.Credentials }, cancellation: cancellation).ConfigureAwait(false);

        // The old link's close and the new claim travel apart: until the server has parked the objects, a claim finds none.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var taken = await fresh.TakeBackAsync(cancellation).ConfigureAwait(false);
            if (taken.Count > 0 || deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                BenchRunner.Progress($"soak: the new AI took back {taken.Count} objects");
                return (fresh, taken.Count);
            }

            await Task.Delay(100, cancellation).ConfigureAwait(false);
        }
    }

    private static async Task<Sample> ReadSampleAsync(BenchServer server, BenchAi probe, double seconds, bool live, SoakBot[] bots, long dbWrites, long errors, CancellationToken cancellation)
    {
        int pid = server.ProcessId!.Value;
        var memory = await probe.QueryMemoryAsync(collect: false, cancellation).ConfigureAwait(false);
        var collected = live ? await probe.QueryMemoryAsync(collect: true, cancellation).ConfigureAwait(false) : null;
        int? handles = null, threads = null;
        try
        {
            handles = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or the process is gone: the figures stay unknown.
        }

        return new Sample(
            Math.Round(seconds, 1),
            Math.Round((server.ReadRssBytes() ?? 0) / 1048576.0, 1),
            memory is { } m ? Math.Round(m.ManagedHeapBytes / 1048576.0, 1) : null,
            collected is { } l ? Math.Round(l.ManagedHeapBytes / 1048576.0, 1) : null,
            memory is { } c ? Math.Round(c.GcCommittedBytes / 1048576.0, 1) : null,
            handles,
            threads,
            bots.Sum(b => b.Moves),
            bots.Sum(b => b.Drops),
            bots.Sum(b => b.Resumes),
            dbWrites,
            errors + bots.Sum(b => b.Errors));
    }

    private static BenchReport Report(int bots, double minutes, double sampleSeconds, List<Sample> samples, SoakBot[] soakBots, long takenBack, int warnings)
    {
        // Growth: the mean of the last third of the samples against the first third's (the first sample, before any
        // load settled, is left out of the first third).
        var steady = samples.Skip(1).ToList();
        int third = Math.Max(1, steady.Count / 3);
        double? Growth(Func<Sample, double?> figure)
        {
            var first = steady.Take(third).Select(figure).Where(v => v is not null).Select(v => v!.Value).ToList();
            var last = steady.Skip(steady.Count - third).Select(figure).Where(v => v is not null).Select(v => v!.Value).ToList();
            return first.Count == 0 || last.Count == 0 || first.Average() == 0 ? null : Math.Round((last.Average() - first.Average()) * 100 / first.Average(), 1);
        }

        var final = samples[^1];
        return new BenchReport("soak")
            .Add("bots", "bots", bots)
            .Add("minutes", "run time", minutes, "min")
            .Add("sample_seconds", "sampled every", sampleSeconds, "s")
            .Add("moves", "moves sent by the bots", final.Moves)
            .Add("drops", "connections dropped at random", final.Drops)
            .Add("resumes", "sessions resumed by the client library", final.Resumes)
            .Add("sessions_lost", "sessions lost (resume refused; logged in again)", soakBots.Sum(b => b.SessionsLost))
            .Add("db_writes", "AI writes of stored fields (write-through and compare-and-swap)", final.DbWrites)
            .Add("ai_restart_taken_back", "objects the restarted AI took back", takenBack)
            .Add("errors", "errors", final.Errors)
            .Add("server_warnings", "server warning lines", warnings)
            .Add("rss_growth_percent", "RSS, last third vs first third", Growth(s => s.RssMb), "%")
            .Add("heap_growth_percent", "GC heap as found, last third vs first third", Growth(s => s.HeapMb), "%")
            .Add("live_heap_growth_percent", "GC heap after a full collection, last third vs first third", Growth(s => s.LiveHeapMb), "%")
            .Add("handles_growth_percent", "open handles, last third vs first third", Growth(s => s.Handles), "%")
            .Add("threads_growth_percent", "threads, last third vs first third", Growth(s => s.Threads), "%")
            .AddSamples(
                "samples",
                "samples",
                new[] { "seconds", "rss_mb", "heap_mb", "live_heap_mb", "gc_committed_mb", "handles", "threads", "moves", "drops", "resumes", "db_writes", "errors" },
                samples.Select(s => new object?[] { s.Seconds, s.RssMb, s.HeapMb, s.LiveHeapMb, s.GcCommittedMb, s.Handles, s.Threads, s.Moves, s.Drops, s.Resumes, s.DbWrites, s.Errors }).ToList());
    }

    /// <summary>
    /// One bot: a <see cref="PastryClient"/> with auto-reconnect, logged in, its stored character activated by the AI and
    /// in view; it walks (sets its [OwnSend] X) and drops its connection at random, and the library resumes it.
    /// </summary>
    private sealed class SoakBot : IAsyncDisposable
    {
        private readonly PastryClient client;
        private readonly string user;
        private readonly DoId zone;
        private long moves;
        private long drops;
        private long resumes;
        private long errors;
        private long sessionsLost;
        private int mustLogIn;

        private SoakBot(PastryClient client, string user, DoId zone, DoId playerId)
        {
            this.client = client;
            this.user = user;
            this.zone = zone;
            PlayerId = playerId;
            client.Reconnected.Subscribe(_ => Interlocked.Increment(ref resumes));
            client.SessionLost.Subscribe(_ =>
            {
                Interlocked.Increment(ref sessionsLost);
                Volatile.Write(ref mustLogIn, 1);
            });
        }

        public DoId PlayerId { get; }

        public long Moves => Volatile.Read(ref moves);

        public long Drops => Volatile.Read(ref drops);

        public long Resumes => Volatile.Read(ref resumes);

        public long Errors => Volatile.Read(ref errors);

        public long SessionsLost => Volatile.Read(ref sessionsLost);

        public static async Task<SoakBot> JoinAsync(BenchServer server, ModelRegistry registry, AiRepository ai, BenchZone zone, string user, CancellationToken cancellation)
        {
            var client = await PastryClient.ConnectAsync(server.ClientEndPoint.Address.ToString(), server.ClientEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
            try
            {
                await client.CreateAccountAsync(user, Password, cancellation).ConfigureAwait(false);
                var account = await client.LoginAsync(user, Password, cancellation).ConfigureAwait(false);
                var stored = await ai.CreateInDatabaseAsync(new SoakPlayer { DoId = DoId.NewId(), Name = user, Score = 0 }, cancellation).ConfigureAwait(false);
                var mine = client.Of<SoakPlayer>().Created.FirstAsync(p => p.DoId == stored.DoId).ToTask(cancellation);
                await ai.ActivateAsync<SoakPlayer>(stored.DoId, zone.DoId, 1, owner: account, cancellation: cancellation).ConfigureAwait(false);
                await client.AddInterestAsync(zone.DoId, new[] { 1u }, cancellation).ConfigureAwait(false);
                await mine.WaitAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);
                return new SoakBot(client, user, zone.DoId, stored.DoId);
            }
            catch
            {
                await client.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>Walks at <paramref name="hz"/> and drops the connection about every <paramref name="dropEvery"/> seconds, until stopped.</summary>
        public async Task RunAsync(double hz, double dropEvery, CancellationToken stop)
        {
            var period = TimeSpan.FromSeconds(1 / hz);
            double dropChance = period.TotalSeconds / dropEvery;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(period, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                try
                {
                    if (Interlocked.Exchange(ref mustLogIn, 0) == 1)
                    {
                        // The server no longer had the session: log in again with one call, and look at the zone again.
                        await client.LoginAsync(user, Password, stop).ConfigureAwait(false);
                        await client.AddInterestAsync(zone, new[] { 1u }, stop).ConfigureAwait(false);
                        continue;
                    }

                    if (Random.Shared.NextDouble() < dropChance)
                    {
                        client.DropConnectionForTesting();
                        Interlocked.Increment(ref drops);
                        continue;
                    }

                    if (client.TryGet<SoakPlayer>(PlayerId, out var player) && player.State == ObjectState.Live)
                    {
                        player.X = (float)Random.Shared.NextDouble() * 100;
                        Interlocked.Increment(ref moves);
                    }
                    else if (client.Closed.IsCompleted)
                    {
                        Interlocked.Increment(ref errors);
                        return;
                    }
                }
                catch (Exception ex) when (ex is IOException or TimeoutException or InvalidOperationException or ObjectDisabledException or ModelValidationException)
                {
                    if (Interlocked.Increment(ref errors) <= 3)
                    {
                        BenchRunner.Progress($"soak: bot {user}: {ex.GetType().Name}: {ex.Message}");
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        public ValueTask DisposeAsync() => client.DisposeAsync();
    }
}
