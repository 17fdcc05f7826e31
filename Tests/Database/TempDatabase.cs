using Microsoft.Data.Sqlite;
using Pastry.Otp.Database;

namespace Pastry.Tests.Database;

/// <summary>A database file in a fresh temporary folder, deleted with it.</summary>
public sealed class TempDatabase : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("pastry-db").FullName;

    public TempDatabase()
    {
        Path = System.IO.Path.Combine(directory, "test.db");
    }

    public string Path { get; }

    /// <summary>Migrates the file for <paramref name="registry"/> in-process.</summary>
    public void Migrate(ModelRegistry registry, bool allowDataLoss = false)
    {
        using var connection = Open();
        Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(registry), DateTime.UtcNow), allowDataLoss);
    }

    public SqliteConnection Open() => SqliteDatabase.Open(Path, create: true);

    public static ModelRegistry Registry(params Type[] types) => ModelRegistry.FromTypes(types);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
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
