using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Pastry.Tests.Tavern;

/// <summary>
/// The Tavern demo as a real process (<c>dotnet Demo.Tavern.dll serve --role all</c>, built next to the tests) on an
/// OS-assigned client port and a given SQLite file, with its output captured so tests can await its log lines.
/// </summary>
public sealed class TavernProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<string> lines = new();
    private readonly object gate = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> waiters = new();

    private TavernProcess(Process process)
    {
        this.process = process;
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint Clients { get; private set; } = null!;

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

    /// <summary>Starts the server with the Tavern's AI on <paramref name="database"/>; the wanderer steps every 100 ms and lives 5 steps.</summary>
    public static async Task<TavernProcess> StartAsync(string database)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (string argument in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll"), "serve", "--role", "all",
            "--Database:Path", database, "--Database:AutoMigrate", "true",
            "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000",
        })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["TAVERN_WANDER_MS"] = "100";
        info.Environment["TAVERN_WANDER_STEPS"] = "5";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var wrapper = new TavernProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var endpoint = await wrapper.WaitForLineAsync(new Regex("Client Agent listening on (\\S+:\\d+)"));
            await wrapper.WaitForLineAsync(new Regex("AI application TavernAi started"));
            wrapper.Clients = IPEndPoint.Parse(endpoint.Groups[1].Value);
            return wrapper;
        }
        catch
        {
            await wrapper.DisposeAsync();
            throw;
        }
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
            throw new AssertFailedException($"The Tavern never printed a line matching /{pattern}/. Output so far:{Environment.NewLine}{Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            lines.Add(line);
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
}
