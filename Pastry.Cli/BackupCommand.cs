using System.CommandLine;
using Pastry.Otp.Database;

namespace Pastry.Cli;

/// <summary>
/// <c>pastry backup &lt;file&gt; [--db &lt;path&gt;] [--force]</c>: an online, consistent copy of the SQLite database,
/// safe while <c>pastry serve</c> runs and writes (see <see cref="DatabaseBackup"/>). Exit codes: 0 written, 2 refused
/// (the file exists, or is the database) or usage, 1 a runtime failure (nothing is left under the backup's name).
/// </summary>
internal static class BackupCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "the backup file to write" };
        var db = new Option<string>("--db") { Description = "the live SQLite database", DefaultValueFactory = _ => "pastry.db", HelpName = "path" };
        var force = new Option<bool>("--force") { Description = "replace the backup file when it exists [default: false]" };
        var provider = new Option<string>("--provider") { Description = "sqlite; for postgres the command says how to use pg_dump instead (or the environment variable PASTRY_Database__Provider) [default: sqlite]", HelpName = "sqlite|postgres" };
        var backup = new Command("backup", "Writes an online, consistent copy of the SQLite database, safe while the server runs and writes; the copy is integrity-checked before it takes the file's name. PostgreSQL: use pg_dump.") { file, db, force, provider };
        backup.SetAction(parse => Run(parse.GetValue(provider) ?? Environment.GetEnvironmentVariable("PASTRY_Database__Provider") ?? DatabaseOptions.SqliteProvider, parse.GetValue(db)!, parse.GetValue(file)!, parse.GetValue(force)));
        return backup;
    }

    private static int Run(string provider, string source, string destination, bool force)
    {
        if (string.Equals(provider, DatabaseOptions.PostgresProvider, StringComparison.OrdinalIgnoreCase))
        {
            // PostgreSQL has its own online, consistent dump; a second copy of it here would be worse.
            throw new UsageException(
                "pastry backup copies a SQLite database file; on PostgreSQL use pg_dump, which takes a consistent snapshot while the server writes: "
                + $"pg_dump --format=custom --file={destination} \"$PASTRY_Database__ConnectionString\" (a libpq connection string or postgresql:// URL), "
                + "and restore it with pg_restore --clean --if-exists --dbname=<connection> " + destination + ".");
        }

        if (!string.Equals(provider, DatabaseOptions.SqliteProvider, StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"--provider must be {DatabaseOptions.SqliteProvider} or {DatabaseOptions.PostgresProvider}, not '{provider}'.");
        }

        if (string.IsNullOrWhiteSpace(source))
        {
            throw new UsageException("--db needs a file path.");
        }

        try
        {
            var report = DatabaseBackup.Run(source, destination, force);
            long rows = 0;
            foreach (long count in report.Rows.Values)
            {
                rows += count;
            }

            Console.Out.WriteLine($"Backed up {report.Source} to {report.Destination}: {report.Bytes} bytes, {report.Rows.Count} table(s), {rows} row(s), integrity ok, in {report.Elapsed.TotalMilliseconds:F0} ms.");
            return PastryCommandLine.ExitOk;
        }
        catch (DatabaseException ex)
        {
            Console.Error.WriteLine($"pastry: {ex.Message}");
            return ex.Error == DatabaseError.BackupFailed && ex.InnerException is null ? PastryCommandLine.ExitUsage : PastryCommandLine.ExitRuntimeError;
        }
    }
}
