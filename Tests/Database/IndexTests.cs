using Dapper;
using Pastry.Ai;
using Pastry.Otp.Database;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>[Unique], [Indexed] and [UniqueTogether]: the schema, the migrations that build them, and the writes they refuse.</summary>
[TestClass]
public sealed class IndexTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static readonly ModelRegistry Plain = TempDatabase.Registry(typeof(RogueVersions<int>.Rogue));
    private static readonly ModelRegistry Indexed = TempDatabase.Registry(typeof(RogueVersions<int>.Indexed.Rogue));
    private static readonly ModelRegistry LootRemoved = TempDatabase.Registry(typeof(RogueVersions<int>.LootRemoved.Rogue));

    [TestMethod]
    public void Indexes_ArePartOfTheSchemaAndItsHash()
    {
        var model = Indexed.GetModel<RogueVersions<int>.Indexed.Rogue>();
        Assert.AreEqual(2, model.Indexes.Count);
        Assert.IsTrue(model.Indexes[0].IsUnique && model.Indexes[0].IgnoreCase);
        Assert.AreEqual("ux__Rogue__Name__ci", model.Indexes[0].Name);
        Assert.AreEqual("ix__Rogue__Loot", model.Indexes[1].Name);
        StringAssert.Contains(Indexed.SchemaJson, "\"indexes\":[{\"fields\":[\"Name\"],\"unique\":true,\"ignoreCase\":true}");
        StringAssert.Contains(Indexed.ToText(), "unique ignorecase (Name)");
        Assert.AreNotEqual(Plain.SchemaHash, Indexed.SchemaHash);
        Assert.IsFalse(Plain.SchemaJson.Contains("indexes", StringComparison.Ordinal), "A model without indexes keeps its old schema text.");

        var seat = TempDatabase.Registry(typeof(DbSeat)).GetModel<DbSeat>();
        Assert.AreEqual("ux__DbSeat__Table__Chair", seat.Indexes.Single().Name);
    }

    [TestMethod]
    public void WrongDeclarations_AreRefusedAtRegistration_SayingHowToFixThem()
    {
        Assert.That.RefusedWith(typeof(BadIndexModels<int>.UniqueNotDb), "is in [Unique] but is not [Db]");
        Assert.That.RefusedWith(typeof(BadIndexModels<int>.IgnoreCaseOnInt), "only string fields have a letter case");
        Assert.That.RefusedWith(typeof(BadIndexModels<int>.TogetherUnknownField), "'Nope', which is not a field");
        Assert.That.RefusedWith(typeof(BadIndexModels<int>.IndexedArray), "stored as JSON text");
    }

    [TestMethod]
    public void Migration_AddsTheIndexes_ShowsThemInThePlan_AndASecondRunChangesNothing()
    {
        using var db = new TempDatabase();
        db.Migrate(Plain);
        using var connection = db.Open();
        connection.Execute("INSERT INTO Rogue (doid, Name, Loot) VALUES (X'01', 'Ann', 5), (X'02', 'Bob', 5)");

        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(Indexed), DateTime.UtcNow);
        string sql = plan.ToSqlText();
        StringAssert.Contains(sql, "CREATE UNIQUE INDEX \"ux__Rogue__Name__ci\" ON \"Rogue\" (\"Name\" COLLATE pastry_nocase)");
        StringAssert.Contains(sql, "CREATE INDEX \"ix__Rogue__Loot\" ON \"Rogue\" (\"Loot\")");
        Migrator.Apply(connection, plan, allowDataLoss: false);

        var indexes = connection.Query<string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Rogue' AND name NOT LIKE 'sqlite_%' ORDER BY name").ToList();
        CollectionAssert.AreEqual(new[] { "ix__Rogue__Loot", "ux__Rogue__Name__ci" }, indexes);
        Assert.IsTrue(MigrationPlanner.Plan(connection, DbMapping.FromRegistry(Indexed), DateTime.UtcNow).IsEmpty);

        // The constraint is live and ignores case beyond ASCII.
        connection.Execute("INSERT INTO Rogue (doid, Name, Loot) VALUES (X'03', 'Émile', 1)");
        var clash = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => connection.Execute("INSERT INTO Rogue (doid, Name, Loot) VALUES (X'04', 'éMILE', 1)"));
        Assert.AreEqual(2067, clash.SqliteExtendedErrorCode);
    }

    [TestMethod]
    public void Migration_DropsAnIndexBeforeItsColumn_AndDropsIndexesThatWentAway()
    {
        using var db = new TempDatabase();
        db.Migrate(Indexed);
        db.Migrate(LootRemoved, allowDataLoss: true);
        using var connection = db.Open();
        Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM sqlite_master WHERE name = 'ix__Rogue__Loot'"));

        db.Migrate(Plain);
        Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Rogue' AND name NOT LIKE 'sqlite_%'"));
        StringAssert.Contains(connection.ExecuteScalar<string>("SELECT description FROM pastry_migrations ORDER BY id DESC LIMIT 1"), "drop unique constraint ux__Rogue__Name__ci");
    }

    [TestMethod]
    public async Task Migration_OverDuplicates_IsRefused_NamingModelFieldAndValues_AndChangesNothing()
    {
        using var db = new TempDatabase();
        db.Migrate(Plain);
        using (var connection = db.Open())
        {
            connection.Execute("INSERT INTO Rogue (doid, Name, Loot) VALUES (X'01', 'Ann', 1), (X'02', 'ANN', 2), (X'03', 'Bob', 3), (X'04', 'bob', 4), (X'05', 'Cid', 5)");
            var refused = Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(Indexed), DateTime.UtcNow), allowDataLoss: false));
            Assert.AreEqual(DatabaseError.DuplicatesRefused, refused.Error);
            StringAssert.Contains(refused.Message, "Rogue.Name (ignoring case) of model Rogue");
            StringAssert.Contains(refused.Message, "(2 rows)");
            StringAssert.Matches(refused.Message, new System.Text.RegularExpressions.Regex("'(Ann|ANN)'.*'(Bob|bob)'"));
            Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Rogue' AND name NOT LIKE 'sqlite_%'"), "The index on Loot was rolled back too.");
            Assert.AreEqual(1L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"));
        }

    }

    [TestMethod]
    public async Task PastryMigrate_OverDuplicates_ExitsWith2_NamingTheFieldAndValues()
    {
        // A database migrated before DbHero.Name was unique: the recorded mapping has no index, and two names clash.
        using var db = new TempDatabase();
        var registry = ModelRegistry.FromAssemblies(typeof(DbHero).Assembly);
        db.Migrate(registry);
        using (var connection = db.Open())
        {
            var before = DbMapping.FromRegistry(registry);
            before.Find(nameof(DbHero))!.Indexes.RemoveAll(i => i.Unique);
            connection.Execute("DROP INDEX ux__DbHero__Name__ci");
            connection.Execute("UPDATE pastry_migrations SET mapping = @mapping", new { mapping = before.ToJson() });
            connection.Execute("INSERT INTO DbHero (doid, Name) VALUES (X'01', 'Zoë'), (X'02', 'ZOË')");
        }

        await using var plan = PastryProcess.Start("migrate", "--plan", "--db", db.Path, "--app", typeof(DbHero).Assembly.Location);
        Assert.AreEqual(0, await plan.WaitForExitAsync(), plan.Output);
        StringAssert.Contains(plan.Output, "CREATE UNIQUE INDEX \"ux__DbHero__Name__ci\"");

        await using var migrate = PastryProcess.Start("migrate", "--db", db.Path, "--app", typeof(DbHero).Assembly.Location);
        Assert.AreEqual(2, await migrate.WaitForExitAsync(), migrate.Output);
        StringAssert.Contains(migrate.Output, "Refusing to add the unique constraint on DbHero.Name (ignoring case) of model DbHero");
        StringAssert.Contains(migrate.Output, "(2 rows)");
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task CreateOrSave_OfATakenUniqueValue_FailsNamingTheField_AndWritesNothing(string provider)
    {
        using var db = new TempDatabase(provider);
        var registry = TempDatabase.Registry(typeof(DbHero), typeof(DbSeat));
        db.Migrate(registry);
        await using var server = InProcessOtp.Start(o => db.Apply(o.Database), registry: registry);
        await using var ai = new AiRepository(server.Router, registry);
        await ai.CreateInDatabaseAsync(new DbHero { Name = "Ann" }).WaitAsync(Timeout);

        var taken = await Assert.ThrowsExactlyAsync<UniqueViolationException>(() => ai.CreateInDatabaseAsync(new DbHero { Name = "aNN" }).WaitAsync(Timeout));
        Assert.AreEqual("DbHero", taken.Model);
        CollectionAssert.AreEqual(new[] { "Name" }, taken.Fields.ToArray());
        StringAssert.Contains(taken.Message, "Name = 'aNN' is taken");

        var bob = await ai.CreateInDatabaseAsync(new DbHero { Name = "Bob" }).WaitAsync(Timeout);
        var renamed = await Assert.ThrowsExactlyAsync<UniqueViolationException>(() => ai.SaveAsync(bob, h => h.Name, "ANN").WaitAsync(Timeout));
        CollectionAssert.AreEqual(new[] { "Name" }, renamed.Fields.ToArray());
        Assert.AreEqual("Bob", bob.Name, "A refused save leaves the object as it was.");
        await ai.SaveAsync(bob, h => h.Name, "Robert").WaitAsync(Timeout);
        Assert.AreEqual("Robert", bob.Name);

        var table = DoId.NewId();
        await ai.CreateInDatabaseAsync(new DbSeat { Table = table, Chair = 1, Guest = "Ann" }).WaitAsync(Timeout);
        await ai.CreateInDatabaseAsync(new DbSeat { Table = table, Chair = 2, Guest = "Bob" }).WaitAsync(Timeout);
        var seat = await Assert.ThrowsExactlyAsync<UniqueViolationException>(() => ai.CreateInDatabaseAsync(new DbSeat { Table = table, Chair = 1, Guest = "Cid" }).WaitAsync(Timeout));
        CollectionAssert.AreEqual(new[] { "Table", "Chair" }, seat.Fields.ToArray());

        using var connection = db.Connect();
        Assert.AreEqual(2L, connection.ExecuteScalar<long>("SELECT count(*) FROM \"DbHero\""));
        Assert.AreEqual("Robert", connection.ExecuteScalar<string>("SELECT \"Name\" FROM \"DbHero\" WHERE \"Name\" <> 'Ann'"));
    }
}

/// <summary>Registration assertions.</summary>
internal static class IndexAssertions
{
    public static void RefusedWith(this Assert assert, Type model, string expected)
    {
        _ = assert;
        var refused = Assert.ThrowsExactly<ModelDeclarationException>(() => ModelRegistry.FromTypes(new[] { model }));
        StringAssert.Contains(refused.Message, expected);
    }
}
