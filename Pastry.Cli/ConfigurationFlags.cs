using System.CommandLine;

namespace Pastry.Cli;

/// <summary>
/// The <c>--Section:Key value</c> (or <c>--Section:Key=value</c>) setting flags that <c>serve</c> and <c>bench</c>
/// take beside their own options. The parser gives every word that is not one of the command's options to one
/// argument (<see cref="CreateArgument"/>, so that <c>--help</c> describes it); this checks that each is a setting,
/// and turns anything else into a usage error that suggests the option meant.
/// </summary>
internal static class ConfigurationFlags
{
    /// <summary>The argument that collects a command's setting flags, described in its help by <paramref name="description"/>.</summary>
    public static Argument<string[]> CreateArgument(string description) => new("--Section:Key value")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>The setting flags among <paramref name="unmatched"/>, as words for the configuration's command-line source.</summary>
    /// <exception cref="UsageException">A word is neither a setting flag nor its value.</exception>
    public static List<string> Check(IReadOnlyList<string> unmatched, string command, IEnumerable<Option> options)
    {
        var flags = new List<string>();
        for (int i = 0; i < unmatched.Count; i++)
        {
            string word = unmatched[i];
            if (!word.StartsWith("--", StringComparison.Ordinal) || !word.Contains(':', StringComparison.Ordinal))
            {
                string? closest = word.StartsWith('-') ? Spelling.Closest(word, options.Where(o => !o.Hidden).Select(o => o.Name)) : null;
                throw new UsageException($"{command}: unrecognized argument '{word}'.{(closest is null ? string.Empty : $" Did you mean '{closest}'?")} Settings look like --ClientAgent:Port 7200 (see pastry {command} --help).");
            }

            flags.Add(word);
            if (!word.Contains('=', StringComparison.Ordinal))
            {
                if (i + 1 >= unmatched.Count)
                {
                    throw new UsageException($"{word} needs a value, for example {word} 7200.");
                }

                flags.Add(unmatched[++i]);
            }
        }

        return flags;
    }
}

/// <summary>Finds the closest of several names to a misspelt one (edit distance), for "did you mean" suggestions.</summary>
internal static class Spelling
{
    /// <summary>The name in <paramref name="candidates"/> closest to <paramref name="word"/> (ignoring case), or null when none is close.</summary>
    public static string? Closest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates)
        {
            int distance = Distance(word.ToUpperInvariant(), candidate.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        // Close means at most a third of the word wrong: a typo, not a different word.
        return best is not null && bestDistance <= Math.Max(2, word.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), substitution);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
