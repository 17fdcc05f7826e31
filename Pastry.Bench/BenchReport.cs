using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pastry.Bench;

/// <summary>
/// The result of one bench scenario: an ordered list of named values that prints as a readable table or as one JSON
/// object (snake_case keys, numbers as numbers, unknown values as null). Scenarios add what they measured.
/// </summary>
internal sealed class BenchReport
{
    private readonly List<Entry> entries = new();

    public BenchReport(string scenario)
    {
        Scenario = scenario;
        Add("scenario", "scenario", scenario);
    }

    /// <summary>The scenario's name (fanout, idle, ...).</summary>
    public string Scenario { get; }

    /// <summary>Adds a value: <paramref name="key"/> in JSON, <paramref name="label"/> in the table.</summary>
    public BenchReport Add(string key, string label, object? value, string unit = "")
    {
        entries.Add(new Entry(key, label, value, unit));
        return this;
    }

    /// <summary>Adds a nested object (for example <c>latency_ms</c> with p50, p95, p99 and max).</summary>
    public BenchReport AddGroup(string key, string label, string unit, params (string Key, object? Value)[] values)
    {
        entries.Add(new Entry(key, label, values, unit));
        return this;
    }

    /// <summary>
    /// Adds a series of readings over time (for example the soak's samples): in JSON an array of objects keyed by
    /// <paramref name="columns"/>; in the tables a count, with the readings as their own table after the report.
    /// </summary>
    public BenchReport AddSamples(string key, string label, string[] columns, List<object?[]> rows)
    {
        entries.Add(new Entry(key, label, new SampleSeries(columns, rows), string.Empty));
        return this;
    }

    /// <summary>Adds a latency group in milliseconds: <c>p50</c>, <c>p95</c>, <c>p99</c> and <c>max</c> of <paramref name="latency"/>.</summary>
    public BenchReport AddLatency(string key, string label, LatencyHistogram latency) =>
        AddGroup(key, label, "ms", ("p50", BenchRunner.Millis(latency.Percentile(50))), ("p95", BenchRunner.Millis(latency.Percentile(95))), ("p99", BenchRunner.Millis(latency.Percentile(99))), ("max", BenchRunner.Millis(latency.MaxMicroseconds)));

    /// <summary>
    /// A value as a number: <paramref name="key"/> is a top-level key or <c>group.key</c> (for example
    /// <c>latency_ms.p99</c>); null when the report has no such value or it is not a number.
    /// </summary>
    public double? Number(string key)
    {
        int dot = key.IndexOf('.', StringComparison.Ordinal);
        string name = dot < 0 ? key : key.Substring(0, dot);
        foreach (var entry in entries)
        {
            if (entry.Key != name)
            {
                continue;
            }

            if (dot < 0)
            {
                return AsNumber(entry.Value);
            }

            if (entry.Value is (string Key, object? Value)[] group)
            {
                foreach (var (inner, value) in group)
                {
                    if (inner == key.Substring(dot + 1))
                    {
                        return AsNumber(value);
                    }
                }
            }
        }

        return null;
    }

