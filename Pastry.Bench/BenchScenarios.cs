namespace Pastry.Bench;

/// <summary>
/// What <c>pastry bench</c> offers: every scenario with its options, their defaults and meanings, the switches of single
/// scenarios and the options every scenario takes. The command line (Pastry.Cli) builds its <c>--help</c> and parser
/// from these tables, and the scenarios read their defaults from them, so a default is written in one place.
/// </summary>
internal static class BenchScenarios
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
    public static readonly (string Scenario, string Option, string Meaning)[] Switches =
    {
        ("churn", "resume", "each worker logs in once, then resumes its session with the single-use resume token instead of logging in (no password hash): connect, resume, sync, leave"),
        ("db", "queries", "also run two AIs' query loops beside the writes (a lookup by a [Unique] label; the top 10 by the [Indexed] counter the writes change) and report their p50/p99"),
    };

    /// <summary>Options every scenario takes.</summary>
    public static readonly (string Option, string? Default, string Meaning)[] Common =
    {
        ("sweep", null, "NAME=V1,V2,...: run once per value of option NAME (each with its own child server) and report how cost grows"),
        ("target", null, "HOST:PORT of a running server's Client Agent instead of a child server (started with --app <path to Pastry.Bench.dll>, beside pastry.dll)"),
        ("md", null, "HOST:PORT of that server's Message Director (fanout, grid, objects; idle uses it for the GC)"),
        ("pid", null, "that server's process id, to read its RSS and CPU (idle, objects)"),
    };
}
