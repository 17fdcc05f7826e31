using Dapper;
using Microsoft.Data.Sqlite;
using Pastry.Tests.Database;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Schema;

/// <summary><c>pastry schema --lock</c>, <c>--check</c> and <c>pastry migrate</c> by the lock, as real processes on real builds of a game's models.</summary>
[TestClass]
public sealed class SchemaLockProcessTests
{
    private string directory = null!;

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("pastry-lock").FullName;

    [TestCleanup]
    public void DeleteDirectory()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    private string InDirectory(string name) => Path.Combine(directory, name);

    [TestMethod]
    public async Task LockThenCheck_ACompatibleBuildExits0_ABreakingBuildExits3_NamingEachRule()
    {
        string lockFile = InDirectory(SchemaLock.FileName);
        string v1 = ModelAssembly.Build(InDirectory("GameV1.dll"), HeroVersions.V1);
        await using (var write = PastryProcess.Start("schema", "--lock", "--lock-file", lockFile, "--app", v1))
        {
            Assert.AreEqual(0, await write.WaitForExitAsync(), write.Output);
            StringAssert.Contains(write.Output, "Wrote " + lockFile);
        }

        await using (var again = PastryProcess.Start("schema", "--lock", "--lock-file", lockFile, "--app", v1))
        {
            Assert.AreEqual(0, await again.WaitForExitAsync(), again.Output);
            StringAssert.Contains(again.Output, "is up to date");
        }

        string v2 = ModelAssembly.Build(InDirectory("GameV2.dll"), HeroVersions.V2);
        await using (var compatible = PastryProcess.Start("schema", "--check", lockFile, "--app", v2))
        {
            Assert.AreEqual(0, await compatible.WaitForExitAsync(), compatible.Output);
            StringAssert.Matches(compatible.Output, new System.Text.RegularExpressions.Regex(@"compatible\s+rename-field\s+Hero\.Gold \(field 1\): renamed to Coins"));
            StringAssert.Contains(compatible.Output, "0 breaking");
        }

        string v3 = ModelAssembly.Build(InDirectory("GameV3.dll"), HeroVersions.V3);
        await using (var breaking = PastryProcess.Start("schema", "--check", lockFile, "--app", v3))
        {
            Assert.AreEqual(3, await breaking.WaitForExitAsync(), breaking.Output);
            StringAssert.Matches(breaking.Output, new System.Text.RegularExpressions.Regex(@"breaking\s+remove-field\s+Hero\.Motto \(field 2\)"));
            StringAssert.Matches(breaking.Output, new System.Text.RegularExpressions.Regex(@"breaking\s+tighten-validator\s+Hero\.Name \(field 0\)"));
            StringAssert.Contains(breaking.Output, "2 breaking");
        }

        await using (var missing = PastryProcess.Start("schema", "--check", InDirectory("nope.lock"), "--app", v3))
        {
            Assert.AreEqual(2, await missing.WaitForExitAsync(), missing.Output);
            StringAssert.Contains(missing.Output, "no schema lock at");
        }
    }

    [TestMethod]
    public async Task Migrate_ARenamedPropertyWithTheSameWireId_RenamesTheColumn_AndKeepsItsValues()
    {
        // Version 1 ships with its lock embedded, and its database holds a value.
        string lockFile = InDirectory(SchemaLock.FileName);
        await using (var write = PastryProcess.Start("schema", "--lock", "--lock-file", lockFile, "--app", ModelAssembly.Build(InDirectory("Lock1.dll"), HeroVersions.V1)))
        {
            Assert.AreEqual(0, await write.WaitForExitAsync(), write.Output);
        }

        string db = InDirectory("game.db");
        string v1 = ModelAssembly.Build(InDirectory("GameV1.dll"), HeroVersions.V1, File.ReadAllText(lockFile));
        await using (var migrate = PastryProcess.Start("migrate", "--db", db, "--app", v1))
        {
            Assert.AreEqual(0, await migrate.WaitForExitAsync(), migrate.Output);
        }

        using (var connection = new SqliteConnection($"Data Source={db}"))
        {
            connection.Execute("INSERT INTO Hero (doid, Gold, Motto) VALUES (X'01', 42, 'onward')");
        }

        // Version 2 renames Gold to Coins; its lock is updated with [RenamedFrom], which the build then drops: the lock alone carries the id.
        await using (var write = PastryProcess.Start("schema", "--lock", "--lock-file", lockFile, "--app", ModelAssembly.Build(InDirectory("Lock2.dll"), HeroVersions.V2)))
        {
            Assert.AreEqual(0, await write.WaitForExitAsync(), write.Output);
        }

        string v2 = ModelAssembly.Build(InDirectory("GameV2.dll"), HeroVersions.V2WithoutRenamedFrom, File.ReadAllText(lockFile));
        await using (var plan = PastryProcess.Start("migrate", "--plan", "--db", db, "--app", v2))
        {
            Assert.AreEqual(0, await plan.WaitForExitAsync(), plan.Output);
            StringAssert.Contains(plan.Output, "rename column Hero.Gold to Coins (same wire id 1; values kept)");
            StringAssert.Contains(plan.Output, "ALTER TABLE \"Hero\" RENAME COLUMN \"Gold\" TO \"Coins\"");
        }

        await using (var migrate = PastryProcess.Start("migrate", "--db", db, "--app", v2))
        {
            Assert.AreEqual(0, await migrate.WaitForExitAsync(), "No --allow-data-loss is needed: nothing is lost. " + migrate.Output);
        }

        using (var connection = new SqliteConnection($"Data Source={db}"))
        {
            Assert.AreEqual(42L, connection.ExecuteScalar<long>("SELECT Coins FROM Hero WHERE doid = X'01'"));
            Assert.AreEqual("onward", connection.ExecuteScalar<string>("SELECT Motto FROM Hero WHERE doid = X'01'"));
            CollectionAssert.DoesNotContain(connection.Query<string>("SELECT name FROM pragma_table_info('Hero')").ToList(), "Gold");
        }

        await using (var again = PastryProcess.Start("migrate", "--db", db, "--app", v2))
        {
            Assert.AreEqual(0, await again.WaitForExitAsync(), again.Output);
            StringAssert.Contains(again.Output, "Nothing to migrate");
        }
    }

    [TestMethod]
    public void Migrate_WithoutALock_ARenameNamedByRenamedFrom_IsAColumnRenameToo()
    {
        using var db = new TempDatabase();
        db.Migrate(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1)));
        using (var connection = db.Open())
        {
            connection.Execute("INSERT INTO Hero (doid, Gold, Motto) VALUES (X'01', 7, '')");
        }

        db.Migrate(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V2)));
        using (var connection = db.Open())
        {
            Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT Coins FROM Hero"));
        }
    }
}
