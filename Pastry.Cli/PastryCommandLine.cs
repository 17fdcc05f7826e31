using System.Reflection;

namespace Pastry.Cli;

/// <summary>
/// The <c>pastry</c> command line: <c>serve</c>, <c>migrate</c>, <c>schema</c> and <c>bench</c> (ARCHITECTURE 6).
/// Games may call <see cref="RunAsync"/> from their own entry point with their model assemblies already loaded.
/// </summary>
public static class PastryCommandLine
{
    /// <summary>Exit code: success.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code: runtime error.</summary>
    public const int ExitRuntimeError = 1;

    /// <summary>Exit code: usage or configuration error.</summary>
    public const int ExitUsage = 2;

    /// <summary>Runs one command. <paramref name="appAssemblies"/> are searched for models in addition to <c>--app</c>.</summary>
    public static async Task<int> RunAsync(string[] args, params Assembly[] appAssemblies)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? ExitUsage : ExitOk;
        }

        var rest = args.Skip(1).ToArray();
        try
        {
            return args[0] switch
            {
                "schema" => SchemaCommand.Run(CommandOptions.Parse(rest), appAssemblies),
                "serve" => await ServeCommand.RunAsync(rest, appAssemblies).ConfigureAwait(false),
                "migrate" => MigrateCommand.Run(CommandOptions.Parse(rest), appAssemblies),
                "bench" => await Bench.BenchCommand.RunAsync(rest).ConfigureAwait(false),
                _ => throw new UsageException($"Unknown command '{args[0]}'."),
            };
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"pastry: {ex.Message}");
            Console.Error.WriteLine(Usage);
            return ExitUsage;
        }
        catch (ConfigurationException ex)
        {
            Console.Error.WriteLine($"pastry: configuration error: {ex.Message}");
            return ExitUsage;
        }
        catch (ModelDeclarationException ex)
        {
            Console.Error.WriteLine($"pastry: {ex.Message}");
            return ExitUsage;
        }
    }

    /// <summary>The usage text.</summary>
    public const string Usage = """
        usage: pastry <command> [options]

          serve   --role otp|ai|all [--config pastry.json] [--app <assembly>]   run the server roles
          migrate [--plan] [--db <path>] [--allow-data-loss] [--app <assembly>] create or alter the SQLite schema
          schema  [--json] [--app <assembly>]                                    print the models and the schema hash
          bench   fanout|idle [options] [--json]                                 load generator over real sockets (pastry bench --help)

        exit codes: 0 ok, 1 runtime error, 2 usage or configuration error
        """;

    /// <summary>Loads the registry from the given assemblies plus every <c>--app</c> path.</summary>
    internal static ModelRegistry LoadRegistry(CommandOptions options, IEnumerable<Assembly> appAssemblies) =>
        ModelRegistry.FromAssemblies(LoadAssemblies(options, appAssemblies));

    /// <summary>The given assemblies plus every <c>--app</c> path, loaded.</summary>
    internal static List<Assembly> LoadAssemblies(CommandOptions options, IEnumerable<Assembly> appAssemblies)
    {
        var assemblies = new List<Assembly>(appAssemblies);
        foreach (string path in options.GetAll("app"))
        {
            string full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                throw new UsageException($"--app: the assembly '{full}' does not exist.");
            }

            try
            {
                assemblies.Add(Assembly.LoadFrom(full));
            }
            catch (BadImageFormatException)
            {
                throw new UsageException($"--app: '{full}' is not a .NET assembly.");
            }
        }

        return assemblies;
    }
}

/// <summary>A wrong command line; reported with the usage text and exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A bad configuration value; reported with exit code 2. The message names the key.</summary>
internal sealed class ConfigurationException(string message) : Exception(message);
