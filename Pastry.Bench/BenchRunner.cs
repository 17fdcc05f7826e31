using System.Globalization;
using System.Net;

namespace Pastry.Bench;

/// <summary>
/// Runs one scenario of <c>pastry bench &lt;scenario&gt; [options]</c>, the load generator over real sockets
/// (ARCHITECTURE 6), and holds what the scenarios share (option readers, the server, connecting clients). The load runs
/// in the bench process; the server is a child <c>pastry serve --role otp</c> it starts, or one given by
/// <c>--target</c>/<c>--md</c>. Every scenario stops by itself and prints a table, or one JSON object with
/// <c>--json</c>. Progress goes to standard error. The command line (Pastry.Cli's <c>BenchCommand</c>) parses the
/// options and calls <see cref="RunAsync"/>; this project knows nothing of the parser or of exit codes.
/// </summary>
internal static class BenchRunner
{
    private static readonly string[] CommonOptions = { "json", "target", "md", "pid", "clients", "sweep", "live", "plain" };

    /// <summary>
    /// Runs the scenario <paramref name="name"/> (one of <see cref="BenchScenarios.Scenarios"/>) with the options the
    /// command line gave it, and prints its report on standard output. Returns false when the run failed (the reason is
    /// printed on standard error); a wrong option throws <see cref="BenchUsageException"/> instead.
    /// </summary>
    public static async Task<bool> RunAsync(string name, BenchOptions options)
    {
        if (options.Has("live") && options.Has("plain"))
        {
            throw new BenchUsageException("--live and --plain exclude each other.");
        }

        bool live = options.Has("live") || (!options.Has("plain") && !Console.IsErrorRedirected);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        var progress = BenchProgress.Start(name, live);
        try
        {
            var scenario = Scenario(name);
            if (options.Has("sweep"))
            {
                var sweep = await BenchSweep.RunAsync(name, scenario, options, cancel.Token).ConfigureAwait(false);
                await progress.DisposeAsync().ConfigureAwait(false);
                WriteResult(options, live, sweep.ToJson, sweep.ToTable, sweep.ToSpectreTable);
            }
            else
            {
                var report = await scenario(options, cancel.Token).ConfigureAwait(false);
                await progress.DisposeAsync().ConfigureAwait(false);
                WriteResult(options, live, report.ToJson, report.ToTable, report.ToSpectreTable);
            }

            return true;
        }
        catch (BenchException ex)
        {
            return await FailAsync($"pastry bench: {ex.Message}").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return await FailAsync("pastry bench: interrupted").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not BenchUsageException)
        {
            // A bench that breaks must say where; the child server is killed on the way out.
            return await FailAsync($"pastry bench {name}: failed: {ex}").ConfigureAwait(false);
        }
        finally
        {
            await progress.DisposeAsync().ConfigureAwait(false);
            Console.CancelKeyPress -= onCancel;
        }

        // The live view stops drawing before the error is printed, so that the message is not drawn over.
        async Task<bool> FailAsync(string message)
        {
            await progress.DisposeAsync().ConfigureAwait(false);
            Console.Error.WriteLine(message);
            return false;
        }
    }

    /// <summary>The scenario named <paramref name="name"/>, as a function from options to its report.</summary>
    private static Func<BenchOptions, CancellationToken, Task<BenchReport>> Scenario(string name) => name switch
    {
        "fanout" => (options, cancellation) => FanoutScenario.RunAsync(FanoutScenario.Settings.From(options), cancellation),
        "grid" => (options, cancellation) => GridScenario.RunAsync(GridScenario.Settings.From(options), cancellation),
        "idle" => (options, cancellation) => IdleScenario.RunAsync(IdleScenario.Settings.From(options), cancellation),
        "objects" => (options, cancellation) => ObjectsScenario.RunAsync(ObjectsScenario.Settings.From(options), cancellation),
        "relay" => ClientScenarios.RelayAsync,
        "clientmem" => ClientScenarios.ClientMemoryAsync,
        "churn" => ChurnAndDbScenarios.ChurnAsync,
        "db" => ChurnAndDbScenarios.DbAsync,
        "soak" => SoakScenario.RunAsync,
        _ => throw new BenchUsageException($"Unknown bench scenario '{name}'. Scenarios: fanout, grid, idle, objects, relay, clientmem, churn, db, soak (see pastry bench --help)."),
    };

