using System.Globalization;
using System.Net;

namespace Pastry.Cli.Bench;

/// <summary>
/// <c>pastry bench &lt;scenario&gt; [options]</c>: a load generator over real sockets (ARCHITECTURE 6). The load runs
/// in the bench process; the server is a child <c>pastry serve --role otp</c> it starts, or one given by
/// <c>--target</c>/<c>--md</c>. Every scenario stops by itself and prints a table, or one JSON object with
/// <c>--json</c>. Progress goes to standard error.
/// </summary>
internal static class BenchCommand
{
    /// <summary>The usage text of <c>pastry bench</c>.</summary>
    public const string Usage = """
        usage: pastry bench <scenario> [options] [--json]

        scenarios:
          fanout  an AI updates M objects in one zone as fast as the server drains (or at --rate); N clients with
                  interest in that zone receive every update. Reports deliveries/s, latency percentiles, server
                  memory and CPU.
                    --clients N      clients (default 100)
                    --objects M      objects in the zone (default 100)
                    --rate R         updates per second in total; 0 = as fast as the server drains (default 0)
                    --window W       most updates in flight (sent, not yet received by the average client) (default 1024)
                    --seconds S      measured seconds (default 5)
                    --warmup W       seconds of load before measuring (default 1)
          idle    N logged-in clients with no interest; reports the server's resident memory (RSS) per idle session:
                  as found, and after the server ran a full garbage collection (asked over the Message Director),
                  with the managed heap per session. 20 warm-up sessions connect before the first reading.
                    --clients N      clients (default 1000)
                    --settle S       seconds to wait before each memory reading (default 3)
          objects an AI creates M idle objects (BenchEntity: an int and a long, both set) under one parent, spread
                  over Z zones, with no clients; reports the server's memory per object: RSS as found, RSS after
                  a full garbage collection, and the managed heap. 1000 warm-up objects come before the baseline.
                    --objects M      objects (default 100000)
                    --zones Z        zones of the parent (default 100)
                    --settle S       seconds to wait before each memory reading (default 3)

          relay   N clients (the real client library) share one object; they take turns setting its [ClSend] field
                  and every other client sees the change. Reports latency client set -> other client (p50/p99).
                    --clients N      clients (default 100)
                    --rate R         sets per second in total (default 200)
                    --seconds S      measured seconds (default 5)
                    --warmup W       seconds before measuring (default 1)
          clientmem  one client (the real client library) with M objects in view; reports its managed memory per object.
                    --objects M      objects (default 1000)

          churn   W workers in a loop: connect, create an account, log in, sync an interest of M objects, leave.
                  Reports sessions per second and time from AddInterest to InterestDone.
                    --workers W      concurrent workers (default 16)
                    --objects M      objects in the synced zone (default 20)
                    --seconds S      how long (default 5)
          db      a stream of acknowledged Db field writes to the Database role (SQLite, synchronous=FULL) over the
                  MD link; reports committed writes per second. The child server gets a temporary database.
                    --objects M      records written round-robin (default 100)
                    --window W       writes in flight (default 1024)
                    --seconds S      how long (default 5)

        common options:
          --json                     print one JSON object on standard output instead of a table
          --target HOST:PORT         use a running server's Client Agent instead of starting one; it must have been
          --md HOST:PORT             started with --app <path to pastry.dll> so that it knows the bench models, and
                                     --md names its Message Director (needed for fanout and objects; idle uses it for the GC)
          --pid PID                  the running server's process id, to read its RSS and CPU (needed for idle and objects)
          --Section:Key value        a setting passed to the child server, e.g. --ClientAgent:FlushInterval 00:00:00.005

        The child server is `pastry serve --role otp --app pastry.dll` on OS-assigned ports, with 1000 PBKDF2
        iterations, a 5-minute heartbeat timeout and raised per-session limits; it is killed at the end.
        """;