    /// <summary>One JSON object on one line.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            WriteTo(json);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes the report as one JSON object (also used for each run of a sweep).</summary>
    public void WriteTo(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        foreach (var entry in entries)
        {
            if (entry.Value is SampleSeries series)
            {
                json.WriteStartArray(entry.Key);
                foreach (var row in series.Rows)
                {
                    json.WriteStartObject();
                    for (int i = 0; i < series.Columns.Length; i++)
                    {
                        WriteValue(json, series.Columns[i], row[i]);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }
            else if (entry.Value is (string Key, object? Value)[] group)
            {
                json.WriteStartObject(entry.Key);
                foreach (var (key, value) in group)
                {
                    WriteValue(json, key, value);
                }

                json.WriteEndObject();
            }
            else
            {
                WriteValue(json, entry.Key, entry.Value);
            }
        }

        json.WriteEndObject();
    }

    /// <summary>The same two columns as <see cref="ToTable"/>, as a Spectre.Console table for a terminal.</summary>
    public IRenderable ToSpectreTable()
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"pastry bench {Scenario}")
            .AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        foreach (var entry in entries)
        {
            table.AddRow(Markup.Escape(entry.Label), Markup.Escape(FormatValue(entry)));
        }

        var series = entries.Select(e => e.Value).OfType<SampleSeries>().ToList();
        if (series.Count == 0)
        {
            return table;
        }

        var rows = new List<IRenderable> { table };
        foreach (var readings in series)
        {
            var samples = new Table().Border(TableBorder.Rounded);
            foreach (string column in readings.Columns)
            {
                samples.AddColumn(new TableColumn(Markup.Escape(column)).RightAligned());
            }

            foreach (var row in readings.Rows)
            {
                samples.AddRow(row.Select(v => Markup.Escape(Format(v))).ToArray());
            }

            rows.Add(samples);
        }

        return new Rows(rows);
    }

    /// <summary>A two-column table, one line per value.</summary>
    public string ToTable()
    {
        int width = entries.Max(e => e.Label.Length) + 2;
        var text = new StringBuilder();
        foreach (var entry in entries)
        {
            text.Append(entry.Label.PadRight(width)).Append(FormatValue(entry)).AppendLine();
        }

        foreach (var series in entries.Select(e => e.Value).OfType<SampleSeries>())
        {
            text.AppendLine().AppendLine(series.ToText());
        }

        return text.ToString();
    }

    /// <summary>A number as the tables print it (thousands separated from 1,000 up, three decimals below).</summary>
    public static string Format(object? value) => value switch
    {
        null => "n/a",
        double d when Math.Abs(d) >= 1000 => d.ToString("#,0", CultureInfo.InvariantCulture),
        double d => d.ToString("0.###", CultureInfo.InvariantCulture),
        long l => l.ToString("#,0", CultureInfo.InvariantCulture),
        int i => i.ToString("#,0", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    private static string FormatValue(Entry entry)
    {
        if (entry.Value is SampleSeries series)
        {
            return $"{series.Rows.Count} (below)";
        }

        string value = entry.Value is (string Key, object? Value)[] group
            ? string.Join("  ", group.Select(g => $"{g.Key} {Format(g.Value)}"))
            : Format(entry.Value);
        return entry.Unit.Length > 0 && entry.Value is not null ? value + " " + entry.Unit : value;
    }

    private static double? AsNumber(object? value) => value switch
    {
        int i => i,
        long l => l,
        double d => d,
        _ => null,
    };

    private static void WriteValue(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(key);
                break;
            case string s:
                json.WriteString(key, s);
                break;
            case bool b:
                json.WriteBoolean(key, b);
                break;
            case int i:
                json.WriteNumber(key, i);
                break;
            case long l:
                json.WriteNumber(key, l);
                break;
            case double d:
                json.WriteNumber(key, Math.Round(d, 3));
                break;
            default:
                json.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private sealed record Entry(string Key, string Label, object? Value, string Unit);
}

/// <summary>Readings over time: one row per reading, one value per column.</summary>
internal sealed record SampleSeries(string[] Columns, List<object?[]> Rows)
{
    /// <summary>The readings as a plain text table, one line per reading (right-aligned columns).</summary>
    public string ToText()
    {
        var cells = Rows.Select(row => row.Select(BenchReport.Format).ToArray()).ToList();
        var widths = Columns.Select((column, i) => Math.Max(column.Length, cells.Count == 0 ? 0 : cells.Max(row => row[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendLine(string.Join("  ", Columns.Select((column, i) => column.PadLeft(widths[i]))));
        foreach (var row in cells)
        {
            text.AppendLine(string.Join("  ", row.Select((cell, i) => cell.PadLeft(widths[i]))));
        }

        return text.ToString();
    }
}
