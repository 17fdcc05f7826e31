namespace Pastry.Cli;

/// <summary>
/// The <c>--name value</c> and <c>--flag</c> options of one command. Options may repeat (for example several
/// <c>--app</c>); <c>--name=value</c> is accepted too.
/// </summary>
internal sealed class CommandOptions
{
    private readonly Dictionary<string, List<string?>> values = new(StringComparer.Ordinal);

    private CommandOptions()
    {
    }

    public static CommandOptions Parse(string[] args)
    {
        var options = new CommandOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"Unexpected argument '{arg}'; options look like --name value.");
            }

            string name = arg.Substring(2);
            string? value = null;
            int equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name.Substring(equals + 1);
                name = name.Substring(0, equals);
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

            if (!options.values.TryGetValue(name, out var list))
            {
                options.values[name] = list = new List<string?>();
            }

            list.Add(value);
        }

        return options;
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
    public CommandOptions With(string name, string? value)
    {
        var copy = new CommandOptions();
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
                throw new UsageException($"Unknown option --{name}. Known: {string.Join(", ", known.Select(k => "--" + k))}.");
            }
        }
    }
}
