namespace Pastry.Otp.Database;

/// <summary>What went wrong with the database, so that callers (the CLI, tests) can react without parsing messages.</summary>
public enum DatabaseError
{
    /// <summary>The database file does not exist.</summary>
    Missing = 1,

    /// <summary>The file is not a SQLite database, or it is damaged.</summary>
    Corrupt = 2,

    /// <summary>The database's schema does not match the models: <c>pastry migrate</c> has not been run.</summary>
    Unmigrated = 3,

    /// <summary>A migration would lose data and <c>--allow-data-loss</c> was not given.</summary>
    DataLossRefused = 4,

    /// <summary>A migration failed and was rolled back.</summary>
    MigrationFailed = 5,

    /// <summary>A stored value fails its field's type or validators (for example, a row edited by hand).</summary>
    BadData = 6,

    /// <summary>The models cannot be mapped to tables (for example, a field named like the key column).</summary>
    Mapping = 7,

    /// <summary>A new unique constraint was refused because stored rows already share a value.</summary>
    DuplicatesRefused = 8,

    /// <summary>An online backup was refused (the destination exists or is the database) or failed (I/O, integrity check).</summary>
    BackupFailed = 9,

    /// <summary>The database server (PostgreSQL) cannot be reached, or refused the login: the message names the host.</summary>
    Unreachable = 10,
}

/// <summary>
/// A database problem with a message meant for the person running the server: it says what is wrong and what to do
/// (for example "run pastry migrate"). The CLI prints the message without a stack trace.
/// </summary>
public sealed class DatabaseException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DatabaseException(DatabaseError error, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
    }

    /// <summary>What went wrong.</summary>
    public DatabaseError Error { get; }
}
