using System.Net;
using System.Text.RegularExpressions;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Tavern;

/// <summary>
/// The Tavern demo as a real process (<c>dotnet Demo.Tavern.dll serve --role all</c>, built next to the tests) on an
/// OS-assigned client port and a given SQLite file, with its output captured so tests can await its log lines.
/// </summary>
public sealed class TavernProcess : IAsyncDisposable
{
    private readonly PastryProcess process;

    private TavernProcess(PastryProcess process, IPEndPoint clients)
    {
        this.process = process;
        Clients = clients;
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint Clients { get; }

    public string Output => process.Output;

    /// <summary>Starts the server with the Tavern's AI on <paramref name="database"/>; the wanderer steps every 100 ms and lives 5 steps.</summary>
    public static async Task<TavernProcess> StartAsync(string database)
    {
        var process = PastryProcess.StartDll(
            Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll"),
            new Dictionary<string, string> { ["TAVERN_WANDER_MS"] = "100", ["TAVERN_WANDER_STEPS"] = "5" },
            "serve", "--role", "all",
            "--Database:Path", database, "--Database:AutoMigrate", "true",
            "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000");
        try
        {
            var endpoint = await process.WaitForLineAsync(new Regex("Client Agent listening on (\\S+:\\d+)"));
            await process.WaitForLineAsync(new Regex("AI application TavernAi started"));
            return new TavernProcess(process, IPEndPoint.Parse(endpoint.Groups[1].Value));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public Task<Match> WaitForLineAsync(Regex pattern, TimeSpan? timeout = null) => process.WaitForLineAsync(pattern, timeout);

    /// <summary>Stops the server as a supervisor would (SIGTERM) and waits for its exit code.</summary>
    public Task<int> StopAsync()
    {
        process.Terminate();
        return process.WaitForExitAsync();
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
