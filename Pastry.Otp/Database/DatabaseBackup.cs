using System.Diagnostics;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Pastry.Otp.Database;

/// <summary>What <see cref="DatabaseBackup.Run"/> wrote.</summary>
/// <param name="Source">The live database, as a full path.</param>
/// <param name="Destination">The backup file, as a full path.</param>
/// <param name="Bytes">The backup file's size.</param>
/// <param name="Rows">The rows of each table in the backup, by table name (Pastry's own tables included).</param>
/// <param name="Elapsed">How long the copy, the check and the rename took.</param>
internal sealed record BackupReport(string Source, string Destination, long Bytes, IReadOnlyDictionary<string, long> Rows, TimeSpan Elapsed);

/// <summary>
/// An online, consistent copy of a Pastry SQLite database, safe while the server runs and writes (<c>pastry backup</c>).
/// </summary>
/// <remarks>
/// It uses SQLite's backup API in one step, so the copy is read inside one read transaction: in WAL mode that is a
/// snapshot of the last commit before the copy began, and the server's writer never waits for it (a reader does not
/// block a WAL writer). Every write the server acknowledged before the backup began is in the copy; a write committed
/// during the copy is not (it is in the next one). The copy is written to <c>&lt;file&gt;.partial</c>, switched to a
/// self-contained rollback journal (no <c>-wal</c> file beside it), checked with <c>PRAGMA integrity_check</c>, synced,
/// and only then renamed over the destination, so a crash or a failed check never leaves a half-written file under the
/// backup's name.
/// </remarks>
internal static class DatabaseBackup
{
    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/>.</summary>
    /// <param name="source">The live database file.</param>
    /// <param name="destination">The backup file to write.</param>
    /// <param name="overwrite">Replace <paramref name="destination"/> when it exists; without it, an existing file is refused.</param>
    /// <exception cref="DatabaseException">The source is missing or damaged, the destination is the source or exists, or the copy failed its check.</exception>
    public static BackupReport Run(string source, string destination, bool overwrite)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(destination);
        string from = Path.GetFullPath(source);
        string to = Path.GetFullPath(destination);
        if (string.Equals(from, to, StringComparison.Ordinal))
        {
            throw new DatabaseException(DatabaseError.BackupFailed, $"The backup file {to} is the database itself; name another file.");
        }

        if (!File.Exists(from))
        {
            throw new DatabaseException(DatabaseError.Missing, $"The database {from} does not exist.");
        }

        if (File.Exists(to) && !overwrite)
        {
            throw new DatabaseException(DatabaseError.BackupFailed, $"The backup file {to} already exists; remove it or pass --force to replace it.");
        }

        string? folder = Path.GetDirectoryName(to);
        if (folder is not null && !Directory.Exists(folder))
        {
            throw new DatabaseException(DatabaseError.BackupFailed, $"The folder {folder} of the backup file does not exist.");
        }

        var clock = Stopwatch.StartNew();
        string partial = to + ".partial";
        DeleteQuietly(partial);
        try
        {
            // Read-write without create, although it only reads: a read-only connection to a WAL database fails when the
            // server has stopped and its -shm file is gone. The backup step writes nothing to the live file.
            using (var live = Connect(from, SqliteOpenMode.ReadWrite))
            using (var copy = Connect(partial, SqliteOpenMode.ReadWriteCreate))
            {
                live.BackupDatabase(copy);
                copy.Execute("PRAGMA journal_mode=DELETE");
            }

            Dictionary<string, long> rows;
            using (var copy = Connect(partial, SqliteOpenMode.ReadWrite))
            {
                string check = string.Join("; ", copy.Query<string>("PRAGMA integrity_check"));
                if (!string.Equals(check, "ok", StringComparison.Ordinal))
                {
                    throw new DatabaseException(DatabaseError.BackupFailed, $"The copy of {from} failed its integrity check ({check}); nothing was written to {to}.");
                }

                rows = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (string table in copy.Query<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))
                {
                    rows[table] = copy.ExecuteScalar<long>($"SELECT count(*) FROM \"{table.Replace("\"", "\"\"", StringComparison.Ordinal)}\"");
                }
            }

            using (var file = new FileStream(partial, FileMode.Open, FileAccess.ReadWrite))
            {
                file.Flush(flushToDisk: true);
            }

            File.Move(partial, to, overwrite: true);
            return new BackupReport(from, to, new FileInfo(to).Length, rows, clock.Elapsed);
        }
        catch (SqliteException ex)
        {
            DeleteQuietly(partial);
            var translated = SqliteDatabase.Translate(ex, from);
            throw translated as DatabaseException ?? new DatabaseException(DatabaseError.BackupFailed, $"The backup of {from} to {to} failed: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            DeleteQuietly(partial);
            throw new DatabaseException(DatabaseError.BackupFailed, $"The backup of {from} to {to} failed: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            DeleteQuietly(partial);
            throw new DatabaseException(DatabaseError.BackupFailed, $"The backup of {from} to {to} failed: {ex.Message}", ex);
        }
        catch
        {
            DeleteQuietly(partial);
            throw;
        }
    }

    private static SqliteConnection Connect(string path, SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false, DefaultTimeout = 30 }.ToString());
        connection.Open();

        // The indexes of [Unique(IgnoreCase = true)] columns use Pastry's collation: the integrity check needs it.
        SqliteDatabase.RegisterCollations(connection);
        connection.Execute("PRAGMA busy_timeout=5000");
        return connection;
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
            File.Delete(path + "-journal");
        }
        catch (IOException)
        {
            // Best effort: a leftover .partial file is replaced by the next backup.
        }
    }
}
