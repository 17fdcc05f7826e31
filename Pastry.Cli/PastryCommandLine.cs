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
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not one of Pastry's own failures (those are one line): most often the game's code failing at start, for
            // example an AI's StartAsync. The message comes first; the trace is for the game's author. Exit 1, not a crash.
            await Console.Error.WriteLineAsync($"{program}: failed: {ex.Message}{Environment.NewLine}{ex}").ConfigureAwait(false);
            return ExitRuntimeError;
        }
    }

    /// <summary>The <c>serve</c>, <c>migrate</c>, <c>backup</c>, <c>schema</c> and <c>bench</c> commands, for a root command.</summary>
    public static IReadOnlyList<Command> CreateCommands(params Assembly[] appAssemblies) => new[]
    {
        ServeCommand.Create(appAssemblies),
        MigrateCommand.Create(appAssemblies),
        BackupCommand.Create(),
        SchemaCommand.Create(appAssemblies),
        BenchCommand.Create(),
    };

    /// <summary>The <c>--app</c> option: a game assembly whose models (and AI) to load; repeatable.</summary>
    internal static Option<string[]> AppOption() => new("--app")
    {
        Description = "a game assembly (.dll) whose models, and AI application, to load, with the models libraries it references from its folder (MyGame.Ai.dll brings MyGame.Models.dll); repeat for several",
        HelpName = "assembly",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>
    /// The given assemblies plus every <c>--app</c> path, loaded, each with the game assemblies it references from its
    /// own folder (see <see cref="AddGameReferences"/>).
    /// </summary>
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

            Assembly assembly;
            try
            {
                assembly = Assembly.LoadFrom(full);
            }
            catch (BadImageFormatException)
            {
                throw new UsageException($"--app: '{full}' is not a .NET assembly.");
            }

            if (!assemblies.Contains(assembly))
            {
                assemblies.Add(assembly);
            }

            if (!DeclaresModels(assembly))
            {
                AddGameReferences(assembly, Path.GetDirectoryName(full)!, assemblies);
            }
        }

        return assemblies;
    }

    /// <summary>
    /// For an <c>--app</c> assembly that declares no models of its own (an AI project): adds the assemblies it
    /// references that sit in <paramref name="folder"/> and reference Pastry.Core themselves, that is its models
    /// library, which its build copies next to it. So <c>--app MyGame.Ai.dll</c> serves the models of
    /// <c>MyGame.Models.dll</c>, as the AI itself will use them. Other DLLs in the folder (a third-party library, a
    /// models library the game does not reference) are not loaded, and an assembly with models of its own brings only
    /// those (a test assembly that references a whole other game keeps its own schema).
    /// </summary>
    private static void AddGameReferences(Assembly assembly, string folder, List<Assembly> assemblies)
    {
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            string path = Path.Combine(folder, reference.Name + ".dll");
            if (PastryAssemblies.Contains(reference.Name!) || assemblies.Any(a => a.GetName().Name == reference.Name) || !File.Exists(path) || !ReferencesPastryCore(path))
            {
                continue;
            }

            var game = Assembly.LoadFrom(path);
            assemblies.Add(game);
            AddGameReferences(game, folder, assemblies);
        }
    }

    /// <summary>Whether <paramref name="assembly"/> declares a model (a concrete <see cref="DistributedObject{T}"/> subclass).</summary>
    private static bool DeclaresModels(Assembly assembly)
    {
        Type?[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            types = ex.Types;
        }

        return types.Any(type => type is { IsClass: true, IsAbstract: false } && IsModel(type));

        static bool IsModel(Type type)
        {
            for (var parent = type.BaseType; parent is not null; parent = parent.BaseType)
            {
                if (parent.IsGenericType && parent.GetGenericTypeDefinition() == typeof(DistributedObject<>))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The framework's own assemblies: the tool has them loaded already, and they are never a game's.</summary>
    private static readonly HashSet<string> PastryAssemblies = new(StringComparer.Ordinal)
    {
        typeof(ModelRegistry).Assembly.GetName().Name!,
        typeof(Pastry.Ai.IAiApplication).Assembly.GetName().Name!,
        typeof(Pastry.Otp.OtpServer).Assembly.GetName().Name!,
        typeof(Pastry.Client.PastryClient).Assembly.GetName().Name!,
        typeof(PastryCommandLine).Assembly.GetName().Name!,
    };

    /// <summary>Whether the file is a .NET assembly that references Pastry.Core, read from its metadata without loading it.</summary>
    private static bool ReferencesPastryCore(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            using var image = new System.Reflection.PortableExecutable.PEReader(file);
            if (!image.HasMetadata)
            {
                return false;
            }

            var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(image);
            string core = typeof(ModelRegistry).Assembly.GetName().Name!;
            return metadata.AssemblyReferences.Any(handle => metadata.StringComparer.Equals(metadata.GetAssemblyReference(handle).Name, core));
        }
        catch (BadImageFormatException)
        {
            return false;
        }
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
