using System.Reflection;

namespace Pastry.Cli;

/// <summary><c>pastry schema [--json] [--app &lt;assembly&gt;]</c>: prints the registered models and the schema hash.</summary>
internal static class SchemaCommand
{
    public static int Run(CommandOptions options, IEnumerable<Assembly> appAssemblies)
    {
        options.AllowOnly("json", "app");
        var registry = PastryCommandLine.LoadRegistry(options, appAssemblies);
        if (registry.Models.Count <= ModelRegistry.BuiltInModels.Count)
        {
            Console.Error.WriteLine("pastry: no models found. Pass the game's assembly with --app <path to dll>.");
            return PastryCommandLine.ExitUsage;
        }

        Console.Out.Write(options.Has("json") ? registry.ToIndentedJson() + Environment.NewLine : registry.ToText());
        return PastryCommandLine.ExitOk;
    }
}
