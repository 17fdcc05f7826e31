using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench &lt;scenario&gt; --sweep NAME=V1,V2,...</c>: the scenario once per value of one option, each run
/// with its own child server, and one table of how the cost grows: deliveries, p99, server CPU per delivery, memory
/// per session and per object. The values are whatever the scenario reports; a column is left out when no run has it.
/// </summary>
internal sealed class BenchSweep
{
    private const int MaxValues = 20;

    /// <summary>The columns of the sweep table: report key (group.key for nested values), heading.</summary>
    private static readonly (string Key, string Heading)[] Columns =
    {
        ("clients", "clients"),
        ("objects", "objects"),
        ("deliveries_per_sec", "deliveries/s"),
        ("sets_per_sec", "sets/s"),
        ("latency_ms.p50", "p50 ms"),
        ("latency_ms.p99", "p99 ms"),
        ("server_cpu_percent", "server CPU %"),
        ("server_cpu_s_per_million", "server CPU µs/delivery"),
        ("server_rss_mb", "server RSS MB"),
        ("kib_per_session", "KiB/session"),
        ("managed_kib_per_session", "managed KiB/session"),
        ("bytes_per_object", "bytes/object"),
        ("errors", "errors"),
        ("ejects", "ejects"),
    };

    private readonly string scenario;
    private readonly string option;
    private readonly List<(string Value, BenchReport Report)> runs = new();

    private BenchSweep(string scenario, string option)
    {
        this.scenario = scenario;
        this.option = option;
    }

    /// <summary>Runs <paramref name="run"/> once per value of the <c>--sweep</c> option, one after the other.</summary>
    public static async Task<BenchSweep> RunAsync(string scenario, Func<BenchOptions, CancellationToken, Task<BenchReport>> run, BenchOptions options, CancellationToken cancellation)
    {
        var (option, values) = Parse(options.Get("sweep"));
        var sweep = new BenchSweep(scenario, option);
        var each = options.With("sweep", null);
        for (int i = 0; i < values.Length; i++)
        {
            BenchRunner.Progress($"sweep {option}={values[i]} ({i + 1} of {values.Length})");
            var report = await run(each.With(option, values[i]), cancellation).ConfigureAwait(false);
            sweep.runs.Add((values[i], report));
        }

        return sweep;
    }

    /// <summary>Parses <c>NAME=V1,V2,...</c>; the scenario checks each value as it checks the option itself.</summary>
    public static (string Option, string[] Values) Parse(string? text)
    {
        const string Form = "--sweep takes NAME=V1,V2,... (for example --sweep clients=10,100,1000,5000)";
        int equals = text?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (text is null || equals <= 0)
        {
            throw new BenchUsageException($"{Form}; got '{text}'.");
        }

        string option = text.Substring(0, equals);
        string[] values = text.Substring(equals + 1).Split(',', StringSplitOptions.TrimEntries);
        if (values.Any(v => v.Length == 0))
        {
            throw new BenchUsageException($"{Form}; '{text}' has an empty value.");
        }

        if (values.Length > MaxValues)
        {
            throw new BenchUsageException($"--sweep takes at most {MaxValues} values; got {values.Length}.");
        }

        if (option is "sweep" or "json" or "target" or "md" or "pid" or "live" or "plain" || option.Contains(':', StringComparison.Ordinal))
        {
            throw new BenchUsageException($"--sweep varies a scenario option such as clients or objects, not --{option}.");
        }

        return (option, values);
    }

    /// <summary>One JSON object: the scenario, the swept option, and each run's full report.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("scenario", scenario);
            json.WriteString("sweep", option);
            json.WriteStartArray("runs");
            foreach (var (_, report) in runs)
            {
                report.WriteTo(json);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The sweep as aligned plain text, one row per run.</summary>
    public string ToTable()
    {
        var (headings, rows) = Cells();
        var widths = headings.Select((h, c) => Math.Max(h.Length, rows.Max(r => r[c].Length))).ToArray();
        var text = new StringBuilder().AppendLine($"pastry bench {scenario} --sweep {option}");
        text.AppendLine(string.Join("  ", headings.Select((h, c) => h.PadLeft(widths[c]))));
        foreach (var row in rows)
        {
            text.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadLeft(widths[c]))));
        }

        return text.ToString();
    }

    /// <summary>The same table for a terminal.</summary>
    public IRenderable ToSpectreTable()
    {
        var (headings, rows) = Cells();
        var table = new Table().Border(TableBorder.Rounded).Title($"pastry bench {scenario} --sweep {option}");
        foreach (string heading in headings)
        {
            table.AddColumn(new TableColumn(Markup.Escape(heading)).RightAligned());
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        return table;
    }

    /// <summary>
    /// The table's headings and cells: the swept value first, then every column some run reported. Memory per
    /// session is derived from <c>server_rss_baseline_mb</c> (RSS before the clients came) when a run did not report it.
    /// </summary>
    private (string[] Headings, List<string[]> Rows) Cells()
    {
        var present = Columns.Where(c => c.Key != option && runs.Any(r => Value(r.Report, c.Key) is not null)).ToArray();
        var headings = new[] { option }.Concat(present.Select(c => c.Heading)).ToArray();
        var rows = runs.Select(r => new[] { r.Value }.Concat(present.Select(c => BenchReport.Format(Value(r.Report, c.Key)))).ToArray()).ToList();
        return (headings, rows);
    }

    private static double? Value(BenchReport report, string key)
    {
        if (report.Number(key) is double value)
        {
            return value;
        }

        if (key == "kib_per_session" && report.Number("server_rss_mb") is double rss && report.Number("server_rss_baseline_mb") is double baseline && report.Number("clients") is double clients && clients > 0)
        {
            return Math.Round((rss - baseline) * 1024 / clients, 2);
        }

        return null;
    }
}