    private static readonly string[] CommonOptions = { "json", "target", "md", "pid", "clients" };

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? PastryCommandLine.ExitUsage : PastryCommandLine.ExitOk;
        }

        var options = CommandOptions.Parse(args.Skip(1).ToArray());
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            BenchReport report = args[0] switch
            {
                "fanout" => await FanoutScenario.RunAsync(FanoutScenario.Settings.From(options), cancel.Token).ConfigureAwait(false),
                "idle" => await IdleScenario.RunAsync(IdleScenario.Settings.From(options), cancel.Token).ConfigureAwait(false),
                "objects" => await ObjectsScenario.RunAsync(ObjectsScenario.Settings.From(options), cancel.Token).ConfigureAwait(false),
                "relay" => await ClientScenarios.RelayAsync(options, cancel.Token).ConfigureAwait(false),
                "clientmem" => await ClientScenarios.ClientMemoryAsync(options, cancel.Token).ConfigureAwait(false),
                "churn" => await ChurnAndDbScenarios.ChurnAsync(options, cancel.Token).ConfigureAwait(false),
                "db" => await ChurnAndDbScenarios.DbAsync(options, cancel.Token).ConfigureAwait(false),
                _ => throw new UsageException($"Unknown bench scenario '{args[0]}'. Scenarios: fanout, idle, objects, relay, clientmem, churn, db (see pastry bench --help)."),
            };

            Console.Out.Write(options.Has("json") ? report.ToJson() + Environment.NewLine : report.ToTable());
            return PastryCommandLine.ExitOk;
        }
        catch (BenchException ex)
        {
            Console.Error.WriteLine($"pastry bench: {ex.Message}");
            return PastryCommandLine.ExitRuntimeError;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("pastry bench: interrupted");
            return PastryCommandLine.ExitRuntimeError;
        }
        catch (Exception ex) when (ex is not UsageException and not ConfigurationException)
        {
            // A bench that breaks must say where; the child server is killed on the way out.
            Console.Error.WriteLine($"pastry bench {args[0]}: failed: {ex}");
            return PastryCommandLine.ExitRuntimeError;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Writes a progress line to standard error (standard output carries only the report).</summary>
    /// <summary>
    /// Child-server settings for scenarios with many clients: cheap logins, no heartbeat ejects during long setups,
    /// and per-session limits raised above what the load sends.
    /// </summary>
    public static readonly string[] LoadSettings =
    {
        "--Accounts:Pbkdf2Iterations", "1000",
        "--ClientAgent:HeartbeatTimeout", "00:05:00",
        "--ClientAgent:MaxMessagesPerSecond", "100000",
        "--ClientAgent:MaxOutgoingBytes", (16 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Microseconds as milliseconds with three decimals, for reports.</summary>
    public static double Millis(long microseconds) => Math.Round(microseconds / 1000.0, 3);

    public static void Progress(string message) => Console.Error.WriteLine($"bench: {message}");

    /// <summary>The settings passed through to a child server: every <c>--Section:Key value</c> option.</summary>
    public static List<string> ServerOverrides(CommandOptions options)
    {
        var overrides = new List<string>();
        foreach (string name in options.Names.Where(n => n.Contains(':', StringComparison.Ordinal)))
        {
            string value = options.Get(name) ?? throw new UsageException($"--{name} needs a value.");
            overrides.Add("--" + name);
            overrides.Add(value);
        }

        return overrides;
    }

    /// <summary>Checks that only <paramref name="known"/> (plus the common options and server settings) were given.</summary>
    public static void AllowOnly(CommandOptions options, params string[] known) =>
        options.AllowOnly(options.Names.Where(n => n.Contains(':', StringComparison.Ordinal)).Concat(CommonOptions).Concat(known).ToArray());

    /// <summary>An integer option with a default and a lower bound; the error names the option.</summary>
    public static int Int(CommandOptions options, string name, int fallback, int min)
    {
        string? text = options.Get(name);
        if (text is null)
        {
            return options.Has(name) ? throw new UsageException($"--{name} needs a number.") : fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min)
        {
            throw new UsageException($"--{name} must be a whole number of at least {min}; got '{text}'.");
        }

        return value;
    }

    /// <summary>A number option (seconds, rates) with a default and a lower bound; the error names the option.</summary>
    public static double Number(CommandOptions options, string name, double fallback, double min)
    {
        string? text = options.Get(name);
        if (text is null)
        {
            return options.Has(name) ? throw new UsageException($"--{name} needs a number.") : fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < min || double.IsInfinity(value))
        {
            throw new UsageException($"--{name} must be a number of at least {min.ToString(CultureInfo.InvariantCulture)}; got '{text}'.");
        }

        return value;
    }

    /// <summary>Starts the child server, or attaches to <c>--target</c>/<c>--md</c>.</summary>
    public static async Task<BenchServer> StartServerAsync(CommandOptions options, bool needsDirector, IEnumerable<string> childSettings, CancellationToken cancellation)
    {
        int? pid = options.Has("pid") ? Int(options, "pid", 0, 1) : null;
        if (!options.Has("target"))
        {
            if (options.Has("md") || pid is not null)
            {
                throw new UsageException("--md and --pid go with --target (a running server).");
            }

            Progress("starting the server (pastry serve --role otp --app pastry.dll)");
            return await BenchServer.StartChildAsync(childSettings.Concat(ServerOverrides(options)), cancellation).ConfigureAwait(false);
        }

        if (ServerOverrides(options).Count > 0)
        {
            throw new UsageException("Server settings (--Section:Key) apply to the child server only; a --target server keeps its own.");
        }

        var clients = await ParseEndPointAsync(options, "target", cancellation).ConfigureAwait(false);
        var director = options.Has("md") ? await ParseEndPointAsync(options, "md", cancellation).ConfigureAwait(false) : null;
        if (needsDirector && director is null)
        {
            throw new UsageException("--target needs --md HOST:PORT too: the bench AI connects to the Message Director.");
        }

        return BenchServer.Attach(clients, director ?? new IPEndPoint(IPAddress.Loopback, 0), pid);
    }

    /// <summary>
    /// Connects <paramref name="count"/> logged-in clients, at most 50 at a time, each then prepared by
    /// <paramref name="prepare"/>. If any fails, every client made so far is closed and the error is reported.
    /// </summary>
    public static async Task<BenchClient[]> ConnectClientsAsync(BenchServer server, ModelRegistry registry, int count, string prefix, int bufferBytes, Func<BenchClient, CancellationToken, Task>? prepare, CancellationToken cancellation)
    {
        var clients = new BenchClient?[count];
        var started = System.Diagnostics.Stopwatch.StartNew();
        int done = 0;
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 50, CancellationToken = cancellation }, async (i, token) =>
            {
                var client = await BenchClient.LoggedInAsync(server.ClientEndPoint, registry, $"{prefix}-{i}", bufferBytes, token).ConfigureAwait(false);
                clients[i] = client;
                if (prepare is not null)
                {
                    await prepare(client, token).ConfigureAwait(false);
                }

                int connected = Interlocked.Increment(ref done);
                if (connected % 250 == 0 && connected < count)
                {
                    Progress($"{connected} of {count} clients connected");
                }
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
        {
            CloseAll(clients);
            throw new BenchException($"connecting client {done + 1} of {count} failed: {ex.Message}");
        }
        catch
        {
            CloseAll(clients);
            throw;
        }

        Progress($"{count} clients connected and logged in in {started.Elapsed.TotalSeconds:0.0} s");
        return clients.Select(c => c!).ToArray();
    }

    /// <summary>Sends a heartbeat to every client every 5 seconds until <paramref name="cancellation"/>.</summary>
    public static async Task HeartbeatAsync(IReadOnlyList<BenchClient> clients, CancellationToken cancellation)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false))
            {
                foreach (var client in clients)
                {
                    client.SendHeartbeat();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A short random name for one run's accounts, so that runs against one server never collide.</summary>
    public static string NewRunPrefix() => "b" + Random.Shared.Next(0x10000000, int.MaxValue).ToString("x8", CultureInfo.InvariantCulture);

    public static void CloseAll(IEnumerable<BenchClient?> clients)
    {
        foreach (var client in clients)
        {
            client?.Dispose();
        }
    }

    private static async Task<IPEndPoint> ParseEndPointAsync(CommandOptions options, string name, CancellationToken cancellation)
    {
        string text = options.Get(name) ?? throw new UsageException($"--{name} needs HOST:PORT.");
        if (IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port != 0)
        {
            return endpoint;
        }

        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new UsageException($"--{name} must be HOST:PORT; got '{text}'.");
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(text.Substring(0, colon), cancellation).ConfigureAwait(false);
            return new IPEndPoint(addresses.First(), port);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            throw new UsageException($"--{name}: cannot resolve '{text.Substring(0, colon)}': {ex.Message}");
        }
    }
}
