using Dapper;
using Pastry.Otp.Database;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>
/// The PostgreSQL provider on a real server (<see cref="TempDatabase.PostgresVariable"/>; Inconclusive without one):
/// migrations (create, add and drop columns, type changes, indexes, the lossy-change refusal), <c>pastry migrate
/// --provider postgres</c> as a real process, one refused write inside a batch, and the one-line errors for a bad
/// connection string and a server that is not there. The cases shared with SQLite run over both providers in
/// DatabaseRoleTests, QueryTests, IndexTests and DatabaseProcessTests.
/// </summary>
[TestClass]
public sealed class PostgresTests
{
    private static readonly ModelRegistry V1 = TempDatabase.Registry(typeof(HoardVersions<int>.Hoard));
    private static readonly ModelRegistry V2 = TempDatabase.Registry(typeof(HoardVersions<int>.V2.Hoard));
    private static readonly ModelRegistry V3 = TempDatabase.Registry(typeof(HoardVersions<int>.V3.Hoard));
    private static readonly ModelRegistry Plain = TempDatabase.Registry(typeof(RogueVersions<int>.Rogue));
    private static readonly ModelRegistry Indexed = TempDatabase.Registry(typeof(RogueVersions<int>.Indexed.Rogue));

    [TestMethod]
    public void Migrate_CreatesTypedTables_AddsColumnsWithDefaults_AndASecondRunChangesNothing()
    {
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        using var connection = db.Connect();
        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V1), DateTime.UtcNow);
        StringAssert.Contains(plan.ToSqlText(), "CREATE TABLE \"Hoard\" (doid bytea PRIMARY KEY NOT NULL, \"Gold\" bigint NOT NULL DEFAULT 0, \"Label\" text COLLATE \"C\" NOT NULL DEFAULT '')");
        Migrator.Apply(connection, plan, allowDataLoss: false);
        Assert.IsTrue(MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V1), DateTime.UtcNow).IsEmpty, "A second run has nothing to do.");

        connection.Execute("INSERT INTO \"Hoard\" (doid, \"Gold\", \"Label\") VALUES ('\\x01', 7, 'old')");
        Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V2), DateTime.UtcNow), allowDataLoss: false);
        var row = connection.QuerySingle<(long Gold, string Label, long Gems, string Weights)>("SELECT \"Gold\", \"Label\", \"Gems\", \"Weights\" FROM \"Hoard\"");
        Assert.AreEqual((7L, "old", 0L, "[]"), row);
        Assert.AreEqual(2L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_migrations"));
        Assert.AreEqual("bigint", connection.ExecuteScalar<string>("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'Hoard' AND column_name = 'Gems'"));
    }

    [TestMethod]
    public void RemovedField_IsRefusedWithoutTheFlag_AndWithIt_IsBackedUpThenDropped()
    {
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        db.Migrate(V1);
        using var connection = db.Connect();
        connection.Execute("INSERT INTO \"Hoard\" (doid, \"Gold\", \"Label\") VALUES ('\\x01', 7, 'keep me')");

        var refused = Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V3), DateTime.UtcNow), allowDataLoss: false));
        Assert.AreEqual(DatabaseError.DataLossRefused, refused.Error);
        StringAssert.Contains(refused.Message, "Hoard.Label");
        StringAssert.Contains(refused.Message, "--allow-data-loss");
        Assert.AreEqual("keep me", connection.ExecuteScalar<string>("SELECT \"Label\" FROM \"Hoard\""));

        var plan = MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V3), new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        Migrator.Apply(connection, plan, allowDataLoss: true);
        Assert.AreEqual("keep me", connection.ExecuteScalar<string>("SELECT \"Label\" FROM \"pastry_backup_Hoard_Label_20250102030405\""));
        var columns = connection.Query<string>("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'Hoard' ORDER BY ordinal_position").ToList();
        CollectionAssert.AreEqual(new[] { "doid", "Gold" }, columns);
        Assert.IsTrue(MigrationPlanner.Plan(connection, DbMapping.FromRegistry(V3), DateTime.UtcNow).IsEmpty);
    }

    [TestMethod]
    public void ChangedType_WithTheFlag_KeepsTheOldValuesInABackup()
    {
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        db.Migrate(V1);
        using var connection = db.Connect();
        connection.Execute("INSERT INTO \"Hoard\" (doid, \"Gold\", \"Label\") VALUES ('\\x01', 7, 'x')");
        var target = DbMapping.FromRegistry(TempDatabase.Registry(typeof(HoardVersions<int>.GoldAsText.Hoard)));
        var plan = MigrationPlanner.Plan(connection, target, new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        StringAssert.Contains(plan.DataLossMessage, "Hoard.Gold changes type from int32 to string");
        Migrator.Apply(connection, plan, allowDataLoss: true);
        Assert.AreEqual(7L, connection.ExecuteScalar<long>("SELECT \"Gold\" FROM \"pastry_backup_Hoard_Gold_20250102030405\""));
        Assert.AreEqual(string.Empty, connection.ExecuteScalar<string>("SELECT \"Gold\" FROM \"Hoard\""), "The new column starts at the type's default.");
    }

    [TestMethod]
    public void UniqueIndex_IgnoresCaseBeyondAscii_AndOverDuplicates_IsRefusedNamingTheValues_RollingBackEverything()
    {
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        db.Migrate(Plain);
        using var connection = db.Connect();
        connection.Execute("INSERT INTO \"Rogue\" (doid, \"Name\", \"Loot\") VALUES ('\\x01', 'Ann', 1), ('\\x02', 'ANN', 2), ('\\x03', 'Cid', 3)");
        var refused = Assert.ThrowsExactly<DatabaseException>(() => Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(Indexed), DateTime.UtcNow), allowDataLoss: false));
        Assert.AreEqual(DatabaseError.DuplicatesRefused, refused.Error);
        StringAssert.Contains(refused.Message, "Rogue.Name (ignoring case) of model Rogue");
        StringAssert.Contains(refused.Message, "(2 rows)");
        Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'Rogue' AND indexname <> 'Rogue_pkey'"), "The index on Loot was rolled back too.");

        connection.Execute("DELETE FROM \"Rogue\" WHERE \"Name\" = 'ANN'");
        Migrator.Apply(connection, MigrationPlanner.Plan(connection, DbMapping.FromRegistry(Indexed), DateTime.UtcNow), allowDataLoss: false);
        CollectionAssert.AreEqual(
            new[] { "ix__Rogue__Loot", "ux__Rogue__Name__ci" },
            connection.Query<string>("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'Rogue' AND indexname <> 'Rogue_pkey' ORDER BY indexname").ToList());
        connection.Execute("INSERT INTO \"Rogue\" (doid, \"Name\", \"Loot\") VALUES ('\\x04', 'Émile', 1)");
        var clash = Assert.ThrowsExactly<Npgsql.PostgresException>(() => connection.Execute("INSERT INTO \"Rogue\" (doid, \"Name\", \"Loot\") VALUES ('\\x05', 'éMILE', 1)"));
        Assert.AreEqual("23505", clash.SqlState, "The case-folded unique index folds letters beyond ASCII.");
    }

    [TestMethod]
    public async Task OneRefusedWriteInABatch_LeavesTheOthersToCommit()
    {
        // PostgreSQL aborts a whole transaction on any error; each write runs under its own savepoint so that a taken
        // unique value refuses that write only, as SQLite does.
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        var registry = TempDatabase.Registry(typeof(DbHero), typeof(DbSeat));
        db.Migrate(registry);
        var router = new Pastry.Otp.MessageDirector.InProcessRouter();
        var options = db.Options();
        options.BatchMaxDelay = TimeSpan.FromSeconds(1); // gathers the three requests sent at once into one batch
        await using var role = new DatabaseServer(router, registry, options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        role.Start();
        var client = new DbTestClient(router);
        var ann = new DbHero { DoId = DoId.NewId(), Name = "Ann" };
        var clash = new DbHero { DoId = DoId.NewId(), Name = "aNN" };
        var bob = new DbHero { DoId = DoId.NewId(), Name = "Bob" };

        var replies = new[] { ann, clash, bob }.Select(h => client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.CreateObject(c, h, client.Channel))).ToList();
        var answers = await Task.WhenAll(replies).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.Ok, answers[0].Status, answers[0].Reason);
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.UniqueViolation, answers[1].Status, answers[1].Reason);
        StringAssert.Contains(answers[1].Reason, "Name = 'aNN' is taken");
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.Ok, answers[2].Status, answers[2].Reason);
        using var connection = db.Connect();
        CollectionAssert.AreEqual(new[] { "Ann", "Bob" }, connection.Query<string>("SELECT \"Name\" FROM \"DbHero\" ORDER BY \"Name\"").ToList());

        var again = await client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.CreateObject(c, ann, client.Channel));
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.AlreadyExists, again.Status, again.Reason);

        // A batch of plain sets goes to the server in one round trip; when one of them fails, the batch is run again one
        // guarded write at a time, so the others still commit and the failing one gets its own answer.
        var model = ann.Model;
        var name = model.GetField(nameof(DbHero.Name));
        var gold = model.GetField(nameof(DbHero.Gold));
        var sets = new[]
        {
            client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.SetFields(c, model, bob.DoId, client.Channel, (gold, 5))),
            client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.SetFields(c, model, bob.DoId, client.Channel, (name, "ANN"))),
            client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.SetFields(c, model, DoId.NewId(), client.Channel, (gold, 1))),
            client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.SetFields(c, model, ann.DoId, client.Channel, (gold, 7))),
        };
        var setAnswers = await Task.WhenAll(sets).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.Ok, setAnswers[0].Status, setAnswers[0].Reason);
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.UniqueViolation, setAnswers[1].Status, setAnswers[1].Reason);
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.NotFound, setAnswers[2].Status, setAnswers[2].Reason);
        Assert.AreEqual(Pastry.Messaging.DatabaseStatus.Ok, setAnswers[3].Status, setAnswers[3].Reason);
        CollectionAssert.AreEqual(
            new[] { ("Ann", 7L), ("Bob", 5L) },
            connection.Query<(string, long)>("SELECT \"Name\", \"Gold\" FROM \"DbHero\" ORDER BY \"Name\"").ToList());

        // And a batch of sets that all succeed commits in one round trip, each answered.
        var many = Enumerable.Range(1, 50).Select(i => client.RequestAsync(c => Pastry.Messaging.DatabaseMessages.SetFields(c, model, ann.DoId, client.Channel, (gold, i)))).ToList();
        Assert.IsTrue((await Task.WhenAll(many).WaitAsync(TimeSpan.FromSeconds(30))).All(a => a.Status == Pastry.Messaging.DatabaseStatus.Ok));
        Assert.AreEqual(50L, connection.ExecuteScalar<long>("SELECT \"Gold\" FROM \"DbHero\" WHERE \"Name\" = 'Ann'"), "The last write wins: the batch kept their order.");
    }

    [TestMethod]
    public async Task PastryMigrate_AgainstPostgres_CreatesThenHasNothingToDo_AndRefusesALossyChange()
    {
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        string app = typeof(DbHero).Assembly.Location;
        await using (var plan = PastryProcess.Start(["migrate", "--plan", .. db.MigrateArguments, "--app", app]))
        {
            Assert.AreEqual(0, await plan.WaitForExitAsync(), plan.Output);
            StringAssert.Contains(plan.Output, "CREATE UNIQUE INDEX \"ux__DbHero__Name__ci\" ON \"DbHero\" (lower(\"Name\" COLLATE \"und-x-icu\"))");
        }

        await using (var migrate = PastryProcess.Start(["migrate", .. db.MigrateArguments, "--app", app]))
        {
            Assert.AreEqual(0, await migrate.WaitForExitAsync(), migrate.Output);
            StringAssert.Contains(migrate.Output, "Migrated PostgreSQL database");
        }

        await using (var again = PastryProcess.Start(["migrate", .. db.MigrateArguments, "--app", app]))
        {
            Assert.AreEqual(0, await again.WaitForExitAsync(), again.Output);
            StringAssert.Contains(again.Output, "Nothing to migrate");
        }

        // A model that lost a Db field: the recorded mapping says DbHero had one more column than the models now have.
        using (var connection = db.Connect())
        {
            var before = DbMapping.FromJson(connection.ExecuteScalar<string>("SELECT mapping FROM pastry_migrations ORDER BY id DESC LIMIT 1")!);
            before.Find(nameof(DbHero))!.Columns.Add(new ColumnMapping { Name = "Nickname", Type = "string" });
            connection.Execute("ALTER TABLE \"DbHero\" ADD COLUMN \"Nickname\" text NOT NULL DEFAULT ''");
            connection.Execute("UPDATE pastry_migrations SET mapping = @mapping", new { mapping = before.ToJson() });
        }

        await using (var lossy = PastryProcess.Start(["migrate", .. db.MigrateArguments, "--app", app]))
        {
            Assert.AreEqual(2, await lossy.WaitForExitAsync(), lossy.Output);
            StringAssert.Contains(lossy.Output, "Refusing to migrate: this would lose data: field DbHero.Nickname was removed");
        }

        await using (var allowed = PastryProcess.Start(["migrate", .. db.MigrateArguments, "--allow-data-loss", "--app", app]))
        {
            Assert.AreEqual(0, await allowed.WaitForExitAsync(), allowed.Output);
        }

        using (var connection = db.Connect())
        {
            Assert.AreEqual(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'DbHero' AND column_name = 'Nickname'"));
        }
    }

    [TestMethod]
    public async Task AServerThatIsNotThere_OrABadConnectionString_IsOneLineNamingTheHost_NoStackTrace()
    {
        // A loopback port with nothing listening: the OS gave it to us and we closed it.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        string nowhere = $"Host=127.0.0.1;Port={port};Username=pastry;Password=x;Database=pastry;Timeout=5";

        var refused = Assert.ThrowsExactly<DatabaseException>(() => DatabaseConnections.OpenPostgres(nowhere));
        Assert.AreEqual(DatabaseError.Unreachable, refused.Error);
        StringAssert.Contains(refused.Message, $"127.0.0.1:{port}");
        Assert.IsFalse(refused.Message.Contains('\n', StringComparison.Ordinal), refused.Message);
        Assert.IsFalse(refused.Message.Contains("Password=x", StringComparison.Ordinal), "The password is never shown.");

        await using (var migrate = PastryProcess.Start("migrate", "--provider", "postgres", "--connection", nowhere, "--app", typeof(DbHero).Assembly.Location))
        {
            Assert.AreEqual(1, await migrate.WaitForExitAsync(), migrate.Output);
            StringAssert.Contains(migrate.Output, $"pastry: Cannot use the PostgreSQL server at 127.0.0.1:{port}");
            Assert.IsFalse(migrate.Output.Contains("   at ", StringComparison.Ordinal), "No stack trace: " + migrate.Output);
        }

        await using (var serve = PastryProcess.Start("serve", "--role", "otp", "--app", typeof(DbHero).Assembly.Location, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0", "--Database:Provider", "postgres", "--Database:ConnectionString", nowhere))
        {
            Assert.AreNotEqual(0, await serve.WaitForExitAsync(), serve.Output);
            StringAssert.Contains(serve.Output, $"Cannot use the PostgreSQL server at 127.0.0.1:{port}");
            Assert.IsFalse(serve.Output.Contains("   at ", StringComparison.Ordinal), "No stack trace: " + serve.Output);
        }

        await using (var bad = PastryProcess.Start("serve", "--role", "otp", "--app", typeof(DbHero).Assembly.Location, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0", "--Database:Provider", "postgres", "--Database:ConnectionString", "Hots=oops"))
        {
            Assert.AreNotEqual(0, await bad.WaitForExitAsync(), bad.Output);
            StringAssert.Contains(bad.Output, "Database:ConnectionString is not a PostgreSQL connection string");
        }
    }
}
