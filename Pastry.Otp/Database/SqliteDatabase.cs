using Dapper;
using Microsoft.Data.Sqlite;

namespace Pastry.Otp.Database;

/// <summary>
/// Opens the SQLite file with Pastry's pragmas and turns SQLite's low-level failures into
/// <see cref="DatabaseException"/>s that say what to do.
/// </summary>
/// <remarks>
/// Pragmas: <c>journal_mode=WAL</c> (readers never block the writer, and a commit appends to the log instead of
/// rewriting pages); <c>synchronous=FULL</c>, because in WAL mode <c>NORMAL</c> does not sync the log on every commit, so
/// a power loss or OS crash can lose the last commits; <c>FULL</c> syncs the log before a commit returns, so every
/// acknowledged write is on disk (a SIGKILL alone would be safe even with <c>NORMAL</c>, since the OS still holds the
/// written pages, but a power loss would not). Batching many writes per transaction pays for the sync.
/// <c>busy_timeout=5000</c> waits up to five seconds for another connection's lock (the account store and a running
/// <c>pastry migrate</c>) instead of failing at once; <c>foreign_keys=OFF</c>, since Pastry declares none.
/// </remarks>
internal static class SqliteDatabase
{
    /// <summary>The table that records every migration.</summary>
    public const string HistoryTable = "pastry_migrations";

    /// <summary>The table of login accounts.</summary>
    public const string AccountsTable = "pastry_accounts";

    /// <summary>
    /// The collation of string columns in <c>[Unique(IgnoreCase = true)]</c> indexes: .NET's ordinal ignore-case
    /// comparison, which folds every Unicode letter (SQLite's own NOCASE folds ASCII only). Every connection Pastry opens
    /// registers it; a tool that lacks it (the sqlite3 shell) can read those tables but not write their indexed columns.
    /// </summary>
    public const string CaseFoldCollation = "pastry_nocase";

    private const int SqliteNotADatabase = 26;
    private const int SqliteCorrupt = 11;
    private const int SqliteCannotOpen = 14;

    /// <summary>
    /// Opens <paramref name="path"/> and applies the pragmas. Without <paramref name="create"/>, a missing file is an
    /// error that tells the user to run <c>pastry migrate</c>.
    /// </summary>
    /// <exception cref="DatabaseException">The file is missing, cannot be opened, or is not a SQLite database.</exception>
    public static SqliteConnection Open(string path, bool create)
    {
        string full = Path.GetFullPath(path);
        if (!create && !File.Exists(full))
        {
            throw new DatabaseException(DatabaseError.Missing, $"The database {full} does not exist. Create it with: pastry migrate --db {path} --app <your game's assembly>");
        }

        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 30,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            RegisterCollations(connection);
            connection.Execute("PRAGMA busy_timeout=5000");
            string mode = connection.ExecuteScalar<string>("PRAGMA journal_mode=WAL") ?? string.Empty;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new DatabaseException(DatabaseError.Corrupt, $"The database {full} could not be switched to WAL mode (it reports '{mode}').");
            }

            connection.Execute("PRAGMA synchronous=FULL");
            connection.Execute("PRAGMA foreign_keys=OFF");

            // Reading the schema is the first access to the file's pages: a damaged file fails here, not mid-game.
            connection.ExecuteScalar<long>("SELECT count(*) FROM sqlite_master");
            return connection;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw Translate(ex, full);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The function <c>pastry_starts_with(text, prefix, ignoreCase)</c>: 1 when the whole text starts with the whole
    /// prefix (ordinal, or ordinal ignoring case as <see cref="CaseFoldCollation"/> compares), else 0.
    /// </summary>
    public const string StartsWithFunction = "pastry_starts_with";

    /// <summary>
    /// Registers Pastry's collations (<see cref="CaseFoldCollation"/>) and its prefix test (<see cref="StartsWithFunction"/>)
    /// on an open connection. SQLite's <c>substr</c> stops at a NUL character, and so does reading a text argument as
    /// a string, so the prefix test reads both values as their UTF-8 bytes: a NUL in a query value stays plain data.
    /// </summary>
    public static void RegisterCollations(SqliteConnection connection)
    {
        connection.CreateCollation(CaseFoldCollation, (left, right) => string.Compare(left, right, StringComparison.OrdinalIgnoreCase));
        connection.CreateFunction<byte[]?, byte[]?, long, long>(StartsWithFunction, (text, prefix, ignoreCase) => StartsWith(text, prefix, ignoreCase != 0) ? 1 : 0, isDeterministic: true);
    }

    /// <summary>Whether the UTF-8 <paramref name="text"/> starts with the UTF-8 <paramref name="prefix"/>.</summary>
    internal static bool StartsWith(byte[]? text, byte[]? prefix, bool ignoreCase)
    {
        if (text is null || prefix is null)
        {
            return false;
        }

        if (!ignoreCase)
        {
            return text.AsSpan().StartsWith(prefix);
        }

        return System.Text.Encoding.UTF8.GetString(text).StartsWith(System.Text.Encoding.UTF8.GetString(prefix), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Turns a SQLite error about the file itself into a <see cref="DatabaseException"/>; others pass through.</summary>
    public static Exception Translate(SqliteException ex, string path) => ex.SqliteErrorCode switch
    {
        SqliteNotADatabase or SqliteCorrupt => new DatabaseException(DatabaseError.Corrupt, $"The database {path} is not a SQLite database or is damaged ({ex.Message}). Restore it from a backup, or move it away and run pastry migrate to start a new one.", ex),
        SqliteCannotOpen => new DatabaseException(DatabaseError.Missing, $"The database {path} cannot be opened ({ex.Message}). Check that its folder exists and is writable.", ex),
        _ => ex,
    };

    /// <summary>Whether a table exists.</summary>
    public static bool TableExists(SqliteConnection connection, string table, SqliteTransaction? transaction = null) =>
        Queries.SqliteDialect.Instance.TableExists(connection, table, transaction);
}
