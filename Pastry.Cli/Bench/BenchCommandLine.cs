using System.CommandLine;

namespace Pastry.Cli.Bench;

/// <summary>
/// <c>pastry bench</c> on the one command-line parser: one subcommand per scenario, each listing its options with their
/// defaults in <c>--help</c>. The parsed options are handed to <see cref="BenchCommand"/> as <see cref="BenchOptions"/>,
/// which its scenarios read.
/// </summary>
internal static class BenchCommandLine
{
    /// <summary>Every scenario: its name, what it measures, and its own options (name, default, meaning).</summary>
    public static readonly (string Name, string Description, (string Option, string Default, string Meaning)[] Options)[] Scenarios =
    {
        ("fanout", "An AI updates M objects in one zone; N clients with interest in it receive every update. Deliveries/s, latency percentiles, server memory and CPU.", new[]
        {
            ("clients", "100", "clients"), ("objects", "100", "objects in the zone"),
            ("rate", "0", "updates per second in total; 0 = as fast as the server drains"),
            ("window", "1024", "most updates in flight"), ("seconds", "5", "measured seconds"), ("warmup", "1", "seconds of load before measuring"),
            ("percent-of-peak", "0", "measure the peak first, then report a run at this % of its rate (0 = off)"),
            ("rss-after", "0", "after the load, keep the clients connected and idle this many seconds, then report the server's RSS (0 = off)"),
            ("transport", "tcp", "tcp, or ws: the clients connect over the Client Agent's WebSocket transport"),
        }),
        ("grid", "N clients walk a grid of zones with interest in the 3x3 cells around them. Deliveries/s, latency, interest changes/s.", new[]
        {
            ("clients", "1000", "clients, one avatar each"), ("hz", "5", "positions per client per second"),
            ("density", "1", "clients per cell; the grid's side is ceil(sqrt(N / D))"), ("grid", "(from --density)", "cells per side instead of --density"),
            ("cell", "100", "cell size in world units"), ("speed", "25", "walking speed in world units per second"),
            ("seconds", "5", "measured seconds"), ("warmup", "1", "seconds of load before measuring"),
        }),
        ("idle", "N logged-in clients with no interest: the server's resident memory per idle session, and its idle CPU.", new[]
        {
            ("clients", "1000", "clients"), ("settle", "3", "seconds to wait before each memory reading"),
            ("cpu-seconds", "10", "seconds over which each CPU figure (no session, then idle sessions) is read"),
        }),
        ("objects", "An AI creates M idle objects over Z zones, with no clients: the server's memory per object.", new[]
        {
            ("objects", "100000", "objects"), ("zones", "100", "zones of the parent"), ("settle", "3", "seconds to wait before each memory reading"),
        }),
        ("relay", "N clients (the real client library) take turns setting one shared [ClSend] field: latency set -> other client.", new[]
        {
            ("clients", "100", "clients"), ("rate", "200", "sets per second in total"), ("seconds", "5", "measured seconds"), ("warmup", "1", "seconds before measuring"),
            ("transport", "tcp", "tcp, or ws: the clients connect over the Client Agent's WebSocket transport"),
        }),
        ("clientmem", "One client (the real client library) with M objects in view: its managed memory per object.", new[]
        {
            ("objects", "1000", "objects"),
        }),
        ("churn", "W workers connect, log in, sync an interest of M objects and leave, in a loop: sessions per second.", new[]
        {
            ("workers", "16", "concurrent workers"), ("objects", "20", "objects in the synced zone"),
            ("accounts", "1024", "accounts created before the timed run"), ("warmup", "2", "untimed seconds first"), ("seconds", "5", "how long"),
        }),
        ("db", "Acknowledged Db field writes to the Database role (SQLite with synchronous=FULL, or PostgreSQL with --postgres): committed writes per second.", new[]
        {
            ("objects", "100", "records written round-robin"), ("window", "1024", "writes in flight"), ("seconds", "5", "how long"),
            ("postgres", "none: SQLite", "a PostgreSQL connection string: write there instead of a SQLite file (in a fresh schema that is dropped afterwards)"),
        }),
        ("soak", "N bots walk for T minutes with random disconnects and resumes, Db writes and one AI restart: the server's RSS, handles, threads and GC heap over time.", new[]
        {
            ("bots", "50", "bots (the real client library, auto-reconnect on)"), ("minutes", "30", "how long"),
            ("sample-seconds", "10", "seconds between samples"), ("drop-every", "60", "mean seconds between a bot's dropped connections"),
            ("hz", "2", "moves per bot per second"),
        }),
    };

