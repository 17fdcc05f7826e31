using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace Pastry.Cli;

/// <summary>
/// The <c>pastry</c> command line: <c>serve</c>, <c>migrate</c>, <c>backup</c>, <c>schema</c> and <c>bench</c> (ARCHITECTURE 6), on
/// one parser (System.CommandLine): per-command <c>--help</c> with every option and its default, <c>--version</c>, and
/// suggestions for a mistyped command or option. Games may call <see cref="RunAsync"/> from their own entry point
/// with their model assemblies already loaded, or add <see cref="CreateCommands"/> to their own root command.
/// </summary>
public static class PastryCommandLine
{
    /// <summary>Exit code: success.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code: runtime error.</summary>
    public const int ExitRuntimeError = 1;

    /// <summary>Exit code: usage or configuration error.</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code of <c>pastry schema --check</c>: the models break compatibility with the old lock.</summary>
    public const int ExitBreakingSchema = 3;

    /// <summary>Runs one command. <paramref name="appAssemblies"/> are searched for models in addition to <c>--app</c>.</summary>
    public static Task<int> RunAsync(string[] args, params Assembly[] appAssemblies)
    {
        var root = new RootCommand("pastry: run, migrate, back up and measure a Pastry game server (exit codes: 0 ok, 1 runtime error, 2 usage or configuration error, 3 schema --check found a breaking change).");
        foreach (var command in CreateCommands(appAssemblies))
        {
            root.Subcommands.Add(command);
        }

        return InvokeAsync(root, args, "pastry");
    }

    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="root"/> and runs the chosen command, mapping a parse error
    /// to exit code 2 (with suggestions for a mistyped command or option) and Pastry's usage and configuration errors to
    /// one line and exit code 2.
    /// </summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args, string program)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction error)
        {
            // The errors and "did you mean" lines, without the whole help text after them.
            error.ShowHelp = false;
        }

        try
        {
            // The host handles Ctrl+C and SIGTERM itself (graceful stop); the parser must not.
            int code = await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
            if (parse.Errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"See '{program} {string.Join(' ', CommandPath(parse))} --help'.".Replace("  ", " ", StringComparison.Ordinal)).ConfigureAwait(false);
                return ExitUsage;
            }

            return code;
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync($"{program}: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"{program}: configuration error: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (ModelDeclarationException ex)
        {
            await Console.Error.WriteLineAsync($"{program}: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        catch (SchemaLockException ex)
        {
            await Console.Error.WriteLineAsync($"{program}: {ex.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
    }

    /// <summary>The <c>serve</c>, <c>migrate</c>, <c>backup</c>, <c>schema</c> and <c>bench</c> commands, for a root command.</summary>
    public static IReadOnlyList<Command> CreateCommands(params Assembly[] appAssemblies) => new[]
    {
        ServeCommand.Create(appAssemblies),
        MigrateCommand.Create(appAssemblies),
        BackupCommand.Create(),
        SchemaCommand.Create(appAssemblies),
        Bench.BenchCommandLine.Create(),
    };

    /// <summary>The <c>--app</c> option: a game assembly whose models (and AI) to load; repeatable.</summary>
    internal static Option<string[]> AppOption() => new("--app")
    {
        Description = "a game assembly (.dll) whose models, and AI application, to load; repeat for several",
        HelpName = "assembly",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The given assemblies plus every <c>--app</c> path, loaded.</summary>
    internal static List<Assembly> LoadAssemblies(IEnumerable<string> paths, IEnumerable<Assembly> appAssemblies)
    {
        var assemblies = new List<Assembly>(appAssemblies);
        foreach (string path in paths)
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

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null && result.Command is not RootCommand; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Insert(0, result.Command.Name);
        }

        return names;
    }
}

/// <summary>A wrong command line; reported as one line with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A bad configuration value; reported with exit code 2. The message names the key.</summary>
internal sealed class ConfigurationException(string message) : Exception(message);
