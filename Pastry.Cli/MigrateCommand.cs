using System.CommandLine;
using System.Data.Common;
using System.Reflection;
using Microsoft.Data.Sqlite;
using Pastry.Otp.Database;

namespace Pastry.Cli;

/// <summary>
/// <c>pastry migrate [--plan] [--db &lt;path&gt; | --provider postgres --connection &lt;string&gt;] [--allow-data-loss] [--app &lt;assembly&gt;]</c>:
/// brings the SQLite (or PostgreSQL) schema to the models' Db fields, as Django's <c>migrate</c> does: it compares the mapping recorded in
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
        var provider = new Option<string>("--provider") { Description = "sqlite (the file --db) or postgres (the server --connection) [default: sqlite]", DefaultValueFactory = _ => DatabaseOptions.SqliteProvider, HelpName = "sqlite|postgres" };
        var connection = new Option<string>("--connection") { Description = "the PostgreSQL connection string, for --provider postgres (or the environment variable PASTRY_Database__ConnectionString)", HelpName = "string" };
        var allowDataLoss = new Option<bool>("--allow-data-loss") { Description = "apply a migration that drops a field or model or changes a type, after copying the data to a pastry_backup_* table [default: false]" };
        var app = PastryCommandLine.AppOption();
        var migrate = new Command("migrate", "Creates or alters the database schema (SQLite, or PostgreSQL with --provider postgres) from the models' [Db] fields, in one transaction; a second run changes nothing.") { plan, db, provider, connection, allowDataLoss, app };
        migrate.SetAction(parse =>
        {
            var options = new DatabaseOptions
            {
                Provider = parse.GetValue(provider) ?? DatabaseOptions.SqliteProvider,
                Path = parse.GetValue(db)!,
                ConnectionString = parse.GetValue(connection) ?? Environment.GetEnvironmentVariable("PASTRY_Database__ConnectionString") ?? string.Empty,
            };
            return Run(options, parse.GetValue(plan), parse.GetValue(allowDataLoss), parse.GetValue(app) ?? Array.Empty<string>(), appAssemblies);
        });
        return migrate;
    }

    private static int Run(DatabaseOptions options, bool plan, bool allowDataLoss, string[] apps, IEnumerable<Assembly> appAssemblies)
    {
        string path = options.Path;
        if (!options.IsPostgres && !string.Equals(options.Provider, DatabaseOptions.SqliteProvider, StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"--provider must be {DatabaseOptions.SqliteProvider} or {DatabaseOptions.PostgresProvider}, not '{options.Provider}'.");
        }

        if (options.IsPostgres && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new UsageException("--provider postgres needs --connection \"Host=...;Username=...;Database=...\" (or the environment variable PASTRY_Database__ConnectionString).");
        }

        if (!options.IsPostgres && string.IsNullOrWhiteSpace(path))
        {
            throw new UsageException("--db needs a file path.");
        }

        var registry = ModelRegistry.FromAssemblies(PastryCommandLine.LoadAssemblies(apps, appAssemblies));
        string where = options.IsPostgres ? string.Empty : Path.GetFullPath(path);
        try
        {
            var mapping = DbMapping.FromRegistry(registry);
            if (mapping.Tables.Count == 0)
            {
                Console.Error.WriteLine("pastry: note: no model has [Db] fields (pass the game's assembly with --app <path to dll>); only Pastry's own tables are managed.");
            }

            where = DatabaseConnections.Describe(options);
            if (!options.IsPostgres && plan && !File.Exists(where))
            {
                // Planning must not create the file: plan against an empty database in memory instead.
                using var empty = new SqliteConnection("Data Source=:memory:");
                empty.Open();
                return Report(MigrationPlanner.Plan(empty, mapping, DateTime.UtcNow), where, plan: true, allowDataLoss);
            }

            // A PostgreSQL database must exist already (its owner creates it); the tables go in the connection's
            // current schema.
            using var connection = DatabaseConnections.Open(options, create: !plan);
            var migration = MigrationPlanner.Plan(connection, mapping, DateTime.UtcNow);
            if (plan || migration.IsEmpty || (migration.LosesData && !allowDataLoss))
            {
                return Report(migration, where, plan, allowDataLoss);
            }

            var statements = Migrator.Apply(connection, migration, allowDataLoss);
            Console.Out.Write(migration.ToSqlText());
            Console.Out.WriteLine($"Migrated {where}: {migration.Steps.Count} step(s), {statements.Count} statement(s), one transaction.");
            return PastryCommandLine.ExitOk;
        }
        catch (DatabaseException ex)
        {
            Console.Error.WriteLine($"pastry: {ex.Message}");
            return ex.Error is DatabaseError.DataLossRefused or DatabaseError.Mapping or DatabaseError.DuplicatesRefused ? PastryCommandLine.ExitUsage : PastryCommandLine.ExitRuntimeError;
        }
        catch (SqliteException ex)
        {
            Console.Error.WriteLine($"pastry: {SqliteDatabase.Translate(ex, where).Message}");
            return PastryCommandLine.ExitRuntimeError;
        }
        catch (DbException ex)
        {
            // A PostgreSQL server that went away mid-run, or refused a statement: one line naming it.
            Console.Error.WriteLine($"pastry: {DatabaseConnections.Unreachable(new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString), ex).Message}");
            return PastryCommandLine.ExitRuntimeError;
        }
    }

    private static int Report(MigrationPlan migration, string where, bool plan, bool allowDataLoss)
    {
        if (migration.IsEmpty)
        {
            Console.Out.WriteLine($"Nothing to migrate: {where} matches the models.");
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
