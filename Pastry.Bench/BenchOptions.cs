namespace Pastry.Bench;

/// <summary>
/// The options given to one <c>pastry bench</c> scenario, by name without the dashes, as the command-line parser
/// (System.CommandLine, in Pastry.Cli, built from <see cref="BenchScenarios"/>) found them: an option may repeat, a
/// switch has no value, and <c>--Section:Key value</c> settings for the child server are here too. Nothing here parses
/// words.
/// </summary>
internal sealed class BenchOptions
{
    private readonly Dictionary<string, List<string?>> values = new(StringComparer.Ordinal);

    /// <summary>The scenario these options are for, whose defaults (<see cref="BenchScenarios.Scenarios"/>) fill in what was not given.</summary>
    public string? Scenario { get; init; }

    /// <summary>
    /// The <c>pastry</c> program (its <c>pastry.dll</c>) that runs a child server as <c>pastry serve</c>: the command
    /// line that runs the bench names itself here, since this library cannot reference it. Null when no child server
    /// may be started (unit tests of option handling).
    /// </summary>
    public string? PastryProgram { get; init; }

    /// <summary>Records <c>--name value</c>, or the switch <c>--name</c> when <paramref name="value"/> is null.</summary>
    public BenchOptions Add(string name, string? value)
    {
        if (!values.TryGetValue(name, out var list))
        {
            values[name] = list = new List<string?>();
        }

        list.Add(value);
        return this;
    }

    /// <summary>The names of every option given.</summary>
    public IEnumerable<string> Names => values.Keys;

    /// <summary>Whether <c>--name</c> was given (with or without a value).</summary>
    public bool Has(string name) => values.ContainsKey(name);

    /// <summary>The last value of <c>--name</c>, or null.</summary>
    public string? Get(string name) => values.TryGetValue(name, out var list) ? list[list.Count - 1] : null;

    /// <summary>Every value of <c>--name</c>.</summary>
    public IEnumerable<string> GetAll(string name) =>
        values.TryGetValue(name, out var list) ? list.Where(v => v is not null).Select(v => v!) : Enumerable.Empty<string>();

    /// <summary>A copy of these options where <c>--name</c> has the one value <paramref name="value"/> (null: not given).</summary>
    public BenchOptions With(string name, string? value)
    {
        var copy = new BenchOptions { Scenario = Scenario, PastryProgram = PastryProgram };
        foreach (var (key, list) in values)
        {
            copy.values[key] = new List<string?>(list);
        }

        copy.values.Remove(name);
        if (value is not null)
        {
            copy.values[name] = new List<string?> { value };
        }

        return copy;
    }

    /// <summary>Throws a usage error for any option not in <paramref name="known"/>.</summary>
    public void AllowOnly(params string[] known)
    {
        foreach (string name in values.Keys)
        {
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                throw new BenchUsageException($"Unknown option --{name}. Known: {string.Join(", ", known.Select(k => "--" + k))}.");
            }
        }
    }
}
