namespace Pastry.Otp.Database;

/// <summary>
/// Settings of the Database role, bound from the <c>Database</c> section of <c>pastry.json</c> (ARCHITECTURE 4).
/// An empty <see cref="Path"/> (with the default SQLite <see cref="Provider"/>) turns the role off: objects live only
/// in RAM and accounts in memory.
/// </summary>
public sealed class DatabaseOptions
{
    /// <summary>The <see cref="Provider"/> value of the embedded SQLite file (the default).</summary>
    public const string SqliteProvider = "sqlite";

    /// <summary>The <see cref="Provider"/> value of a PostgreSQL server reached through <see cref="ConnectionString"/>.</summary>
    public const string PostgresProvider = "postgres";

    /// <summary>
    /// Where objects are stored: <c>sqlite</c> (the default: the file at <see cref="Path"/>, no setup) or <c>postgres</c>
    /// (a PostgreSQL server at <see cref="ConnectionString"/>, for several machines). The model mapping, batching,
    /// compare-and-swap, unique constraints, queries and <c>pastry migrate</c> behave the same on both.
    /// </summary>
    public string Provider { get; set; } = SqliteProvider;

    /// <summary>The SQLite file (provider <c>sqlite</c>). Empty disables the Database role. Default: <c>pastry.db</c> in the working directory.</summary>
    public string Path { get; set; } = "pastry.db";

    /// <summary>
    /// The PostgreSQL connection string (provider <c>postgres</c>), in Npgsql's form, for example
    /// <c>Host=127.0.0.1;Port=5432;Username=pastry;Password=...;Database=pastry</c>. Keep the password out of
    /// <c>pastry.json</c> with the environment (<c>PASTRY_Database__ConnectionString</c>, or Npgsql's <c>PGPASSWORD</c>).
    /// The tables live in the connection's current schema (<c>Search Path=</c> picks another). Default: empty.
    /// </summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>Whether the PostgreSQL provider is chosen.</summary>
    public bool IsPostgres => string.Equals(Provider, PostgresProvider, StringComparison.OrdinalIgnoreCase);

    /// <summary>The most requests applied in one transaction before it commits. Default: 4096.</summary>
    public int BatchMaxWrites { get; set; } = 4096;

    /// <summary>
    /// How long a batch may wait for more requests after its first one, when the queue is empty, before it commits.
    /// Zero (the default) commits as soon as the queue is drained: requests that arrive during a commit form the next
    /// batch anyway, so a busy server batches without adding latency to a quiet one.
    /// </summary>
    public TimeSpan BatchMaxDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// The most requests waiting in the role's inbox. When it is full, the State Server and AIs wait for room (so
    /// overload backs up to them) and a client's request is refused with an error and a log line. Default: 65536.
    /// </summary>
    public int MailboxCapacity { get; set; } = 65_536;

    /// <summary>
    /// Whether <c>serve</c> applies pending migrations itself (never one that would lose data). Default: false, so a
    /// server on an unmigrated database refuses to start and asks for <c>pastry migrate</c>.
    /// </summary>
    public bool AutoMigrate { get; set; }

    /// <summary>
    /// The most rows one query may return (an AI's <c>Query&lt;T&gt;()</c>); a query without <c>Take</c> that matches more
    /// is refused and asked to page with <c>Skip</c>/<c>Take</c>, so no query costs unbounded memory. Default: 1000.
    /// </summary>
    public int MaxQueryRows { get; set; } = 1000;

    /// <summary>
    /// The most queries waiting for the role's reader. Queries run one at a time on their own read-only connection, so
    /// they never hold up a write batch; one that finds the queue full is refused at once with status
    /// <c>Overloaded</c> (<c>DatabaseOverloadedException</c> on the AI) instead of waiting. Default: 256.
    /// </summary>
    public int MaxPendingQueries { get; set; } = 256;

    /// <summary>
    /// The most bytes of one query's answer. It must fit in one Message Director frame (<c>MessageDirector:MaxFrameBytes</c>,
    /// 4 MiB by default), so an answer that would be larger is refused with status <c>AnswerTooLarge</c>, naming this
    /// setting, and nothing is sent. Default: 3 MiB.
    /// </summary>
    public int MaxQueryAnswerBytes { get; set; } = 3 * 1024 * 1024;

    /// <summary>Whether the role is on (<see cref="Path"/> is not empty).</summary>
    public bool Enabled => IsPostgres || !string.IsNullOrWhiteSpace(Path);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (BatchMaxWrites is < 1 or > 1_000_000)
        {
            throw new ArgumentException("Database:BatchMaxWrites must be between 1 and 1000000.", "Database:BatchMaxWrites");
        }

        if (MailboxCapacity is < 16 or > 16_777_216)
        {
            throw new ArgumentException("Database:MailboxCapacity must be between 16 and 16777216.", "Database:MailboxCapacity");
        }

        if (MaxQueryRows is < 1 or > 100_000)
        {
            throw new ArgumentException("Database:MaxQueryRows must be between 1 and 100000.", "Database:MaxQueryRows");
        }

        if (MaxPendingQueries is < 1 or > 1_000_000)
        {
            throw new ArgumentException("Database:MaxPendingQueries must be between 1 and 1000000.", "Database:MaxPendingQueries");
        }

        if (MaxQueryAnswerBytes is < 1024 or > 16 * 1024 * 1024)
        {
            throw new ArgumentException("Database:MaxQueryAnswerBytes must be between 1024 and 16777216.", "Database:MaxQueryAnswerBytes");
        }

        if (BatchMaxDelay < TimeSpan.Zero || BatchMaxDelay > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException("Database:BatchMaxDelay must be between 00:00:00 and 00:00:01.", "Database:BatchMaxDelay");
        }

        if (!IsPostgres && !string.Equals(Provider, SqliteProvider, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Database:Provider must be '{SqliteProvider}' or '{PostgresProvider}', not '{Provider}'.", "Database:Provider");
        }

        if (IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(ConnectionString))
            {
                throw new ArgumentException("Database:ConnectionString is empty, but Database:Provider is postgres; give it, for example Host=127.0.0.1;Username=pastry;Password=...;Database=pastry.", "Database:ConnectionString");
            }

            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"Database:ConnectionString is not a PostgreSQL connection string: {ex.Message}", "Database:ConnectionString", ex);
            }

            return;
        }

        if (Enabled && Path.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
        {
            throw new ArgumentException("Database:Path contains characters that are not allowed in a path.", "Database:Path");
        }
    }
}
