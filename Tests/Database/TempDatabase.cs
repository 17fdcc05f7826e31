using System.Data.Common;
using Microsoft.Data.Sqlite;
using Pastry.Otp.Database;

namespace Pastry.Tests.Database;

/// <summary>
/// A fresh database for one test: a SQLite file in a temporary folder (the default), or, with
/// <see cref="DatabaseOptions.PostgresProvider"/>, a fresh schema on the PostgreSQL server named by the environment
/// variable <see cref="PostgresVariable"/> (a connection string; <c>.ci/run</c> starts a server and sets it). Without
/// that variable a PostgreSQL test is Inconclusive, saying so, so a plain local <c>dotnet test</c> still passes.
/// Disposing deletes the folder or drops the schema.
/// </summary>
public sealed class TempDatabase : IDisposable
{
    /// <summary>The environment variable holding the test PostgreSQL server's connection string.</summary>
    public const string PostgresVariable = "TESTS_POSTGRES";

    private readonly string directory = Directory.CreateTempSubdirectory("pastry-db").FullName;
    private readonly string? schema;

    public TempDatabase(string provider = DatabaseOptions.SqliteProvider)
    {
        Provider = provider;
        Path = System.IO.Path.Combine(directory, "test.db");
        if (provider == DatabaseOptions.PostgresProvider)
        {
            string server = ServerOrInconclusive();
            schema = "t_" + Guid.NewGuid().ToString("N");
            using (var admin = DatabaseConnections.OpenPostgres(server))
            using (var command = admin.CreateCommand())
            {
                command.CommandText = $"CREATE SCHEMA {schema}";
                command.ExecuteNonQuery();
            }

            ConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(server) { SearchPath = schema, Pooling = false }.ConnectionString;
        }
    }

    /// <summary>The test PostgreSQL server's connection string, or the test ends Inconclusive with the reason.</summary>
    public static string ServerOrInconclusive()
    {
        string? server = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrWhiteSpace(server))
        {
            Assert.Inconclusive($"No PostgreSQL server for this test: set {PostgresVariable} to a connection string (.ci/run starts one with .ci/start-postgres and sets it).");
        }

        return server;
    }

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public string Provider { get; }

    /// <summary>The SQLite file (provider sqlite).</summary>
    public string Path { get; }

    /// <summary>The connection string, with this test's schema as its search path (provider postgres).</summary>
    public string ConnectionString { get; } = string.Empty;

    /// <summary>Whether this is the PostgreSQL database.</summary>
    public bool IsPostgres => schema is not null;

    /// <summary>Points a <see cref="DatabaseOptions"/> at this database.</summary>
    public void Apply(DatabaseOptions options)
    {
        options.Provider = Provider;
        options.Path = IsPostgres ? string.Empty : Path;
        options.ConnectionString = ConnectionString;
    }

    /// <summary>Options for this database.</summary>
    public DatabaseOptions Options(bool autoMigrate = false)
    {
        var options = new DatabaseOptions { AutoMigrate = autoMigrate };
        Apply(options);
        return options;
    }

    /// <summary>The <c>--Database:...</c> settings of a <c>pastry serve</c> that uses this database.</summary>
    public string[] ServeSettings => IsPostgres
        ? new[] { "--Database:Provider", "postgres", "--Database:ConnectionString", ConnectionString }
        : new[] { "--Database:Path", Path };

    /// <summary>The <c>pastry migrate</c> arguments that name this database.</summary>
    public string[] MigrateArguments => IsPostgres
        ? new[] { "--provider", "postgres", "--connection", ConnectionString }
        : new[] { "--db", Path };

    /// <summary>Migrates the database for <paramref name="registry"/> in-process.</summary>
    public void Migrate(ModelRegistry registry, bool allowDataLoss = false)
    {
        using var connection = Connect();
        Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(registry), DateTime.UtcNow), allowDataLoss);
    }

    /// <summary>Opens the SQLite file (provider sqlite only).</summary>
    public SqliteConnection Open() => IsPostgres ? throw new InvalidOperationException("Open() is SQLite's; use Connect().") : SqliteDatabase.Open(Path, create: true);

    /// <summary>Opens this database, SQLite or PostgreSQL.</summary>
    public DbConnection Connect() => IsPostgres ? DatabaseConnections.OpenPostgres(ConnectionString) : Open();

    public static ModelRegistry Registry(params Type[] types) => ModelRegistry.FromTypes(types);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (schema is not null)
        {
            using var admin = DatabaseConnections.OpenPostgres(Environment.GetEnvironmentVariable(PostgresVariable)!);
            using var command = admin.CreateCommand();
            command.CommandText = $"DROP SCHEMA IF EXISTS {schema} CASCADE";
            command.ExecuteNonQuery();
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A process killed by a test may still be closing the file; the OS cleans temp folders.
        }
    }
}
