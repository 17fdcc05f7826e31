using System.CommandLine;
using Demo.Tavern.Models;
using Pastry;
using Pastry.Ai.Hosting;
using Pastry.Cli;
using Pastry.Cli.Hosting;
using Pastry.Otp.Admin;
using Pastry.Otp.Hosting;

namespace Demo.Tavern;

/// <summary>
/// The Tavern demo's entry point. With no arguments it runs the whole game in one process (server, AI, SQLite
/// database and a few bots); <c>play</c> is the console client, <c>bots</c> runs scripted players, and anything else
/// (<c>serve</c>, <c>migrate</c>, <c>schema</c>) is the <c>pastry</c> command line with the Tavern's models loaded.
/// </summary>
public static class Program
{
    /// <summary>Runs the demo; <c>--help</c> lists the commands and their options.</summary>
    public static Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var host = new Option<string>("--host") { Description = "the server's address", DefaultValueFactory = _ => "127.0.0.1", HelpName = "address" };
        var port = new Option<int>("--port") { Description = "the Client Agent's port", DefaultValueFactory = _ => 7199 };
        var count = new Option<int>("--count") { Description = "scripted players (0 to 200)", DefaultValueFactory = _ => 5 };
        var adminPort = new Option<int>("--admin-port") { Description = "the admin endpoint's port (dashboard, /healthz, /readyz, /metrics) on 127.0.0.1", DefaultValueFactory = _ => 7197 };
        var webPort = new Option<int>("--web-port") { Description = "the port of the page that plays in the browser, and of its WebSocket (0: any free port)", DefaultValueFactory = _ => 7200 };
        SetMapDefaults();
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 200)
            {
                result.AddError("--count must be between 0 and 200.");
            }
        });

        var root = new RootCommand("The Tavern: a small Pastry game. With no command it runs the whole game in one process (server, AI, pastry.db in the working directory, and bots); Ctrl+C stops it.")
        {
            host, port, count, adminPort, webPort,
        };
        root.SetAction((parse, _) => WithCancelAsync(stop => RunWorldAsync(parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(adminPort), parse.GetValue(webPort), parse.GetValue(count), stop)));

        var user = new Option<string>("--user") { Description = "the account (created on first login)", DefaultValueFactory = _ => Environment.UserName.ToLowerInvariant() };
        var password = new Option<string?>("--password") { Description = "its password [default: '<user> at the tavern']" };
        var character = new Option<string?>("--character") { Description = "which of the account's characters to play, or a new one's name (up to three) [default: the first, or the user name]" };
        var play = new Command("play", "Plays in a running Tavern from this console (w/a/s/d walk, say, buy, post, notices, richest, characters, look, quit).") { user, character, password, host, port };
        play.SetAction((parse, _) => WithCancelAsync(stop => PlayAsync(parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(user)!, parse.GetValue(password), parse.GetValue(character), stop)));
        root.Subcommands.Add(play);

        var bots = new Command("bots", "Runs scripted players against a running Tavern.") { count, host, port };
        bots.SetAction((parse, _) => WithCancelAsync(async stop =>
        {
            await TavernBots.RunAsync(parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(count), stop.Token);
            return PastryCommandLine.ExitOk;
        }));
        root.Subcommands.Add(bots);

        // serve, migrate, schema and bench: the pastry command line, with the Tavern's models loaded.
        foreach (var command in PastryCommandLine.CreateCommands(typeof(Player).Assembly))
        {
            root.Subcommands.Add(command);
        }

        return PastryCommandLine.InvokeAsync(root, args, "tavern");
    }

    private static async Task<int> WithCancelAsync(Func<CancellationTokenSource, Task<int>> run)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await run(stop);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static async Task<int> PlayAsync(string host, int port, string user, string? password, string? character, CancellationTokenSource stop)
    {
        try
        {
            return await TavernConsole.RunAsync(host, port, user, password ?? $"{user} at the tavern", character, stop.Token);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or Pastry.Client.LoginFailedException or Pastry.Client.ClientEjectedException or TimeoutException or TavernRefusedException)
        {
            await Console.Error.WriteLineAsync($"tavern: cannot play on {host}:{port}: {ex.Message}");
            return PastryCommandLine.ExitRuntimeError;
        }
    }

    /// <summary>
    /// The dashboard's live map shows the district's 10x10 grid, players placed by their Position: set as defaults
    /// (PASTRY_ environment variables, which flags and pastry.json still override) for every mode that runs a server.
    /// </summary>
    private static void SetMapDefaults()
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        foreach (var (key, value) in new[]
        {
            ("Parent", TavernWorld.DistrictId.ToString()),
            ("Width", TavernWorld.Grid.Width.ToString(invariant)),
            ("Height", TavernWorld.Grid.Height.ToString(invariant)),
            ("FirstZone", TavernWorld.Grid.FirstZone.ToString(invariant)),
            ("CellSize", TavernWorld.CellSize.ToString(invariant)),
            ("PositionField", nameof(Player.Position)),
        })
        {
            string variable = $"PASTRY_Admin__Map__{key}";
            if (Environment.GetEnvironmentVariable(variable) is null)
            {
                Environment.SetEnvironmentVariable(variable, value);
            }
        }
    }

    /// <summary>The main job: the server with the AI and the database in this process, then the bots; Ctrl+C stops both.</summary>
    private static async Task<int> RunWorldAsync(string host, int port, int adminPort, int webPort, int count, CancellationTokenSource stop)
    {
        var models = ModelRegistry.FromAssemblies(typeof(Player).Assembly);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var settings = new List<string> { "--Database:AutoMigrate", "true", "--Logging:Level", "Warning", "--MessageDirector:Port", "0", "--ClientAgent:Host", host, "--ClientAgent:Port", port.ToString(invariant), "--Admin:Port", adminPort.ToString(invariant) };
        string? webRoot = TavernWeb.FindFiles();
        if (webRoot is not null)
        {
            webPort = webPort == 0 ? TavernWeb.FreePort() : webPort;
            // The page and its WebSocket on one loopback listener: one origin, so no AllowedOrigins to configure.
            settings.AddRange(new[] { "--ClientAgent:WebSocket:Enabled", "true", "--ClientAgent:WebSocket:Host", "127.0.0.1", "--ClientAgent:WebSocket:Port", webPort.ToString(invariant), "--ClientAgent:WebSocket:WebRoot", webRoot });
        }

        var server = PastryHost.RunAsync(
            configPath: null,
            settings,
            builder => builder.Services.AddPastryOtp(builder.Configuration, models).AddPastryAi<TavernAi>(builder.Configuration, models).AddPastryAdmin(builder.Configuration));
        await Console.Out.WriteLineAsync($"The Tavern opens on {host}:{port} (database pastry.db) with {count} bot(s); server log: warnings only. Ctrl+C stops it.");
        await Console.Out.WriteLineAsync($"Dashboard and live map: http://127.0.0.1:{adminPort}/ (health /healthz, readiness /readyz, Prometheus /metrics)");
        await Console.Out.WriteLineAsync(webRoot is null
            ? $"Play in your browser: off, the page's files are not in {TavernWeb.Folder} (build Demo.Tavern.Web, or run without -p:TavernWeb=false); the console and the bots work as before."
            : $"Play in your browser: http://127.0.0.1:{webPort}/ (the page and its WebSocket, ws://127.0.0.1:{webPort}/pastry)");
        await Console.Out.WriteLineAsync($"Join in from another terminal: dotnet run --project Demo.Tavern -- play --user ann --port {port}");
        var bots = TavernBots.RunAsync(host, port, count, stop.Token);
        int exit = await server;
        await stop.CancelAsync();
        await bots;
        return exit;
    }
}
