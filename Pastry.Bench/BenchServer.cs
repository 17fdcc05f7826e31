using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Pastry.Bench;

/// <summary>
/// The server a bench runs against: either a child <c>pastry serve --role otp --app Pastry.Bench.dll</c> that the bench
/// starts on OS-assigned ports and kills at the end, or a running server given by <c>--target</c> and <c>--md</c>
/// (its memory and CPU are read only when <c>--pid</c> names its process).
/// </summary>
internal sealed partial class BenchServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process? child;
    private readonly object gate = new();
    private readonly Queue<string> lastLines = new();
    private readonly TaskCompletionSource<IPEndPoint> clientEndPoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<IPEndPoint> directorEndPoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Uri> webSocketUrl = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource backplaneConnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<IDisposable> figures = new();
    private int warnings;

    private BenchServer(Process? child, int? pid)
    {
        this.child = child;
        ProcessId = pid;
    }

    /// <summary>Shows the server's CPU (100 = one core, since the previous refresh) and RSS on the progress view while it runs.</summary>
    public void ShowOn(BenchProgress progress)
    {
        if (ProcessId is null)
        {
            return;
        }

        long lastCpuTicks = 0, lastTimestamp = 0;
        figures.Add(progress.Gauge("server CPU %", () =>
        {
            if (ReadCpuTime() is not TimeSpan cpu)
            {
                return null;
            }

            long now = Stopwatch.GetTimestamp();
            string? percent = lastTimestamp == 0 ? null : ((cpu.Ticks - lastCpuTicks) / (double)TimeSpan.TicksPerSecond * 100 / ((now - lastTimestamp) / (double)Stopwatch.Frequency)).ToString("0", CultureInfo.InvariantCulture);
            lastCpuTicks = cpu.Ticks;
            lastTimestamp = now;
            return percent;
        }));
        figures.Add(progress.Gauge("server RSS MB", () => ReadRssBytes() is long bytes ? (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) : null));
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint ClientEndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>The Client Agent's WebSocket URL when the bench runs its clients over WebSocket (<c>--transport ws</c>); null over TCP.</summary>
    public Uri? WebSocketUrl { get; private set; }

    /// <summary>Where the AI connects.</summary>
    public IPEndPoint DirectorEndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>How the bench's own links prove themselves: privileged on a child server it started, none on a --target server.</summary>
    public Pastry.Ai.MessageDirectorCredentials Credentials { get; private init; } = Pastry.Ai.MessageDirectorCredentials.None;

    /// <summary>
    /// The NATS backplane of a child given <c>--MessageDirector:Backplane nats</c> (with its <c>--Nats:Url</c> and
    /// <c>--Nats:SubjectPrefix</c>), which the bench AI then joins instead of the MD's TCP link; null otherwise.
    /// </summary>
    public Pastry.Nats.NatsBackplaneOptions? Backplane { get; private init; }

    /// <summary>The server's process id, when known (always for a child).</summary>
    public int? ProcessId { get; }

    /// <summary>Whether the bench started the server itself.</summary>
    public bool IsChild => child is not null;

    /// <summary>Warning and error lines the child logged (slow-consumer drops, refusals); 0 for a target server.</summary>
    public int Warnings => Volatile.Read(ref warnings);

    /// <summary>
    /// The per-address limits of a child, lifted: every bench client connects from 127.0.0.1, which the defaults would
    /// treat as one household (64 connections, 20 new per second). A <c>--target</c> server needs the same settings.
    /// </summary>
    private static readonly string[] LoopbackLoad =
    {
        "--ClientAgent:MaxConnectionsPerAddress", "1000000", "--ClientAgent:MaxNewConnectionsPerSecondPerAddress", "1000000",
        "--ClientAgent:LoginTimeout", "00:10:00",

        // The admin endpoint on a port the OS chooses: the fixed 7197 may be held by another server on the machine,
        // and the child's "could not bind" error would count as a server warning of the run.
        "--Admin:Port", "0",
    };

    /// <summary>
    /// Starts a child <c>pastry serve</c> (the program <paramref name="pastryDll"/>) with the bench models (this
    /// assembly, as its <c>--app</c>) and <paramref name="settings"/> (<c>--Section:Key value</c> pairs), and waits for
    /// its two listening lines. The child logs at Info because those lines are Info; the bench reads its output and
    /// keeps only the last lines (for errors) and a count of warnings.
    /// </summary>
    public static async Task<BenchServer> StartChildAsync(string pastryDll, IEnumerable<string> settings, CancellationToken cancellation)
    {
        string models = typeof(BenchServer).Assembly.Location;
        string host = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(pastryDll)!,
        };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            info.FileName = host;
            info.ArgumentList.Add(pastryDll);
        }
        else
        {
            // Started through the apphost (./pastry): start the child the same way.
            info.FileName = host;
        }

        // No admin endpoint: the bench's own child server must not take (or fail on) the port of a real server on the
        // same machine, and an admin bind error would count as a server warning in the report.
        foreach (string argument in new[] { "serve", "--role", "otp", "--app", models, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Logging:Level", "Info", "--Database:Path", string.Empty, "--Admin:Enabled", "false" }.Concat(LoopbackLoad).Concat(settings))
        {
            info.ArgumentList.Add(argument);
        }

        // The bench's own links (bench db writes stored rows that are not live) are privileged on the child it starts:
        // a random PrivilegedSecret, passed in the environment so that it is not on the command line.
        string privileged = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        info.Environment["PASTRY_MessageDirector__PrivilegedSecret"] = privileged;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.Start();
        var server = new BenchServer(process, process.Id) { Credentials = new Pastry.Ai.MessageDirectorCredentials(privileged, Privileged: true), Backplane = BackplaneOf(info.ArgumentList) };
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            // Exited can come before the last lines of output do (seen under load: the child's one-line configuration
            // error was missing from the report). WaitForExit() without a timeout also waits for both redirected
            // streams to reach their end, which they do now that the process is gone.
            try
            {
                process.WaitForExit();
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                // DisposeAsync stopped and released the child meanwhile: the bench is ending, nobody reads this reason.
            }

            var exited = new BenchException($"the server exited early with code {SafeExitCode(process)}. Its last lines:{Environment.NewLine}{server.LastLines()}");
            server.clientEndPoint.TrySetException(exited);
            server.directorEndPoint.TrySetException(exited);
            server.webSocketUrl.TrySetException(exited);
            server.backplaneConnected.TrySetException(exited);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        ChildProcesses.Track(process);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(StartTimeout);
            server.ClientEndPoint = await server.clientEndPoint.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            server.DirectorEndPoint = await server.directorEndPoint.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            if (WebSocketEnabled(info.ArgumentList))
            {
                server.WebSocketUrl = await server.webSocketUrl.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            if (server.Backplane is not null)
            {
                // The roles subscribe their subjects once the backplane is up; the bench AI's creates must not go before.
                await server.backplaneConnected.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }

            return server;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new BenchException($"the server did not print its listening lines within {StartTimeout.TotalSeconds:0} s. Its last lines:{Environment.NewLine}{server.LastLines()}");
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The NATS settings among a child's <c>--Section:Key value</c> arguments, when they select that backplane.</summary>
    private static Pastry.Nats.NatsBackplaneOptions? BackplaneOf(IList<string> arguments)
    {
        string? Value(string key)
        {
            string? found = null;
            for (int i = 0; i + 1 < arguments.Count; i++)
            {
                if (string.Equals(arguments[i], "--" + key, StringComparison.OrdinalIgnoreCase))
                {
                    found = arguments[i + 1];
                }
            }

            return found;
        }

        if (!string.Equals(Value("MessageDirector:Backplane"), "nats", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var options = new Pastry.Nats.NatsBackplaneOptions();
        options.Url = Value("Nats:Url") ?? options.Url;
        options.SubjectPrefix = Value("Nats:SubjectPrefix") ?? options.SubjectPrefix;
        return options;
    }

    /// <summary>A server that is already running.</summary>
    public static BenchServer Attach(IPEndPoint clients, IPEndPoint director, int? pid) =>
        new(null, pid) { ClientEndPoint = clients, DirectorEndPoint = director };

    /// <summary>Resident memory of the server in bytes (VmRSS), or null when unknown.</summary>
    public long? ReadRssBytes()
    {
        if (ProcessId is not int pid)
        {
            return null;
        }

        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>CPU time the server has used (user + system), or null when unknown.</summary>
    public TimeSpan? ReadCpuTime() => ProcessId is int pid ? ReadCpuTime(pid) : null;

    /// <summary>CPU time of process <paramref name="pid"/> from <c>/proc/pid/stat</c> (utime + stime), or null.</summary>
    public static TimeSpan? ReadCpuTime(int pid)
    {
        // Linux reports utime and stime in clock ticks of USER_HZ, which is 100 on every architecture .NET runs on.
        const double TicksPerSecond = 100.0;
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
            long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Throws when the child server has died (a bench must not report numbers from a dead server).</summary>
    public void EnsureAlive()
    {
        if (child is not null && child.HasExited)
        {
            throw new BenchException($"the server exited with code {SafeExitCode(child)} during the run. Its last lines:{Environment.NewLine}{LastLines()}");
        }
    }

    /// <summary>Kills the child server (if the bench started one).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var figure in figures)
        {
            figure.Dispose();
        }

        figures.Clear();
        if (child is null)
        {
            return;
        }

        try
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await child.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"bench: could not stop the server process {child.Id}: {ex.Message}");
        }
        finally
        {
            ChildProcesses.Untrack(child);
            child.Dispose();
        }
    }

    /// <summary>The last lines the child printed.</summary>
    public string LastLines()
    {
        lock (gate)
        {
            return string.Join(Environment.NewLine, lastLines);
        }
    }

    [GeneratedRegex(@"(Client Agent|Message Director) listening on (\S+:\d+)")]
    private static partial Regex ListeningPattern();

    [GeneratedRegex(@"Client Agent WebSocket transport listening on (\S+)")]
    private static partial Regex WebSocketListeningPattern();

    /// <summary>Whether a child's <c>--Section:Key value</c> arguments turn the WebSocket transport on (the last value counts).</summary>
    private static bool WebSocketEnabled(IList<string> arguments)
    {
        bool enabled = false;
        for (int i = 0; i + 1 < arguments.Count; i++)
        {
            if (string.Equals(arguments[i], "--ClientAgent:WebSocket:Enabled", StringComparison.OrdinalIgnoreCase))
            {
                enabled = bool.TryParse(arguments[i + 1], out bool on) && on;
            }
        }

        return enabled;
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (!directorEndPoint.Task.IsCompleted || !clientEndPoint.Task.IsCompleted)
        {
            var match = ListeningPattern().Match(line);
            if (match.Success)
            {
                var endpoint = IPEndPoint.Parse(match.Groups[2].Value);
                (match.Groups[1].Value == "Client Agent" ? clientEndPoint : directorEndPoint).TrySetResult(endpoint);
            }
        }

        if (!webSocketUrl.Task.IsCompleted && WebSocketListeningPattern().Match(line) is { Success: true } ws)
        {
            webSocketUrl.TrySetResult(new Uri(ws.Groups[1].Value));
        }

        if (line.Contains("NATS backplane connected", StringComparison.Ordinal))
        {
            backplaneConnected.TrySetResult();
        }

        if (line.Contains(" WARN ", StringComparison.Ordinal) || line.Contains(" ERROR ", StringComparison.Ordinal) || line.Contains(" FATAL ", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref warnings);
        }

        lock (gate)
        {
            lastLines.Enqueue(line);
            while (lastLines.Count > 20)
            {
                lastLines.Dequeue();
            }
        }
    }
}

/// <summary>Child servers still running, killed if the bench process exits or is interrupted first.</summary>
internal static class ChildProcesses
{
    private static readonly HashSet<Process> Running = new();
    private static int hooked;

    public static void Track(Process process)
    {
        if (Interlocked.Exchange(ref hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            Console.CancelKeyPress += (_, _) => KillAll();
        }

        lock (Running)
        {
            Running.Add(process);
        }
    }

    public static void Untrack(Process process)
    {
        lock (Running)
        {
            Running.Remove(process);
        }
    }

    private static void KillAll()
    {
        lock (Running)
        {
            foreach (var process in Running)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Already gone.
                }
            }

            Running.Clear();
        }
    }
}
