using System.Buffers.Binary;
using System.Diagnostics;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Otp.UberDogs;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench churn</c> (clients connect, log in, sync an interest and leave) and <c>pastry bench db</c> (a
/// stream of acknowledged Db field writes).
/// </summary>
internal static class ChurnAndDbScenarios
{

    /// <summary>
    /// <c>pastry bench churn</c>. The accounts are created in an untimed setup phase (the goal counts logins and
    /// interest syncs, not sign-ups); the timed loop is connect, hello, login, AddInterest, InterestDone, leave.
    /// </summary>
    public static async Task<BenchReport> ChurnAsync(BenchOptions options, CancellationToken cancellation)
    {
        BenchRunner.AllowOnly(options, "objects", "seconds", "workers", "accounts", "warmup", "resume");
        bool resume = options.Has("resume");
        int objects = BenchRunner.Int(options, "objects", 0);
        int workers = BenchRunner.Int(options, "workers", 1);
        double seconds = BenchRunner.Number(options, "seconds", 0.1);
        double warmup = BenchRunner.Number(options, "warmup", 0);
        int accountsPerWorker = Math.Max(1, (BenchRunner.Int(options, "accounts", 1) + workers - 1) / workers);
        var registry = ModelRegistry.FromAssemblies(typeof(BenchRecord).Assembly);
        await using var server = await BenchRunner.StartServerAsync(options, needsDirector: true, BenchRunner.LoadSettings, cancellation).ConfigureAwait(false);
        await using var ai = await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
        var zone = ai.Create(new BenchZone { Name = "churn" }, DoId.Empty, 0);
        for (int i = 0; i < objects; i++)
        {
            ai.Create(new BenchEntity { Value = i }, zone.DoId, 1);
        }

        // Setup, not timed: each worker creates its own accounts on one connection. A worker logs in to its
        // accounts in turn, so no account is ever in two sessions at once.
        string prefix = BenchRunner.NewRunPrefix();
        BenchRunner.Progress($"churn: creating {workers * accountsPerWorker} accounts ({accountsPerWorker} per worker)");
        var setup = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            await using var client = await PastryClient.ConnectAsync(server.ClientEndPoint.Address.ToString(), server.ClientEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
            for (int n = 0; n < accountsPerWorker && !cancellation.IsCancellationRequested; n++)
            {
                await client.CreateAccountAsync(AccountName(prefix, worker, n), Password, cancellation).ConfigureAwait(false);
            }
        })).ConfigureAwait(false);
        // With --resume each worker logs in once (setup) and then resumes that one session in the loop.
        ResumingSession[] resuming = Array.Empty<ResumingSession>();
        if (resume)
        {
            resuming = await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
            {
                var session = new ResumingSession(server.ClientEndPoint, registry);
                await session.LogInAsync(AccountName(prefix, worker, 0), Password, cancellation).ConfigureAwait(false);
                return session;
            })).ConfigureAwait(false);
        }

        double setupSeconds = setup.Elapsed.TotalSeconds;

        // Sessions of the warm-up and the timed run together, for the live view.
        int sessionsSoFar = 0;
        using var sessionFigure = BenchProgress.Current.Counter("sessions", () => Volatile.Read(ref sessionsSoFar));

        // One loop per worker until `end`: connect, hello, login, AddInterest until InterestDone, leave.
        async Task<(int Sessions, int Errors, int Ejects)> RunSessionsAsync(long end, LatencyHistogram[] histograms)
        {
            int sessions = 0, errors = 0, ejects = 0;
            await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
            {
                var histogram = histograms[worker] = new LatencyHistogram();
                for (int n = 0; Stopwatch.GetTimestamp() < end && !cancellation.IsCancellationRequested; n++)
                {
                    if (resume)
                    {
                        try
                        {
                            long began = Stopwatch.GetTimestamp();
                            await resuming[worker].ResumeAndSyncAsync(zone.DoId, 1, cancellation).ConfigureAwait(false);
                            histogram.Record((Stopwatch.GetTimestamp() - began) * 1_000_000 / Stopwatch.Frequency);
                            Interlocked.Increment(ref sessions);
                            Interlocked.Increment(ref sessionsSoFar);
                        }
                        catch (Exception ex) when (ex is BenchException or IOException or OperationCanceledException or System.Net.Sockets.SocketException)
                        {
                            Interlocked.Increment(ref errors);
                            BenchRunner.Progress($"churn --resume: worker {worker}: {ex.Message}");
                            break;
                        }

                        continue;
                    }

                    try
                    {
                        await using var client = await PastryClient.ConnectAsync(server.ClientEndPoint.Address.ToString(), server.ClientEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false);
                        await client.LoginAsync(AccountName(prefix, worker, n % accountsPerWorker), Password, cancellation).ConfigureAwait(false);
                        long asked = Stopwatch.GetTimestamp();
                        await client.AddInterestAsync(zone.DoId, new[] { 1u }, cancellation).ConfigureAwait(false);
                        histogram.Record((Stopwatch.GetTimestamp() - asked) * 1_000_000 / Stopwatch.Frequency);
                        Interlocked.Increment(ref sessions);
                        Interlocked.Increment(ref sessionsSoFar);
                        if (client.Closed.IsCompleted)
                        {
                            Interlocked.Increment(ref ejects);
                        }
                    }
                    catch (Exception ex) when (ex is IOException or TimeoutException or ClientEjectedException or LoginFailedException or System.Net.Sockets.SocketException)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
            })).ConfigureAwait(false);
            return (sessions, errors, ejects);
        }

        // Warm-up, not timed: the first sessions of a fresh process run code the JIT has not optimised yet, and
        // both processes would be measured while they compile.
        if (warmup > 0)
        {
            BenchRunner.Progress($"churn: warming up for {warmup} s");
            await RunSessionsAsync(Stopwatch.GetTimestamp() + (long)(warmup * Stopwatch.Frequency), new LatencyHistogram[workers]).ConfigureAwait(false);
        }

        var sync = new LatencyHistogram[workers];
        int exceptions = 0;
        EventHandler<System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs> countException = (_, _) => Interlocked.Increment(ref exceptions);
        AppDomain.CurrentDomain.FirstChanceException += countException;
        long allocatedStart = GC.GetTotalAllocatedBytes(precise: false);
        var cpuStart = server.ReadCpuTime();
        var benchCpuStart = BenchServer.ReadCpuTime(Environment.ProcessId);
        var start = Stopwatch.GetTimestamp();
        BenchRunner.Progress(resume
            ? $"churn --resume: {workers} workers connect, resume, sync {objects} objects and leave, for {seconds} s"
            : $"churn: {workers} workers connect, log in, sync {objects} objects and leave, for {seconds} s");
        int sessions, errors, ejects;
        try
        {
            (sessions, errors, ejects) = await RunSessionsAsync(start + (long)(seconds * Stopwatch.Frequency), sync).ConfigureAwait(false);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= countException;
        }

        double elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        foreach (var session in resuming)
        {
            session.Dispose();
        }

        var cpuEnd = server.ReadCpuTime();
        var benchCpuEnd = BenchServer.ReadCpuTime(Environment.ProcessId);
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedStart;
        var latency = new LatencyHistogram();
        foreach (var histogram in sync)
        {
            latency.Add(histogram);
        }

        // What one login's password check costs here, at the child's iterations and at the production default:
        // the default is a deliberate bound on logins per core that no other optimisation removes.
        int? iterations = server.IsChild ? ChildIterations(options) : null;
        int measuredIterations = iterations ?? BenchRunner.LoadPbkdf2Iterations;
        double hashMsBench = HashMilliseconds(measuredIterations);
        double hashMsDefault = HashMilliseconds(PasswordHasher.DefaultIterations);
        return new BenchReport("churn")
            .Add("clients", "concurrent workers", workers)
            .Add("objects", "objects per interest", objects)
            .Add("accounts", "accounts (created before the timed run)", workers * accountsPerWorker)
            .Add("setup_seconds", "account creation (not timed)", Math.Round(setupSeconds, 2), "s")
            .Add("warmup_seconds", "warm-up (not timed)", warmup, "s")
            .Add("seconds", "measured", Math.Round(elapsed, 2), "s")
            .Add("resume", "resumed sessions (--resume) instead of password logins", resume)
            .Add("sessions", resume ? "sessions (connect, resume, sync, leave)" : "sessions (connect, login, sync, leave)", sessions)
            .Add("sessions_per_sec", "sessions per second", sessions / elapsed)
            .Add("resume_snapshots", "resumes answered with a fresh snapshot instead of a replay", resume ? resuming.Sum(r => r.Snapshots) : null)
            .AddLatency("latency_ms", resume ? "connect -> resumed -> InterestDone -> every Leave" : "AddInterest -> InterestDone", latency)
            .Add("server_rss_mb", "server RSS", server.ReadRssBytes() is long bytes ? Math.Round(bytes / 1048576.0, 1) : null, "MB")
            .Add("server_cpu_percent", "server CPU (100 = one core)", cpuEnd is TimeSpan e && cpuStart is TimeSpan s ? Math.Round((e - s).TotalSeconds * 100 / elapsed, 1) : null, "%")
            .Add("server_cpu_ms_per_session", "server CPU per session", PerSession(cpuStart, cpuEnd, sessions), "ms")
            .Add("bench_cpu_ms_per_session", "bench (client side) CPU per session", PerSession(benchCpuStart, benchCpuEnd, sessions), "ms")
            .Add("bench_kib_allocated_per_session", "bench (client side) managed allocations per session", sessions > 0 ? Math.Round(allocated / 1024.0 / sessions, 1) : null, "KiB")
            .Add("bench_exceptions_per_session", "bench (client side) exceptions thrown per session", sessions > 0 ? Math.Round((double)exceptions / sessions, 2) : null)
            .Add("pbkdf2_iterations", "PBKDF2 iterations of the child server", iterations)
            .Add("login_hash_ms", $"one PBKDF2 login check here at {measuredIterations:N0} iterations", hashMsBench, "ms")
            .Add("login_hash_ms_default", $"the same at the default {PasswordHasher.DefaultIterations:N0} iterations", hashMsDefault, "ms")
            .Add("errors", "errors", errors)
            .Add("ejects", "ejects and disconnects", ejects);
    }

    /// <summary><c>pastry bench db</c>.</summary>
    public static async Task<BenchReport> DbAsync(BenchOptions options, CancellationToken cancellation)
    {
        BenchRunner.AllowOnly(options, "objects", "seconds", "window", "queries", "postgres");
        string? postgres = options.Get("postgres");
        bool queries = options.Has("queries");
        int objects = BenchRunner.Int(options, "objects", 1);
        int window = BenchRunner.Int(options, "window", 1);
        double seconds = BenchRunner.Number(options, "seconds", 0.1);
        var registry = ModelRegistry.FromAssemblies(typeof(BenchRecord).Assembly);
        string directory = Directory.CreateTempSubdirectory("pastry-bench-db").FullName;
        await using var schema = postgres is null ? null : await BenchSchema.CreateAsync(postgres, cancellation).ConfigureAwait(false);
        try
        {
            var database = schema is null
                ? new[] { "--Database:Path", Path.Combine(directory, "bench.db") }
                : new[] { "--Database:Provider", "postgres", "--Database:ConnectionString", schema.ConnectionString };
            var settings = BenchRunner.LoadSettings.Concat(database).Concat(new[] { "--Database:AutoMigrate", "true" });
            await using var server = await BenchRunner.StartServerAsync(options, needsDirector: true, settings, cancellation).ConfigureAwait(false);
            await using var link = await RemoteMessageRouter.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, server.Credentials, cancellation).ConfigureAwait(false);
            var writer = new AckCounter(DoId.NewId());
            link.Subscribe(writer, writer.Channel);
            var model = registry.GetModel<BenchRecord>();
            var counter = model.GetField(nameof(BenchRecord.Counter));
            var records = new BenchRecord[objects];
            for (int i = 0; i < objects; i++)
            {
                records[i] = new BenchRecord { Counter = 0, Label = $"record {i}" };
                link.Publish(DatabaseMessages.CreateObject(writer.Next(), records[i], writer.Channel), Channel.Database);
            }

            await writer.WaitForAllAsync(TimeSpan.FromSeconds(60), cancellation).ConfigureAwait(false);
            BenchRunner.Progress($"db: {objects} records stored; streaming acknowledged writes with {window} in flight for {seconds} s{(queries ? ", beside two AIs' query loops (a unique-label lookup; the top 10 by the indexed counter)" : string.Empty)}");
            using var ackFigure = BenchProgress.Current.Counter("committed writes", () => writer.Acked);
            long writes = 0;
            long ackedBefore = writer.Acked;
            var start = Stopwatch.GetTimestamp();
            long end = start + (long)(seconds * Stopwatch.Frequency);
            var lookups = new LatencyHistogram();
            var tops = new LatencyHistogram();
            await using var lookupAi = queries ? await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false) : null;
            await using var topAi = queries ? await AiRepository.ConnectAsync(server.DirectorEndPoint.Address.ToString(), server.DirectorEndPoint.Port, registry, cancellation: cancellation).ConfigureAwait(false) : null;
            using var queryFigure = queries ? BenchProgress.Current.Counter("queries", () => lookups.Count + tops.Count) : null;
            var lookupLoop = lookupAi is null ? Task.CompletedTask : Task.Run(() => QueryLoopAsync(lookups, end, async n =>
            {
                string label = $"record {n % objects}";
                _ = await lookupAi.Query<BenchRecord>().Where(r => r.Label == label).FirstOrDefaultAsync(cancellation).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"bench db: the lookup of '{label}' found nothing");
            }), cancellation);
            var topLoop = topAi is null ? Task.CompletedTask : Task.Run(() => QueryLoopAsync(tops, end, async _ =>
                await topAi.Query<BenchRecord>().OrderByDescending(r => r.Counter).Take(10).ToListAsync(cancellation).ConfigureAwait(false)), cancellation);
            while (Stopwatch.GetTimestamp() < end && !cancellation.IsCancellationRequested)
            {
                if (writes - (writer.Acked - ackedBefore) >= window)
                {
                    await writer.WaitForProgressAsync(cancellation).ConfigureAwait(false);
                    continue;
                }

                var record = records[writes % objects];
                link.Publish(DatabaseMessages.SetFields(writer.Next(), model, record.DoId, writer.Channel, (counter, (object?)writes)), Channel.Database);
                writes++;
            }

            await writer.WaitForAllAsync(TimeSpan.FromSeconds(60), cancellation).ConfigureAwait(false);
            double elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
            await Task.WhenAll(lookupLoop, topLoop).ConfigureAwait(false);
            long committed = writer.Acked - ackedBefore;
            var report = new BenchReport("db")
                .Add("database", "database", schema is null ? "SQLite" : "PostgreSQL")
                .Add("objects", "records", objects)
                .Add("window", "writes in flight", window)
                .Add("seconds", "measured (until the last ack)", Math.Round(elapsed, 2), "s")
                .Add("sets_per_sec", "writes sent per second", writes / elapsed)
                .Add("committed_writes_per_sec", "committed (acknowledged) Db field writes per second", committed / elapsed);
            if (queries)
            {
                report = report
                    .Add("lookups_per_sec", "unique-label lookups per second (one in flight)", lookups.Count / elapsed)
                    .AddLatency("lookup_ms", "lookup by the unique label, round trip", lookups)
                    .Add("top10_per_sec", "top-10-by-counter queries per second (one in flight)", tops.Count / elapsed)
                    .AddLatency("top10_ms", "top 10 by the indexed counter, round trip", tops);
            }

            return report
                .Add("server_rss_mb", "server RSS", server.ReadRssBytes() is long bytes ? Math.Round(bytes / 1048576.0, 1) : null, "MB")
                .Add("errors", "errors (refused writes)", writer.Failures)
                .Add("ejects", "ejects and disconnects", 0);
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }


    /// <summary>Runs <paramref name="query"/> one at a time until <paramref name="end"/>, recording each round trip.</summary>
    private static async Task QueryLoopAsync(LatencyHistogram latency, long end, Func<long, Task> query)
    {
        for (long n = 0; Stopwatch.GetTimestamp() < end; n++)
        {
            long started = Stopwatch.GetTimestamp();
            await query(n).ConfigureAwait(false);
            latency.Record((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        }
    }

    private const string Password = "bench password";

    private static string AccountName(string prefix, int worker, int n) => $"{prefix}c{worker}n{n}";

    private static double? PerSession(TimeSpan? before, TimeSpan? after, int sessions) =>
        before is TimeSpan b && after is TimeSpan a && sessions > 0 ? Math.Round((a - b).TotalMilliseconds / sessions, 3) : null;

    /// <summary>The child server's PBKDF2 iterations: a <c>--Accounts:Pbkdf2Iterations</c> override, else the bench's.</summary>
    private static int ChildIterations(BenchOptions options)
    {
        foreach (string name in options.Names)
        {
            if (string.Equals(name, "Accounts:Pbkdf2Iterations", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(options.Get(name), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int iterations))
            {
                return iterations;
            }
        }

        return BenchRunner.LoadPbkdf2Iterations;
    }

    /// <summary>Milliseconds of one <see cref="PasswordHasher.Verify"/> at <paramref name="iterations"/> (best of three).</summary>
    private static double HashMilliseconds(int iterations)
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash(Password, salt, iterations);
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long started = Stopwatch.GetTimestamp();
            _ = PasswordHasher.Verify(Password, salt, hash, iterations);
            best = Math.Min(best, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return Math.Round(best, 3);
    }

    /// <summary>Counts the Database role's acknowledgements of this writer's requests.</summary>
    private sealed class AckCounter(DoId id) : IParticipant
    {
        private long sent;
        private long acked;
        private int failures;
        private TaskCompletionSource progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Channel Channel { get; } = Channel.ForParticipant(id);

        public string Name => "bench-db-writer";

        public long Acked => Interlocked.Read(ref acked);

        public int Failures => Volatile.Read(ref failures);

        public uint Next() => (uint)Interlocked.Increment(ref sent);

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (envelope.Type is not (InternalMessageType.DbSetFieldsAck or InternalMessageType.DbCreateObjectResp) || envelope.Payload.Length < 5)
            {
                return;
            }

            if (envelope.Payload.Span[4] != (byte)DatabaseStatus.Ok)
            {
                Interlocked.Increment(ref failures);
            }

            Interlocked.Increment(ref acked);
            Interlocked.Exchange(ref progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            _ = BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        }

        public Task WaitForProgressAsync(CancellationToken cancellation) => Volatile.Read(ref progress).Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation);

        public async Task WaitForAllAsync(TimeSpan timeout, CancellationToken cancellation)
        {
            long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            while (Acked < Interlocked.Read(ref sent))
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new BenchException($"the Database role acknowledged {Acked} of {Interlocked.Read(ref sent)} requests within {timeout.TotalSeconds:0} s");
                }

                try
                {
                    await WaitForProgressAsync(cancellation).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
            }
        }
    }

    /// <summary>
    /// A fresh schema on the PostgreSQL server of <c>bench db --postgres</c>, so each run starts empty (the bench's unique
    /// labels would collide with an earlier run's rows) and leaves nothing behind: it is dropped when the run ends.
    /// </summary>
    private sealed class BenchSchema : IAsyncDisposable
    {
        private readonly string adminConnectionString;
        private readonly string name;

        private BenchSchema(string adminConnectionString, string name, string connectionString)
        {
            this.adminConnectionString = adminConnectionString;
            this.name = name;
            ConnectionString = connectionString;
        }

        /// <summary>The connection string of the child server: the given one, with the fresh schema as its search path.</summary>
        public string ConnectionString { get; }

        public static async Task<BenchSchema> CreateAsync(string connectionString, CancellationToken cancellation)
        {
            string name = "pastry_bench_" + BenchRunner.NewRunPrefix();
            using (var connection = Pastry.Otp.Database.DatabaseConnections.OpenPostgres(connectionString))
            using (var command = connection.CreateCommand())
            {
                command.CommandText = $"CREATE SCHEMA {name}";
                await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
            }

            var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { SearchPath = name };
            return new BenchSchema(connectionString, name, builder.ConnectionString);
        }

        public async ValueTask DisposeAsync()
        {
            using var connection = Pastry.Otp.Database.DatabaseConnections.OpenPostgres(adminConnectionString);
            using var command = connection.CreateCommand();
            command.CommandText = $"DROP SCHEMA IF EXISTS {name} CASCADE";
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }
}
