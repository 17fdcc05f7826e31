using Demo.Tavern.Models;
using Pastry;
using Pastry.Ai.Hosting;
using Pastry.Cli;
using Pastry.Cli.Hosting;
using Pastry.Otp.Hosting;

namespace Demo.Tavern;

/// <summary>
/// The Tavern demo's entry point. With no arguments it runs the whole game in one process (server, AI, SQLite
/// database and a few bots); <c>play</c> is the console client, <c>bots</c> runs scripted players, and anything else
/// (<c>serve</c>, <c>migrate</c>, <c>schema</c>) is the <c>pastry</c> command line with the Tavern's models loaded.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: Demo.Tavern [--count 5] [--port 7199]          run the Tavern with 5 bots (server, AI, pastry.db)
               Demo.Tavern play [--user ann] [--password p] [--host 127.0.0.1] [--port 7199]
               Demo.Tavern bots [--count 5] [--host 127.0.0.1] [--port 7199]
               Demo.Tavern serve|migrate|schema ...          the pastry command line with the Tavern's models
        """;

    /// <summary>Runs the demo; see the usage text.</summary>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        bool world = args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal);
        string mode = world ? "world" : args[0];
        if (mode is not ("world" or "play" or "bots"))
        {
            return await PastryCommandLine.RunAsync(args, typeof(Player).Assembly);
        }

        Dictionary<string, string> options;
        try
        {
            options = ParseOptions(args.Skip(world ? 0 : 1).ToArray());
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"tavern: {ex.Message}{Environment.NewLine}{Usage}");
            return PastryCommandLine.ExitUsage;
        }

        string host = options.GetValueOrDefault("host", "127.0.0.1");
        int port = int.Parse(options.GetValueOrDefault("port", "7199"), System.Globalization.CultureInfo.InvariantCulture);
        int count = Math.Clamp(int.Parse(options.GetValueOrDefault("count", "5"), System.Globalization.CultureInfo.InvariantCulture), 0, 200);
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };

        switch (mode)
        {
            case "play":
                string user = options.GetValueOrDefault("user", Environment.UserName.ToLowerInvariant());
                try
                {
                    return await TavernConsole.RunAsync(host, port, user, options.GetValueOrDefault("password", $"{user} at the tavern"), stop.Token);
                }
                catch (Exception ex) when (ex is System.Net.Sockets.SocketException or Pastry.Client.LoginFailedException or Pastry.Client.ClientEjectedException or TimeoutException)
                {
                    await Console.Error.WriteLineAsync($"tavern: cannot play on {host}:{port}: {ex.Message}");
                    return PastryCommandLine.ExitRuntimeError;
                }
            case "bots":
                await TavernBots.RunAsync(host, port, count, stop.Token);
                return PastryCommandLine.ExitOk;
            default:
                return await RunWorldAsync(host, port, count, stop);
        }
    }

    /// <summary>The main job: the server with the AI and the database in this process, then the bots; Ctrl+C stops both.</summary>
    private static async Task<int> RunWorldAsync(string host, int port, int count, CancellationTokenSource stop)
    {
        var models = ModelRegistry.FromAssemblies(typeof(Player).Assembly);
        var server = PastryHost.RunAsync(
            configPath: null,
            new[] { "--Database:AutoMigrate", "true", "--Logging:Level", "Warning", "--MessageDirector:Port", "0", "--ClientAgent:Host", host, "--ClientAgent:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            builder => builder.Services.AddPastryOtp(builder.Configuration, models).AddPastryAi<TavernAi>(builder.Configuration, models));
        await Console.Out.WriteLineAsync($"The Tavern opens on {host}:{port} (database pastry.db) with {count} bot(s); server log: warnings only. Ctrl+C stops it.");
        await Console.Out.WriteLineAsync($"Join in from another terminal: dotnet run --project Demo.Tavern -- play --user ann --port {port}");
        var bots = TavernBots.RunAsync(host, port, count, stop.Token);
        int exit = await server;
        await stop.CancelAsync();
        await bots;
        return exit;
    }

    private static Dictionary<string, string> ParseOptions(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"'{args[i]}' is not an option with a value.");
            }

            options[args[i][2..]] = args[++i];
        }

        if (options.TryGetValue("port", out string? port) && !int.TryParse(port, out _) || options.TryGetValue("count", out string? count) && !int.TryParse(count, out _))
        {
            throw new ArgumentException("--port and --count take numbers.");
        }

        return options;
    }
}