    /// <summary>
    /// Prints the result on standard output: JSON with <c>--json</c>, a Spectre.Console table after a live view, and the
    /// plain two-column text otherwise (logs and pipes).
    /// </summary>
    private static void WriteResult(BenchOptions options, bool live, Func<string> json, Func<string> text, Func<Spectre.Console.Rendering.IRenderable> table)
    {
        if (options.Has("json"))
        {
            Console.Out.Write(json() + Environment.NewLine);
        }
        else if (live)
        {
            BenchProgress.CreateConsole(Console.Out).Write(table());
        }
        else
        {
            Console.Out.Write(text());
        }
    }

    /// <summary>
    /// Child-server settings for scenarios with many clients: cheap logins, no heartbeat ejects during long setups,
    /// and per-session limits raised above what the load sends.
    /// </summary>
    public static readonly string[] LoadSettings =
    {
        "--Accounts:Pbkdf2Iterations", LoadPbkdf2Iterations.ToString(CultureInfo.InvariantCulture),
        "--ClientAgent:HeartbeatTimeout", "00:05:00",
        "--ClientAgent:MaxMessagesPerSecond", "100000",

        // A resumed session keeps its interest-change budget (churn --resume changes interests twice per round).
        "--ClientAgent:MaxInterestChangesPerSecond", "100000",
        "--ClientAgent:MaxOutgoingBytes", (16 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>PBKDF2 iterations of the child server: a hundredth of the default, so that logins do not dominate.</summary>
    public const int LoadPbkdf2Iterations = 1000;

    /// <summary>Microseconds as milliseconds with three decimals, for reports.</summary>
    public static double Millis(long microseconds) => Math.Round(microseconds / 1000.0, 3);

    /// <summary>Reports a phase of the run on the progress view (standard error; standard output carries only the report).</summary>
    public static void Progress(string message) => BenchProgress.Current.Phase(message);

    /// <summary>The settings passed through to a child server: every <c>--Section:Key value</c> option.</summary>
    public static List<string> ServerOverrides(BenchOptions options)
    {
        var overrides = new List<string>();
        foreach (string name in options.Names.Where(n => n.Contains(':', StringComparison.Ordinal)))
        {
            string value = options.Get(name) ?? throw new BenchUsageException($"--{name} needs a value.");
            overrides.Add("--" + name);
            overrides.Add(value);
        }

        return overrides;
    }

    /// <summary>Checks that only <paramref name="known"/> (plus the common options and server settings) were given.</summary>
    public static void AllowOnly(BenchOptions options, params string[] known) =>
        options.AllowOnly(options.Names.Where(n => n.Contains(':', StringComparison.Ordinal)).Concat(CommonOptions).Concat(known).ToArray());

    /// <summary>An integer option with its scenario's declared default and a lower bound; the error names the option.</summary>
    public static int Int(BenchOptions options, string name, int min) =>
        Int(options, name, int.Parse(BenchScenarios.DefaultOf(options.Scenario, name), NumberStyles.Integer, CultureInfo.InvariantCulture), min);

    /// <summary>A number option with its scenario's declared default and a lower bound; the error names the option.</summary>
    public static double Number(BenchOptions options, string name, double min) =>
        Number(options, name, double.Parse(BenchScenarios.DefaultOf(options.Scenario, name), NumberStyles.Float, CultureInfo.InvariantCulture), min);

    /// <summary>An integer option with a default computed by the scenario (one no table can hold) and a lower bound; the error names the option.</summary>
    public static int Int(BenchOptions options, string name, int fallback, int min)
    {
        string? text = options.Get(name);
        if (text is null)
        {
            return options.Has(name) ? throw new BenchUsageException($"--{name} needs a number.") : fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min)
        {
            throw new BenchUsageException($"--{name} must be a whole number of at least {min}; got '{text}'.");
        }

        return value;
    }

    /// <summary>A number option (seconds, rates) with a given default and a lower bound; the error names the option.</summary>
    public static double Number(BenchOptions options, string name, double fallback, double min)
    {
        string? text = options.Get(name);
        if (text is null)
        {
            return options.Has(name) ? throw new BenchUsageException($"--{name} needs a number.") : fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < min || double.IsInfinity(value))
        {
            throw new BenchUsageException($"--{name} must be a number of at least {min.ToString(CultureInfo.InvariantCulture)}; got '{text}'.");
        }

        return value;
    }

    /// <summary>Starts the child server, or attaches to <c>--target</c>/<c>--md</c>.</summary>
    public static async Task<BenchServer> StartServerAsync(BenchOptions options, bool needsDirector, IEnumerable<string> childSettings, CancellationToken cancellation)
    {
        int? pid = options.Has("pid") ? Int(options, "pid", 0, 1) : null;
        if (!options.Has("target"))
        {
            if (options.Has("md") || pid is not null)
            {
                throw new BenchUsageException("--md and --pid go with --target (a running server).");
            }

            Progress("starting the server (pastry serve --role otp --app Pastry.Bench.dll)");
            string program = options.PastryProgram ?? throw new InvalidOperationException("BenchOptions.PastryProgram is not set: the command line must name the pastry program that serves the child server.");
            var child = await BenchServer.StartChildAsync(program, childSettings.Concat(TransportSettings(options)).Concat(ServerOverrides(options)), cancellation).ConfigureAwait(false);
            child.ShowOn(BenchProgress.Current);
            return child;
        }

        if (ServerOverrides(options).Count > 0)
        {
            throw new BenchUsageException("Server settings (--Section:Key) apply to the child server only; a --target server keeps its own.");
        }

        if (TransportSettings(options).Length > 0)
        {
            throw new BenchUsageException("--transport ws runs the clients over the child server's WebSocket transport; with --target, the clients use its TCP port.");
        }

        var clients = await ParseEndPointAsync(options, "target", cancellation).ConfigureAwait(false);
        var director = options.Has("md") ? await ParseEndPointAsync(options, "md", cancellation).ConfigureAwait(false) : null;
        if (needsDirector && director is null)
        {
            throw new BenchUsageException("--target needs --md HOST:PORT too: the bench AI connects to the Message Director.");
        }

        var target = BenchServer.Attach(clients, director ?? new IPEndPoint(IPAddress.Loopback, 0), pid);
        target.ShowOn(BenchProgress.Current);
        return target;
    }

    /// <summary>
    /// The child-server settings of <c>--transport</c>: none for <c>tcp</c> (the default); for <c>ws</c>, the Client
    /// Agent's WebSocket transport on a port the OS chooses, which the bench's clients then connect to.
    /// </summary>
    public static string[] TransportSettings(BenchOptions options) => (options.Get("transport") ?? "tcp") switch
    {
        "tcp" => Array.Empty<string>(),
        "ws" => new[] { "--ClientAgent:WebSocket:Enabled", "true", "--ClientAgent:WebSocket:Port", "0", "--ClientAgent:WebSocket:Host", "127.0.0.1" },
        var other => throw new BenchUsageException($"--transport must be tcp or ws; got '{other}'."),
    };

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
                var client = await BenchClient.LoggedInAsync(server, registry, $"{prefix}-{i}", bufferBytes, token).ConfigureAwait(false);
                clients[i] = client;
                if (prepare is not null)
                {
                    await prepare(client, token).ConfigureAwait(false);
                }

                int connected = Interlocked.Increment(ref done);
                BenchProgress.Current.Step("clients connected and logged in", connected, count);
                if (connected % 250 == 0 && connected < count && !BenchProgress.Current.IsLive)
                {
                    Progress($"{connected} of {count} clients connected");
                }
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or System.Net.WebSockets.WebSocketException)
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

    private static async Task<IPEndPoint> ParseEndPointAsync(BenchOptions options, string name, CancellationToken cancellation)
    {
        string text = options.Get(name) ?? throw new BenchUsageException($"--{name} needs HOST:PORT.");
        if (IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port != 0)
        {
            return endpoint;
        }

        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new BenchUsageException($"--{name} must be HOST:PORT; got '{text}'.");
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(text.Substring(0, colon), cancellation).ConfigureAwait(false);
            return new IPEndPoint(addresses.First(), port);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            throw new BenchUsageException($"--{name}: cannot resolve '{text.Substring(0, colon)}': {ex.Message}");
        }
    }
}
