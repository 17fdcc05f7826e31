using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Pastry.Cli.Bench;

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

    /// <summary>One JSON object on one line.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            foreach (var entry in entries)
            {
                if (entry.Value is (string Key, object? Value)[] group)
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

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>A two-column table, one line per value.</summary>
    public string ToTable()
    {
        int width = entries.Max(e => e.Label.Length) + 2;
        var text = new StringBuilder();
        foreach (var entry in entries)
        {
            string value = entry.Value is (string Key, object? Value)[] group
                ? string.Join("  ", group.Select(g => $"{g.Key} {Format(g.Value)}"))
                : Format(entry.Value);
            text.Append(entry.Label.PadRight(width)).Append(value);
            if (entry.Unit.Length > 0 && entry.Value is not null)
            {
                text.Append(' ').Append(entry.Unit);
            }

            text.AppendLine();
        }

        return text.ToString();
    }

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

    private static string Format(object? value) => value switch
    {
        null => "n/a",
        double d when Math.Abs(d) >= 1000 => d.ToString("#,0", CultureInfo.InvariantCulture),
        double d => d.ToString("0.###", CultureInfo.InvariantCulture),
        long l => l.ToString("#,0", CultureInfo.InvariantCulture),
        int i => i.ToString("#,0", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    private sealed record Entry(string Key, string Label, object? Value, string Unit);
}
