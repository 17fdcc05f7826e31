using System.CommandLine;
using System.Reflection;
using Microsoft.Data.Sqlite;
using Pastry.Otp.Database;

namespace Pastry.Cli;

/// <summary>
/// <c>pastry migrate [--plan] [--db &lt;path&gt;] [--allow-data-loss] [--app &lt;assembly&gt;]</c>: brings the SQLite schema
/// to the models' Db fields, as Django's <c>migrate</c> does: it compares the mapping recorded in
/// <c>pastry_migrations</c> with the models, then creates tables and adds columns in one transaction. A change that
/// would lose data is refused unless <c>--allow-data-loss</c> is given, and then the data is first copied to a
/// <c>pastry_backup_*</c> table. <c>--plan</c> prints the SQL and changes nothing. Running it twice changes nothing the
/// second time. Exit codes: 0 done (or nothing to do), 2 refused or usage, 1 a runtime failure (rolled back).
/// </summary>
internal static class MigrateCommand
{
    public static Command Create(IEnumerable<Assembly> appAssemblies)
    {
        var plan = new Option<bool>("--plan") { Description = "print the SQL and change nothing [default: false]" };
        var db = new Option<string>("--db") { Description = "the SQLite file", DefaultValueFactory = _ => "pastry.db", HelpName = "path" };
        var allowDataLoss = new Option<bool>("--allow-data-loss") { Description = "apply a migration that drops a field or model or changes a type, after copying the data to a pastry_backup_* table [default: false]" };
        var app = PastryCommandLine.AppOption();
        var migrate = new Command("migrate", "Creates or alters the SQLite schema from the models' [Db] fields, in one transaction; a second run changes nothing.") { plan, db, allowDataLoss, app };
        migrate.SetAction(parse => Run(parse.GetValue(db)!, parse.GetValue(plan), parse.GetValue(allowDataLoss), parse.GetValue(app) ?? Array.Empty<string>(), appAssemblies));
        return migrate;
    }

    private static int Run(string path, bool plan, bool allowDataLoss, string[] apps, IEnumerable<Assembly> appAssemblies)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new UsageException("--db needs a file path.");
        }

        var registry = ModelRegistry.FromAssemblies(PastryCommandLine.LoadAssemblies(apps, appAssemblies));
        try
        {
            var mapping = DbMapping.FromRegistry(registry);
            if (mapping.Tables.Count == 0)
            {
                Console.Error.WriteLine("pastry: note: no model has [Db] fields (pass the game's assembly with --app <path to dll>); only Pastry's own tables are managed.");
            }

            bool exists = File.Exists(Path.GetFullPath(path));
            if (plan && !exists)
            {
                // Planning must not create the file: plan against an empty database in memory instead.
                using var empty = new SqliteConnection("Data Source=:memory:");
                empty.Open();
                return Report(MigrationPlanner.Plan(empty, mapping, DateTime.UtcNow), path, plan: true, allowDataLoss);
            }

            using var connection = SqliteDatabase.Open(path, create: !plan);
            var migration = MigrationPlanner.Plan(connection, mapping, DateTime.UtcNow);
            if (plan || migration.IsEmpty || (migration.LosesData && !allowDataLoss))
            {
                return Report(migration, path, plan, allowDataLoss);
            }

            var statements = Migrator.Apply(connection, migration, allowDataLoss);
            Console.Out.Write(migration.ToSqlText());
            Console.Out.WriteLine($"Migrated {Path.GetFullPath(path)}: {migration.Steps.Count} step(s), {statements.Count} statement(s), one transaction.");
            return PastryCommandLine.ExitOk;
        }
        catch (DatabaseException ex)
        {
            Console.Error.WriteLine($"pastry: {ex.Message}");
            return ex.Error is DatabaseError.DataLossRefused or DatabaseError.Mapping or DatabaseError.DuplicatesRefused ? PastryCommandLine.ExitUsage : PastryCommandLine.ExitRuntimeError;
        }
        catch (SqliteException ex)
        {
            Console.Error.WriteLine($"pastry: {SqliteDatabase.Translate(ex, Path.GetFullPath(path)).Message}");
            return PastryCommandLine.ExitRuntimeError;
        }
    }

    private static int Report(MigrationPlan migration, string path, bool plan, bool allowDataLoss)
    {
        if (migration.IsEmpty)
        {
            Console.Out.WriteLine($"Nothing to migrate: {Path.GetFullPath(path)} matches the models.");
            return PastryCommandLine.ExitOk;
        }

        Console.Out.Write(migration.ToSqlText());
        if (migration.LosesData && !allowDataLoss)
        {
            Console.Error.WriteLine($"pastry: {migration.DataLossMessage}");
            return PastryCommandLine.ExitUsage;
        }

        Console.Out.WriteLine($"Plan only (--plan): {migration.Steps.Count} step(s); nothing was changed.");
        return PastryCommandLine.ExitOk;
    }
}
