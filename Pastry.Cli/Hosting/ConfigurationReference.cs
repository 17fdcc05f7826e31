using System.Reflection;
using System.Text;
using System.Xml.Linq;

namespace Pastry.Cli.Hosting;

/// <summary>
/// Writes <c>docs/configuration.md</c> from the options classes (<see cref="KnownSettings"/>): every key with its type,
/// default and meaning, the meaning taken from the property's XML doc summary. A test regenerates it and fails when the
/// file in the repository differs, so the reference cannot drift from the code.
/// </summary>
internal static class ConfigurationReference
{
    /// <summary>The Markdown page.</summary>
    public static string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append("""
            # Configuration reference

            <!-- Generated from the options classes by Tests/Docs/ConfigurationReferenceTests.cs; do not edit by hand.
                 To regenerate: PASTRY_UPDATE_DOCS=1 dotnet test Tests --filter ConfigurationReference -->

            Settings come from `pastry.json` (or `--config <file>`), then environment variables prefixed `PASTRY_`
            (`PASTRY_ClientAgent__Port=7200`), then flags (`--ClientAgent:Port 7200`); a later source wins. A host of your own
            binds the same sections with `AddPastryOtp` and `AddPastryAi`. A bad value stops the start with a message that
            names the key (exit code 2); a key that nothing reads gets a warning naming the closest known key.

            """).Append('\n');
        foreach (var (section, options) in KnownSettings.Sections)
        {
            text.Append("## ").Append(section).Append("\n\n");
            string? summary = Summary(options, "T:" + options.FullName!.Replace('+', '.'));
            if (summary is not null)
            {
                text.Append(summary).Append("\n\n");
            }

            text.Append("| key | type | default | meaning |\n|---|---|---|---|\n");
            foreach (var (key, type, fallback) in KnownSettings.Keys.Where(k => k.Key.StartsWith(section + ":", StringComparison.Ordinal) && !k.Key.AsSpan(section.Length + 1).Contains(':')))
            {
                string property = key[(section.Length + 1)..];
                string meaning = Summary(options, $"P:{options.FullName!.Replace('+', '.')}.{property}") ?? string.Empty;
                string shown = MachineDependent.TryGetValue(key, out string? rule) ? rule : $"`{fallback}`";
                text.Append("| `").Append(key).Append("` | ").Append(TypeName(type)).Append(" | ").Append(shown).Append(" | ")
                    .Append(meaning.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
            }

            text.Append('\n');
        }

        return text.ToString().TrimEnd('\n') + "\n";
    }

    /// <summary>Defaults computed from the machine, described rather than printed, so that the page is the same on every machine.</summary>
    private static readonly Dictionary<string, string> MachineDependent = new(StringComparer.Ordinal)
    {
        ["Accounts:MaxConcurrentHashes"] = "half the cores, at least 1",
    };

    private static string TypeName(Type type) => Nullable.GetUnderlyingType(type) is { } inner ? TypeName(inner) + "?" : type.Name switch
    {
        "Int32" => "int",
        "Int64" => "long",
        "Boolean" => "bool",
        "String" => "string",
        "Double" => "double",
        _ => type.Name,
    };

    /// <summary>The XML doc summary of <paramref name="member"/> (an ID such as <c>P:Ns.Type.Property</c>) as one line, from the assembly's XML file.</summary>
    private static string? Summary(Type owner, string member)
    {
        string file = Path.ChangeExtension(owner.Assembly.Location, ".xml");
        if (!File.Exists(file))
        {
            return null;
        }

        var element = Documents.GetOrAdd(file, XDocument.Load).Descendants("member").FirstOrDefault(m => (string?)m.Attribute("name") == member)?.Element("summary");
        if (element is null)
        {
            return null;
        }

        var words = new StringBuilder();
        foreach (var node in element.Nodes())
        {
            words.Append(node switch
            {
                XText textNode => textNode.Value,
                XElement { Name.LocalName: "c" } code => $"`{code.Value}`",
                XElement reference when reference.Attribute("cref") is { } cref => $"`{cref.Value[(cref.Value.LastIndexOf('.') + 1)..]}`",
                XElement reference when reference.Attribute("langword") is { } word => $"`{word.Value}`",
                XElement other => other.Value,
                _ => string.Empty,
            });
        }

        return string.Join(' ', words.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, XDocument> Documents = new();
}