    /// <summary>
    /// The default of <paramref name="scenario"/>'s option <paramref name="option"/> as <c>--help</c> shows it: the one
    /// place a bench default is written (the scenarios read it from here).
    /// </summary>
    public static string DefaultOf(string? scenario, string option)
    {
        foreach (var (name, _, options) in Scenarios)
        {
            if (name == scenario)
            {
                foreach (var (declared, fallback, _) in options)
                {
                    if (declared == option)
                    {
                        return fallback;
                    }
                }
            }
        }

        throw new InvalidOperationException($"bench {scenario ?? "(no scenario)"} declares no option --{option} with a default.");
    }

    /// <summary>Switches (options without a value) of single scenarios.</summary>
    private static readonly (string Scenario, string Option, string Meaning)[] Switches =
    {
        ("churn", "resume", "each worker logs in once, then resumes its session with the single-use resume token instead of logging in (no password hash): connect, resume, sync, leave"),
        ("db", "queries", "also run two AIs' query loops beside the writes (a lookup by a [Unique] label; the top 10 by the [Indexed] counter the writes change) and report their p50/p99"),
    };

    /// <summary>Options every scenario takes.</summary>
    private static readonly (string Option, string? Default, string Meaning)[] Common =
    {
        ("sweep", null, "NAME=V1,V2,...: run once per value of option NAME (each with its own child server) and report how cost grows"),
        ("target", null, "HOST:PORT of a running server's Client Agent instead of a child server (started with --app <path to pastry.dll>)"),
        ("md", null, "HOST:PORT of that server's Message Director (fanout, grid, objects; idle uses it for the GC)"),
        ("pid", null, "that server's process id, to read its RSS and CPU (idle, objects)"),
    };

    /// <summary>The <c>bench</c> command with one subcommand per scenario.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Load generator over real loopback sockets: starts a child `pastry serve --role otp` with the bench's own models (or uses --target), runs one scenario for a bounded time and prints a table, or JSON with --json.");
        foreach (var (name, description, options) in Scenarios)
        {
            var settings = ConfigurationFlags.CreateArgument("settings for the child server, for example --ClientAgent:FlushInterval 00:00:00.005 (every key: pastry serve --help)");
            var scenario = new Command(name, description) { settings };
            var declared = new List<Option>();
            foreach (var (option, fallback, meaning) in options)
            {
                declared.Add(new Option<string>("--" + option) { Description = $"{meaning} [default: {fallback}]", HelpName = "value" });
            }

            foreach (var (_, option, meaning) in Switches.Where(s => s.Scenario == name))
            {
                declared.Add(new Option<bool>("--" + option) { Description = meaning });
            }

            foreach (var (option, _, meaning) in Common)
            {
                declared.Add(new Option<string>("--" + option) { Description = meaning, HelpName = "value" });
            }

            declared.Add(new Option<bool>("--json") { Description = "print one JSON object on standard output instead of a table" });
            declared.Add(new Option<bool>("--live") { Description = "progress as a live view on standard error [default: on a terminal]" });
            declared.Add(new Option<bool>("--plain") { Description = "progress as plain lines on standard error [default: when redirected]" });
            declared.Add(new Option<string[]>("--app") { Description = "not taken: bench runs its own models (the child server loads them itself)", Hidden = true });
            foreach (var option in declared)
            {
                scenario.Options.Add(option);
            }

            scenario.SetAction((parse, cancellation) =>
            {
                if (parse.GetResult(declared.Single(o => o.Name == "--app")) is not null)
                {
                    throw new UsageException("bench does not take --app: it runs its own bench models, in its own child server. To load a game, use serve, migrate or schema.");
                }

                // The parsed options as the scenario reads them: each one given (a switch only when on), then the
                // --Section:Key settings for the child server.
                var given = new BenchOptions { Scenario = name };
                foreach (var option in declared)
                {
                    if (parse.GetResult(option) is not { Implicit: false } result)
                    {
                        continue;
                    }

                    string key = option.Name.Substring(2);
                    if (option is Option<bool> flag)
                    {
                        if (parse.GetValue(flag))
                        {
                            given.Add(key, null);
                        }
                    }
                    else
                    {
                        foreach (var token in result.Tokens)
                        {
                            given.Add(key, token.Value);
                        }
                    }
                }

                var flags = ConfigurationFlags.Check(parse.GetValue(settings) ?? Array.Empty<string>(), $"bench {name}", declared);
                for (int i = 0; i < flags.Count; i++)
                {
                    string setting = flags[i].Substring(2);
                    int equals = setting.IndexOf('=', StringComparison.Ordinal);
                    if (equals >= 0)
                    {
                        given.Add(setting.Substring(0, equals), setting.Substring(equals + 1));
                    }
                    else
                    {
                        given.Add(setting, flags[++i]);
                    }
                }

                return BenchCommand.RunAsync(name, given);
            });
            bench.Subcommands.Add(scenario);
        }

        return bench;
    }
}
