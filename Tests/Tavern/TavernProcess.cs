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

    public static string TavernDll => Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll");

    /// <summary>
    /// Starts the server with the Tavern's AI on <paramref name="database"/>; the wanderer steps every 100 ms and lives
    /// 5 steps, and payday is an hour away (so that purses change only when a test says) unless
    /// <paramref name="settings"/> says otherwise.
    /// </summary>
    public static async Task<TavernProcess> StartAsync(string database, IReadOnlyDictionary<string, string>? settings = null, int clientPort = 0)
    {
        var environment = new Dictionary<string, string> { ["TAVERN_WANDER_MS"] = "100", ["TAVERN_WANDER_STEPS"] = "5", ["TAVERN_WAGE_MS"] = "3600000" };
        foreach (var pair in settings ?? new Dictionary<string, string>())
        {
            environment[pair.Key] = pair.Value;
        }

        var process = PastryProcess.StartDll(
            TavernDll,
            environment,
            "serve", "--role", "all",
            "--Database:Path", database, "--Database:AutoMigrate", "true",
            "--ClientAgent:Port", clientPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000");
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

    /// <summary>
    /// Starts the Tavern's OTP alone (<c>serve --role otp</c>) on <paramref name="database"/>, for split roles: the AI
    /// runs in its own process (<see cref="StartAiAsync"/>) and connects to <see cref="MessageDirector"/>.
    /// </summary>
    public static Task<TavernProcess> StartOtpAsync(string database, params string[] extra) =>
        StartOtpOnAsync(["--Database:Path", database, "--Database:AutoMigrate", "true"], extra);

    /// <summary>
    /// As <see cref="StartOtpAsync(string, string[])"/>, on the database <paramref name="databaseSettings"/> name (for
    /// example a <c>TempDatabase</c>'s <c>ServeSettings</c>: PostgreSQL, migrated beforehand with <see cref="MigrateAsync"/>).
    /// </summary>
    public static async Task<TavernProcess> StartOtpOnAsync(string[] databaseSettings, params string[] extra)
    {
        var process = PastryProcess.StartDll(
            TavernDll,
            null,
            ["serve", "--role", "otp", .. databaseSettings, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0", "--Accounts:Pbkdf2Iterations", "1000", .. extra]);
        try
        {
            var (clients, director) = await process.WaitForListenersAsync();
            return new TavernProcess(process, clients) { MessageDirector = director };
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// <c>tavern migrate</c> (the <c>pastry migrate</c> command with the Tavern's models) with
    /// <paramref name="arguments"/> naming the database, for example <c>--provider postgres --connection ...</c>; it must exit 0.
    /// </summary>
    public static async Task MigrateAsync(params string[] arguments)
    {
        await using var migrate = PastryProcess.StartDll(TavernDll, null, ["migrate", .. arguments]);
        Assert.AreEqual(0, await migrate.WaitForExitAsync(TimeSpan.FromSeconds(60)), migrate.Output);
    }

    /// <summary>The Message Director's end point, for an OTP started alone.</summary>
    public IPEndPoint? MessageDirector { get; private init; }

    /// <summary>
    /// Starts the Tavern's AI in its own process (<c>serve --role ai</c>) against this OTP, and waits until its
    /// application started. The wanderer steps every 100 ms and lives 5 steps; payday is an hour away; <paramref name="settings"/>
    /// adds environment variables (for example <c>TAVERN_MENU</c>) and <paramref name="extra"/> arguments (for example <c>--take-over</c>).
    /// </summary>
    public async Task<PastryProcess> StartAiAsync(IReadOnlyDictionary<string, string>? settings = null, params string[] extra)
    {
        var environment = new Dictionary<string, string> { ["TAVERN_WANDER_MS"] = "100", ["TAVERN_WANDER_STEPS"] = "5", ["TAVERN_WAGE_MS"] = "3600000" };
        foreach (var pair in settings ?? new Dictionary<string, string>())
        {
            environment[pair.Key] = pair.Value;
        }

        var ai = PastryProcess.StartDll(TavernDll, environment, ["serve", "--role", "ai", "--Ai:MessageDirector", MessageDirector!.ToString(), "--Admin:Port", "0", .. extra]);
        try
        {
            await ai.WaitForLineAsync(new Regex("AI application TavernAi started"));
            return ai;
        }
        catch
        {
            await ai.DisposeAsync();
            throw;
        }
    }

    public Task<Match> WaitForLineAsync(Regex pattern, TimeSpan? timeout = null) => process.WaitForLineAsync(pattern, timeout);

    /// <summary>How many output lines so far match <paramref name="pattern"/>.</summary>
    public int CountLines(Regex pattern) => process.CountLines(pattern);

    /// <summary>Starts a Tavern client process against this server: <c>play</c> or <c>bots</c> with its options.</summary>
    public PastryProcess StartClient(IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        PastryProcess.StartDll(TavernDll, environment, arguments.Concat(new[] { "--host", Clients.Address.ToString(), "--port", Clients.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToArray());

    /// <summary>Stops the server as a supervisor would (SIGTERM) and waits for its exit code.</summary>
    public Task<int> StopAsync()
    {
        process.Terminate();
        return process.WaitForExitAsync();
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
