using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Otp.Database;
using Pastry.Otp.MessageDirector;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary><c>pastry migrate</c>: plan, apply, idempotence, data-loss refusal and backup, rollback, and serve's refusal.</summary>
[TestClass]
public sealed class MigrationTests
{
    private static readonly ModelRegistry V1 = TempDatabase.Registry(typeof(HoardVersions<int>.Hoard));
    private static readonly ModelRegistry V2 = TempDatabase.Registry(typeof(HoardVersions<int>.V2.Hoard));
    private static readonly ModelRegistry V3 = TempDatabase.Registry(typeof(HoardVersions<int>.V3.Hoard));

    [TestMethod]
    public void Plan_OnANewDatabase_ListsTheSql_AndChangesNothing()
    {
        using var db = new TempDatabase();
        using var connection = db.Open();
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V1), DateTime.UtcNow);

        string sql = plan.ToSqlText();
        StringAssert.Contains(sql, "CREATE TABLE pastry_migrations");
        StringAssert.Contains(sql, "CREATE TABLE pastry_accounts");
        StringAssert.Contains(sql, "CREATE TABLE \"Hoard\" (doid BLOB PRIMARY KEY NOT NULL, \"Gold\" INTEGER NOT NULL DEFAULT 0, \"Label\" TEXT NOT NULL DEFAULT '')");
        Assert.IsFalse(SqliteDatabase.TableExists(connection, "Hoard"));
        Assert.IsFalse(SqliteDatabase.TableExists(connection, SqliteDatabase.HistoryTable));
    }

    [TestMethod]
    public void Apply_CreatesTablesAndHistory_AndASecondRunChangesNothing()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        Assert.IsTrue(SqliteDatabase.TableExists(connection, "Hoard"));
        Assert.AreEqual(1L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"));

        var again = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V1), DateTime.UtcNow);
        Assert.IsTrue(again.IsEmpty, again.ToSqlText());
        Assert.AreEqual(0, Migrator.Apply(connection, again, allowDataLoss: false).Count);
        Assert.AreEqual(1L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"));
    }

    [TestMethod]
    public void NewFields_BecomeColumnsWithTheirDefaults_AndRowsKeepTheirValues()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'old')");
        Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V2), DateTime.UtcNow), allowDataLoss: false);

        var row = connection.QuerySingle<(long Gold, string Label, long Gems, string Weights)>("SELECT Gold, Label, Gems, Weights FROM Hoard");
        Assert.AreEqual((7L, "old", 0L, "[]"), row);
        Assert.AreEqual(2L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"));
    }

    [TestMethod]
    public void RemovedField_IsRefused_NamingTheFieldAndTheFlag_AndNothingChanges()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'keep me')");
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V3), DateTime.UtcNow);

        var refused = Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, plan, allowDataLoss: false));
        Assert.AreEqual(DatabaseError.DataLossRefused, refused.Error);
        StringAssert.Contains(refused.Message, "Hoard.Label");
        StringAssert.Contains(refused.Message, "--allow-data-loss");
        Assert.AreEqual("keep me", connection.ExecuteScalar<string>("SELECT Label FROM Hoard"));
        Assert.AreEqual(1L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"));
    }

    [TestMethod]
    public void RemovedField_WithAllowDataLoss_IsBackedUpThenDropped()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'keep me')");
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V3), new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        Migrator.Apply(connection, plan, allowDataLoss: true);

        Assert.AreEqual("keep me", connection.ExecuteScalar<string>("SELECT Label FROM pastry_backup_Hoard_Label_20250102030405 WHERE doid = X'01'"));
        var columns = connection.Query<string>("SELECT name FROM pragma_table_info('Hoard')").ToList();
        CollectionAssert.AreEqual(new[] { "doid", "Gold" }, columns);
        Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT Gold FROM Hoard"));
        Assert.IsTrue(MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V3), DateTime.UtcNow).IsEmpty);
    }

    [TestMethod]
    public void ChangedType_IsRefused_AndWithTheFlag_KeepsTheOldValuesInABackup()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'x')");
        var target = DbMapping.FromRegistry(TempDatabase.Registry(typeof(HoardVersions<int>.GoldAsText.Hoard)));
        var plan = MigrationPlanner.Plan(connection, target, new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        StringAssert.Contains(plan.DataLossMessage, "Hoard.Gold changes type from int32 to string");

        Migrator.Apply(connection, plan, allowDataLoss: true);
        Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT Gold FROM pastry_backup_Hoard_Gold_20250102030405"));
        Assert.AreEqual("text", connection.ExecuteScalar<string>("SELECT typeof(Gold) FROM Hoard"));
        Assert.AreEqual("x", connection.ExecuteScalar<string>("SELECT Label FROM Hoard"));
    }

    [TestMethod]
    public void Widening_KeepsValues_WithoutAllowDataLoss()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'x')");
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(TempDatabase.Registry(typeof(HoardVersions<int>.GoldAsLong.Hoard))), DateTime.UtcNow);
        Assert.IsFalse(plan.LosesData);
        Migrator.Apply(connection, plan, allowDataLoss: false);
        Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT Gold FROM Hoard"));
    }

    [TestMethod]
    public void FloatWidenedToDouble_KeepsEveryStoredValue_WithoutAllowDataLoss()
    {
        using var db = new TempDatabase();
        db.Migrate(TempDatabase.Registry(typeof(HoardVersions<int>.WeightAsFloat.Hoard)));
        using var connection = db.Open();
        float[] weights = { 0.1f, 2.5f, -1e30f, float.Epsilon };
        for (int i = 0; i < weights.Length; i++)
        {
            connection.Execute("INSERT INTO Hoard (doid, Weight, Label) VALUES (@doid, @weight, 'x')", new { doid = new[] { (byte)(i + 1) }, weight = (double)weights[i] });
        }

        var target = DbMapping.FromRegistry(TempDatabase.Registry(typeof(HoardVersions<int>.WeightAsDouble.Hoard)));
        var plan = MigrationPlanner.Plan(connection, target, DateTime.UtcNow);
        Assert.IsFalse(plan.LosesData, plan.DataLossMessage);
        Assert.AreEqual("widen Hoard.Weight from float32 to float64 (values kept)", plan.Steps.Single(s => s.Description.StartsWith("widen", StringComparison.Ordinal)).Description);
        Migrator.Apply(connection, plan, allowDataLoss: false);

        // Every value reads back as the same double the float was, from a REAL column, and the history now says double.
        var stored = connection.Query<double>("SELECT Weight FROM Hoard ORDER BY doid").ToArray();
        CollectionAssert.AreEqual(weights.Select(w => (double)w).ToArray(), stored);
        Assert.AreEqual("real", connection.ExecuteScalar<string>("SELECT DISTINCT typeof(Weight) FROM Hoard"));
        Assert.IsTrue(MigrationPlanner.Plan(connection, target, DateTime.UtcNow).IsEmpty, "A second run has nothing to do.");
    }

    [TestMethod]
    public void RenamedField_CountsAsRemovedPlusAdded_RefusedWithoutTheFlag_BackedUpWithIt()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'x')");
        var target = DbMapping.FromRegistry(TempDatabase.Registry(typeof(HoardVersions<int>.GoldRenamed.Hoard)));
        var plan = MigrationPlanner.Plan(connection, target, new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        CollectionAssert.Contains(plan.Steps.Select(s => s.Description).ToList(), "add column Hoard.Coins (int32, default 0)");
        StringAssert.Contains(plan.DataLossMessage, "field Hoard.Gold was removed");

        var refused = Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, plan, allowDataLoss: false));
        Assert.AreEqual(DatabaseError.DataLossRefused, refused.Error);
        StringAssert.Contains(refused.Message, "--allow-data-loss");
        Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT Gold FROM Hoard"), "Refused means the old column and its value stay.");
        CollectionAssert.AreEqual(new[] { "doid", "Gold", "Label" }, connection.Query<string>("SELECT name FROM pragma_table_info('Hoard')").ToList());

        Migrator.Apply(connection, plan, allowDataLoss: true);
        Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT Gold FROM pastry_backup_Hoard_Gold_20250102030405 WHERE doid = X'01'"));
        Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT Coins FROM Hoard"), "The new name starts at the type's default: no value is carried over.");
        Assert.AreEqual("x", connection.ExecuteScalar<string>("SELECT Label FROM Hoard"));
    }

    [TestMethod]
    public async Task AutoMigrate_AppliesASafeChange_ButRefusesALossyOne_AndTheFileKeepsItsData()
    {
        using var db = new TempDatabase();
        db.Migrate(V1);
        using (var connection = db.Open())
        {
            connection.Execute("INSERT INTO Hoard (doid, Gold, Label) VALUES (X'01', 7, 'keep me')");
        }

        // Safe (two columns added): the server applies it at start.
        await using (new DatabaseServer(new InProcessRouter(), V2, new DatabaseOptions { Path = db.Path, AutoMigrate = true }, NullLogger.Instance))
        {
        }

        using (var connection = db.Open())
        {
            Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT Gems FROM Hoard WHERE doid = X'01'"));
        }

        // Lossy (Label removed): refused with the reason and the command, and the column keeps its value.
        var refused = Assert.ThrowsExactly<DatabaseException>(() => new DatabaseServer(new InProcessRouter(), V3, new DatabaseOptions { Path = db.Path, AutoMigrate = true }, NullLogger.Instance));
        Assert.AreEqual(DatabaseError.Unmigrated, refused.Error);
        StringAssert.Contains(refused.Message, "Database:AutoMigrate never applies a change that loses data");
        StringAssert.Contains(refused.Message, "--allow-data-loss");
        SqliteConnection.ClearAllPools();
        using (var connection = db.Open())
        {
            Assert.AreEqual("keep me", connection.ExecuteScalar<string>("SELECT Label FROM Hoard WHERE doid = X'01'"));
            Assert.AreEqual(2L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"), "Only the safe migration was recorded.");
        }
    }

    [TestMethod]
    public void RemovedModel_IsRefused_AndWithTheFlag_ItsRowsAreBackedUp()
    {
        using var db = new TempDatabase();
        db.Migrate(TempDatabase.Registry(typeof(HoardVersions<int>.Hoard), typeof(HoardVersions<int>.Vault)));
        using var connection = db.Open();
        connection.Execute("INSERT INTO Vault (doid, Coins) VALUES (X'02', 99)");
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V1), new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        StringAssert.Contains(plan.DataLossMessage, "model Vault");
        Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, plan, allowDataLoss: false));
        Assert.IsTrue(SqliteDatabase.TableExists(connection, "Vault"));

        Migrator.Apply(connection, plan, allowDataLoss: true);
        Assert.IsFalse(SqliteDatabase.TableExists(connection, "Vault"));
        Assert.AreEqual(99L, connection.ExecuteScalar<long>("SELECT Coins FROM pastry_backup_Vault_20250102030405"));
    }

    [TestMethod]
    public void AMigrationThatFailsHalfway_IsRolledBack_Entirely()
    {
        using var db = new TempDatabase();
        using var connection = db.Open();

        // A table made by hand collides with the last step (create Vault), after Pastry's tables and Hoard were made.
        connection.Execute("CREATE TABLE Vault (anything TEXT)");
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(TempDatabase.Registry(typeof(HoardVersions<int>.Hoard), typeof(HoardVersions<int>.Vault))), DateTime.UtcNow);
        Assert.AreEqual("create table Vault for model Vault (Coins)", plan.Steps[^1].Description);

        var failed = Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, plan, allowDataLoss: false));
        Assert.AreEqual(DatabaseError.MigrationFailed, failed.Error);
        StringAssert.Contains(failed.Message, "rolled back");
        Assert.IsFalse(SqliteDatabase.TableExists(connection, "Hoard"), "The earlier step was undone.");
        Assert.IsFalse(SqliteDatabase.TableExists(connection, SqliteDatabase.HistoryTable));
        Assert.IsFalse(SqliteDatabase.TableExists(connection, SqliteDatabase.AccountsTable));
    }

    [TestMethod]
    public async Task MigrateProcess_PlanChangesNothing_ThenApplies_ThenHasNothingToDo()
    {
        using var db = new TempDatabase();
        string app = typeof(DbWallet).Assembly.Location;
        await using (var plan = PastryProcess.Start("migrate", "--plan", "--db", db.Path, "--app", app))
        {
            Assert.AreEqual(0, await plan.WaitForExitAsync(), plan.Output);
            StringAssert.Contains(plan.Output, "CREATE TABLE \"DbWallet\"");
            StringAssert.Contains(plan.Output, "nothing was changed");
            Assert.IsFalse(File.Exists(db.Path), "--plan must not create the database.");
        }

        await using (var apply = PastryProcess.Start("migrate", "--db", db.Path, "--app", app))
        {
            Assert.AreEqual(0, await apply.WaitForExitAsync(), apply.Output);
            StringAssert.Contains(apply.Output, "Migrated");
        }

        await using (var again = PastryProcess.Start("migrate", "--db", db.Path, "--app", app))
        {
            Assert.AreEqual(0, await again.WaitForExitAsync(), again.Output);
            StringAssert.Contains(again.Output, "Nothing to migrate");
        }
    }

    [TestMethod]
    public async Task Serve_OnAMissingOrUnmigratedDatabase_Refuses_AndTellsTheUserToRunMigrate()
    {
        using var db = new TempDatabase();
        await using (var missing = PastryProcess.Start("serve", "--role", "otp", "--app", typeof(DbWallet).Assembly.Location, "--Database:Path", db.Path, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0"))
        {
            Assert.AreEqual(1, await missing.WaitForExitAsync(), missing.Output);
            StringAssert.Contains(missing.Output, "does not exist");
            StringAssert.Contains(missing.Output, "pastry migrate");
        }

        db.Migrate(V1); // a database migrated for other models
        await using (var unmigrated = PastryProcess.Start("serve", "--role", "otp", "--app", typeof(DbWallet).Assembly.Location, "--Database:Path", db.Path, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0"))
        {
            Assert.AreEqual(1, await unmigrated.WaitForExitAsync(), unmigrated.Output);
            StringAssert.Contains(unmigrated.Output, "is not migrated for these models");
            StringAssert.Contains(unmigrated.Output, "Run: pastry migrate");
            Assert.IsFalse(Regex.IsMatch(unmigrated.Output, @"^\s+at ", RegexOptions.Multiline), "No stack trace: " + unmigrated.Output);
        }
    }

    [TestMethod]
    public async Task ServeAndMigrate_OnACorruptFile_GiveAClearError_WithoutAStackTrace()
    {
        using var db = new TempDatabase();
        await File.WriteAllBytesAsync(db.Path, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray());
        await using (var serve = PastryProcess.Start("serve", "--role", "otp", "--Database:Path", db.Path, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0"))
        {
            Assert.AreEqual(1, await serve.WaitForExitAsync(), serve.Output);
            StringAssert.Contains(serve.Output, "is not a SQLite database or is damaged");
            Assert.IsFalse(Regex.IsMatch(serve.Output, @"^\s+at ", RegexOptions.Multiline), "No stack trace: " + serve.Output);
        }

        await using (var migrate = PastryProcess.Start("migrate", "--db", db.Path))
        {
            Assert.AreEqual(1, await migrate.WaitForExitAsync(), migrate.Output);
            StringAssert.Contains(migrate.Output, "is not a SQLite database or is damaged");
            Assert.IsFalse(Regex.IsMatch(migrate.Output, @"^\s+at ", RegexOptions.Multiline), "No stack trace: " + migrate.Output);
        }
    }
}
