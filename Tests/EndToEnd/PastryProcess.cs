using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// A real <c>pastry</c> process (the CLI built next to the tests), with its output captured line by line so that
/// tests can await log lines such as the listening endpoints.
/// </summary>
public sealed partial class PastryProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<string> lines = new();
    private readonly object gate = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> waiters = new();
    private readonly List<(Regex Pattern, int Count, TaskCompletionSource<Match> Found)> countWaiters = new();

    private PastryProcess(Process process)
    {
        this.process = process;
    }

    public int Id => process.Id;

    public string Output
    {
        get
        {
            lock (gate)
            {
                return string.Join(Environment.NewLine, lines);
            }
        }
    }

    public static string PastryDll => Path.Combine(AppContext.BaseDirectory, "pastry.dll");

    public static PastryProcess Start(params string[] arguments) => StartDll(PastryDll, null, arguments);

    /// <summary>Starts <c>dotnet &lt;dll&gt; arguments</c> (a program built next to the tests), with extra environment variables.</summary>
    public static PastryProcess StartDll(string dll, IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        StartDotnet(AppContext.BaseDirectory, environment, [dll, .. arguments]);

    /// <summary>
    /// Starts <c>dotnet arguments</c> in <paramref name="workingDirectory"/> (a built program, or an SDK command such as
    /// <c>build</c>), with extra environment variables.
    /// </summary>
    public static PastryProcess StartDotnet(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        StartProgram("dotnet", workingDirectory, environment, arguments);

    /// <summary>
    /// Starts <c>pastry serve --role otp</c> as <see cref="StartOtpAsync(string[])"/> does, through bash with
    /// <c>ulimit -n <paramref name="openFiles"/></c>, so that a test can run the process out of file descriptors.
    /// </summary>
    public static async Task<(PastryProcess Process, IPEndPoint Clients)> StartOtpWithFileLimitAsync(int openFiles, params string[] extra)
    {
        var arguments = new List<string>
        {
            "-c", $"ulimit -n {openFiles} && exec dotnet \"$0\" \"$@\"", PastryDll,
            "serve", "--role", "otp", "--app", typeof(Knight).Assembly.Location,
            "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000", "--Database:Path", string.Empty,
        };
        arguments.AddRange(extra);
        var process = StartProgram("bash", AppContext.BaseDirectory, null, arguments.ToArray());
        var clients = await process.WaitForLineAsync(ListeningPattern("Client Agent"));
        return (process, IPEndPoint.Parse(clients.Groups[1].Value));
    }

    /// <summary>
    /// Starts <c>dotnet pastry.dll arguments</c> through bash with SIGXFSZ ignored, so that a file-size limit set later
    /// with <c>prlimit --fsize</c> makes the server's writes fail with EFBIG (as on a full disk) instead of killing it.
    /// The process keeps the id (bash execs dotnet), so <see cref="Id"/> is the server's.
    /// </summary>
    public static PastryProcess StartWithFileSizeFaults(params string[] arguments) =>
        StartProgram("bash", AppContext.BaseDirectory, null, ["-c", "trap '' XFSZ; exec dotnet \"$@\"", "bash", PastryDll, .. arguments]);

    /// <summary>Waits for the Client Agent's and the Message Director's "listening on" lines and returns their end points.</summary>
    public async Task<(IPEndPoint Clients, IPEndPoint MessageDirector)> WaitForListenersAsync()
    {
        var clients = await WaitForLineAsync(ListeningPattern("Client Agent"));
        var director = await WaitForLineAsync(ListeningPattern("Message Director"));
        return (IPEndPoint.Parse(clients.Groups[1].Value), IPEndPoint.Parse(director.Groups[1].Value));
    }

    private static PastryProcess StartProgram(string program, string workingDirectory, IReadOnlyDictionary<string, string>? environment, string[] arguments)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var pair in environment ?? new Dictionary<string, string>())
        {
            info.Environment[pair.Key] = pair.Value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var wrapper = new PastryProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>
    /// Starts <c>pastry serve --role otp</c> on OS-assigned ports with the test models, and waits until both listeners
    /// are up. Without a database (empty <c>Database:Path</c>) unless <paramref name="extra"/> gives one.
    /// </summary>
    public static Task<(PastryProcess Process, IPEndPoint Clients, IPEndPoint MessageDirector)> StartOtpAsync(params string[] extra) =>
        StartOtpAsync(null, extra);

    /// <summary>As <see cref="StartOtpAsync(string[])"/>, with extra environment variables (such as <c>PASTRY_</c> settings).</summary>
    public static async Task<(PastryProcess Process, IPEndPoint Clients, IPEndPoint MessageDirector)> StartOtpAsync(IReadOnlyDictionary<string, string>? environment, params string[] extra)
    {
        var arguments = new List<string>
        {
            "serve", "--role", "otp", "--app", typeof(Knight).Assembly.Location,
            "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000",
        };
        if (!extra.Contains("--Database:Path"))
        {
            arguments.AddRange(new[] { "--Database:Path", string.Empty });
        }

        arguments.AddRange(extra);
        var process = StartDll(PastryDll, environment, arguments.ToArray());
        var clients = await process.WaitForLineAsync(ListeningPattern("Client Agent"));
        var director = await process.WaitForLineAsync(ListeningPattern("Message Director"));
        return (process, IPEndPoint.Parse(clients.Groups[1].Value), IPEndPoint.Parse(director.Groups[1].Value));
    }

    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan? timeout = null)
    {
        var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            foreach (string line in lines)
            {
                var match = pattern.Match(line);
                if (match.Success)
                {
                    return match;
                }
            }

            waiters.Add((pattern, found));
        }

        try
        {
            return await found.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            throw new AssertFailedException($"pastry never printed a line matching /{pattern}/. Output so far:{Environment.NewLine}{Output}");
        }
    }

    /// <summary>Types a line on the process's standard input (the Tavern's console client reads its commands there).</summary>
    public async Task SendLineAsync(string line)
    {
        await process.StandardInput.WriteLineAsync(line);
        await process.StandardInput.FlushAsync();
    }

    /// <summary>Waits until <paramref name="count"/> output lines in all match <paramref name="pattern"/> (a later episode of a repeated event).</summary>
    public async Task WaitForLineCountAsync(Regex pattern, int count, TimeSpan? timeout = null)
    {
        var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            if (lines.Count(pattern.IsMatch) >= count)
            {
                return;
            }

            countWaiters.Add((pattern, count, found));
        }

        try
        {
            await found.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            throw new AssertFailedException($"pastry never printed {count} lines matching /{pattern}/. Output so far:{Environment.NewLine}{Output}");
        }
    }

    /// <summary>How many output lines so far match <paramref name="pattern"/>.</summary>
    public int CountLines(Regex pattern)
    {
        lock (gate)
        {
            return lines.Count(pattern.IsMatch);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cancel.Token);
        process.WaitForExit(); // drains the output events
        return process.ExitCode;
    }

    /// <summary>Sends SIGTERM, as a process supervisor would.</summary>
    public void Terminate() => Assert.AreEqual(0, Posix.Kill(process.Id, Posix.SigTerm), "kill(SIGTERM) failed");

    /// <summary>Kills the process at once (SIGKILL).</summary>
    public void KillHard() => process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static Regex ListeningPattern(string role) => new($"{role} listening on (\\S+:\\d+)");

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            lines.Add(line);
            for (int i = countWaiters.Count - 1; i >= 0; i--)
            {
                if (countWaiters[i].Pattern.IsMatch(line) && lines.Count(countWaiters[i].Pattern.IsMatch) >= countWaiters[i].Count)
                {
                    countWaiters[i].Found.TrySetResult(Match.Empty);
                    countWaiters.RemoveAt(i);
                }
            }

            for (int i = waiters.Count - 1; i >= 0; i--)
            {
                var match = waiters[i].Pattern.Match(line);
                if (match.Success)
                {
                    waiters[i].Found.TrySetResult(match);
                    waiters.RemoveAt(i);
                }
            }
        }
    }

    private static partial class Posix
    {
        public const int SigTerm = 15;

        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
        public static partial int Kill(int pid, int signal);
    }
}
