using System.CommandLine;
using System.Reflection;

namespace Pastry.Cli;

/// <summary><c>pastry schema [--json] [--app &lt;assembly&gt;]</c>: prints the registered models and the schema hash.</summary>
internal static class SchemaCommand
{
    public static Command Create(IEnumerable<Assembly> appAssemblies)
    {
        var json = new Option<bool>("--json") { Description = "print the schema as JSON instead of text [default: false]" };
        var app = PastryCommandLine.AppOption();
        var schema = new Command("schema", "Prints the registered models, their fields and keywords, and the schema hash that clients must match.") { json, app };
        schema.SetAction(parse => Run(parse.GetValue(json), parse.GetValue(app) ?? Array.Empty<string>(), appAssemblies));
        return schema;
    }

    private static int Run(bool json, string[] apps, IEnumerable<Assembly> appAssemblies)
    {
        var registry = ModelRegistry.FromAssemblies(PastryCommandLine.LoadAssemblies(apps, appAssemblies));
        if (registry.Models.Count <= ModelRegistry.BuiltInModels.Count)
        {
            Console.Error.WriteLine("pastry: no models found. Pass the game's assembly with --app <path to dll>.");
            return PastryCommandLine.ExitUsage;
        }

        Console.Out.Write(json ? registry.ToIndentedJson() + Environment.NewLine : registry.ToText());
        return PastryCommandLine.ExitOk;
    }
}
