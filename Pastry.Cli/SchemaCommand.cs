using System.CommandLine;
using System.Reflection;

namespace Pastry.Cli;

/// <summary>
/// <c>pastry schema [--json] [--lock] [--check &lt;old lock&gt;] [--lock-file &lt;path&gt;] [--app &lt;assembly&gt;]</c>: prints the
/// registered models and the schema hash; <c>--lock</c> writes the schema lock (wire ids, kept forever); <c>--check</c>
/// says per change whether clients built from an old lock still work, and exits 3 on a breaking change (for CI).
/// </summary>
internal static class SchemaCommand
{
    public static Command Create(IEnumerable<Assembly> appAssemblies)
    {
        var json = new Option<bool>("--json") { Description = "print the schema as JSON instead of text [default: false]" };
        var writeLock = new Option<bool>("--lock") { Description = "write or update the schema lock: every class, field and RPC keeps its wire id, new ones get the next ids, removed ones retire theirs [default: false]" };
        var check = new Option<string>("--check") { Description = "compare the models with an old lock (the one shipped clients were built with) and list each change as compatible or breaking; exits 3 on a breaking change", HelpName = "old lock" };
        var lockFile = new Option<string>("--lock-file") { Description = "the schema lock --lock writes", DefaultValueFactory = _ => SchemaLock.FileName, HelpName = "path" };
        var app = PastryCommandLine.AppOption();
        var schema = new Command("schema", "Prints the registered models, their fields and keywords, and the schema hash that clients must match; writes and checks the schema lock.") { json, writeLock, check, lockFile, app };
        schema.SetAction(parse => Run(parse.GetValue(json), parse.GetValue(writeLock), parse.GetValue(check), parse.GetValue(lockFile)!, parse.GetValue(app) ?? Array.Empty<string>(), appAssemblies));
        return schema;
    }

    private static int Run(bool json, bool writeLock, string? check, string lockFile, string[] apps, IEnumerable<Assembly> appAssemblies)
    {
        var registry = ModelRegistry.FromAssemblies(PastryCommandLine.LoadAssemblies(apps, appAssemblies));
        if (registry.Models.Count <= ModelRegistry.BuiltInModels.Count)
        {
            Console.Error.WriteLine("pastry: no models found. Pass the game's assembly with --app <path to dll>.");
            return PastryCommandLine.ExitUsage;
        }

        if (check is not null)
        {
            return Check(registry, check);
        }

        if (writeLock)
        {
            return Lock(registry, lockFile);
        }

        Console.Out.Write(json ? registry.ToIndentedJson() + Environment.NewLine : registry.ToText());
        return PastryCommandLine.ExitOk;
    }

    private static int Lock(ModelRegistry registry, string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new UsageException("--lock-file needs a file path.");
        }

        var previous = File.Exists(path) ? SchemaLock.Load(path) : null;
        var next = SchemaLock.Update(registry, previous);
        var changes = previous is null ? Array.Empty<SchemaChange>() : SchemaCompatibility.Compare(previous, next);
        foreach (var change in changes)
        {
            Console.Out.WriteLine(change);
        }

        string text = next.ToJson();
        if (previous is not null && File.ReadAllText(path) == text)
        {
            Console.Out.WriteLine($"{Path.GetFullPath(path)} is up to date (schema {next.Hash}).");
            return PastryCommandLine.ExitOk;
        }

        File.WriteAllText(path, text);
        Console.Out.WriteLine($"Wrote {Path.GetFullPath(path)}: {next.Classes.Count(c => !c.Removed)} classes, schema {next.Hash}, {next.History.Count} earlier version(s). Embed it in the model assembly (EmbeddedResource, LogicalName {SchemaLock.FileName}) and rebuild.");
        return PastryCommandLine.ExitOk;
    }

    private static int Check(ModelRegistry registry, string oldPath)
    {
        var old = SchemaLock.Load(oldPath);
        var changes = SchemaCompatibility.Compare(old, SchemaLock.Update(registry, old));
        foreach (var change in changes)
        {
            Console.Out.WriteLine(change);
        }

        int breaking = changes.Count(c => c.IsBreaking);
        Console.Out.WriteLine(changes.Count == 0
            ? $"No changes since {Path.GetFullPath(oldPath)}."
            : $"{changes.Count} change(s) since {Path.GetFullPath(oldPath)}: {changes.Count - breaking} compatible, {breaking} breaking.");
        if (breaking > 0)
        {
            Console.Error.WriteLine($"pastry: the models break clients built with {Path.GetFullPath(oldPath)} (first: {changes[0].Rule} {changes[0].Subject}); ship a new app version, or keep the old member.");
            return PastryCommandLine.ExitBreakingSchema;
        }

        return PastryCommandLine.ExitOk;
    }
}
