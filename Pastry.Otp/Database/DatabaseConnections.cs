using System.Data.Common;
using System.Net.Sockets;
using Dapper;
using Npgsql;
using Pastry.Otp.Database.Queries;

namespace Pastry.Otp.Database;

/// <summary>
/// The one place that knows which database a <see cref="DatabaseOptions"/> names: it opens the connection (SQLite file
/// or PostgreSQL server), says where it points in messages, and names the <c>pastry migrate</c> command that fixes an
/// unmigrated database. Everything after the open works on <see cref="DbConnection"/> and the connection's
/// <see cref="ISqlDialect"/> (<see cref="SqlDialects.Of"/>).
/// </summary>
internal static class DatabaseConnections
{
    /// <summary>
    /// Opens the database of <paramref name="options"/>. With <paramref name="create"/>, a missing SQLite file is created
    /// (a PostgreSQL database must exist already: creating one needs rights a game server should not have).
    /// </summary>
    /// <exception cref="DatabaseException">The file is missing or damaged, or the server cannot be reached; one line that names it.</exception>
    public static DbConnection Open(DatabaseOptions options, bool create) =>
        options.IsPostgres ? OpenPostgres(options.ConnectionString) : SqliteDatabase.Open(options.Path, create);

    /// <summary>Where the database is, for messages: the SQLite file's full path, or the PostgreSQL database, user, host and port (never the password).</summary>
    public static string Describe(DatabaseOptions options)
    {
        if (!options.IsPostgres)
        {
            return Path.GetFullPath(options.Path);
        }

        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        return $"PostgreSQL database {builder.Database ?? builder.Username ?? "(default)"} on {builder.Host ?? "localhost"}:{builder.Port}{(string.IsNullOrEmpty(builder.SearchPath) ? string.Empty : $" (schema {builder.SearchPath})")}";
    }

    /// <summary>The <c>pastry migrate</c> command line that migrates this database.</summary>
    public static string MigrateCommand(DatabaseOptions options) => options.IsPostgres
        ? "pastry migrate --provider postgres --connection \"<Database:ConnectionString>\" --app <your game's assembly>"
        : $"pastry migrate --db {options.Path} --app <your game's assembly>";

    /// <summary>
    /// Checks that the database matches the models before a server uses it. With <paramref name="autoMigrate"/>, a
    /// pending migration that loses no data is applied; anything else is refused with a message naming the changes
    /// and the command to run.
    /// </summary>
    /// <exception cref="DatabaseException">The database is not migrated (or a migration would lose data).</exception>
    public static void EnsureMigrated(DbConnection connection, DbMapping target, DatabaseOptions options, bool autoMigrate)
    {
        var plan = MigrationPlanner.Plan(connection, target, DateTime.UtcNow);
        if (plan.IsEmpty)
        {
            return;
        }

        string changes = string.Join("; ", plan.Steps.Select(s => s.Description));
        if (autoMigrate && !plan.LosesData)
        {
            Migrator.Apply(connection, plan, allowDataLoss: false);
            return;
        }

        string why = autoMigrate ? " Database:AutoMigrate never applies a change that loses data." : string.Empty;
        throw new DatabaseException(
            DatabaseError.Unmigrated,
            $"The database {Describe(options)} is not migrated for these models ({changes}).{why} Run: {MigrateCommand(options)}{(plan.LosesData ? " --allow-data-loss (after reading pastry migrate --plan)" : string.Empty)}");
    }

    /// <summary>The mapping recorded by the last migration, or null when no migration ever ran.</summary>
    public static DbMapping? LastMapping(DbConnection connection, DbTransaction? transaction = null)
    {
        if (!SqlDialects.Of(connection).TableExists(connection, SqliteDatabase.HistoryTable, transaction))
        {
            return null;
        }

        string? json = connection.ExecuteScalar<string?>($"SELECT mapping FROM {SqliteDatabase.HistoryTable} ORDER BY id DESC LIMIT 1", transaction: transaction);
        return json is null ? null : DbMapping.FromJson(json);
    }

    /// <summary>
    /// Reopens a connection that a failure closed (a PostgreSQL server that restarted or dropped the link), so the next
    /// batch or query retries on a fresh link instead of failing forever. An open connection is left alone.
    /// </summary>
    public static void Reconnect(DbConnection connection)
    {
        if (connection.State == System.Data.ConnectionState.Open)
        {
            return;
        }

        if (connection.State != System.Data.ConnectionState.Closed)
        {
            connection.Close();
        }

        connection.Open();
    }

    /// <summary>Opens a PostgreSQL connection and checks that it answers, turning every failure into one line that names the server.</summary>
    /// <exception cref="DatabaseException">The connection string is malformed, or the server cannot be reached or refuses the login.</exception>
    public static NpgsqlConnection OpenPostgres(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new DatabaseException(DatabaseError.Unreachable, $"Database:ConnectionString is not a PostgreSQL connection string: {ex.Message}", ex);
        }

        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            connection.ExecuteScalar<int>("SELECT 1");
            return connection;
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            connection.Dispose();
            throw Unreachable(builder, ex);
        }
    }

    /// <summary>A one-line error for a PostgreSQL server that cannot be used, naming the host, port, database and user and why.</summary>
    public static DatabaseException Unreachable(NpgsqlConnectionStringBuilder builder, Exception ex)
    {
        string why = ex switch
        {
            PostgresException postgres => $"{postgres.MessageText} ({postgres.SqlState})",
            _ when Innermost(ex) is SocketException socket => socket.Message,
            _ => Innermost(ex).Message,
        };
        return new DatabaseException(
            DatabaseError.Unreachable,
            $"Cannot use the PostgreSQL server at {builder.Host ?? "localhost"}:{builder.Port} (database {builder.Database ?? builder.Username ?? "(default)"}, user {builder.Username ?? "(default)"}): {why.ReplaceLineEndings(" ")}. Check Database:ConnectionString and that the server is running and accepts this user.",
            ex);
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
