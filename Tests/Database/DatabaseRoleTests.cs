using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Otp.Database;
using Pastry.Otp.MessageDirector;

namespace Pastry.Tests.Database;

/// <summary>The Database role in-process: mapping round trip for every field type, writes, compare-and-swap, bad data.</summary>
[TestClass]
public sealed class DatabaseRoleTests
{
    private static readonly ModelRegistry Registry = TempDatabase.Registry(typeof(DbEveryType), typeof(DbWallet));

    [TestMethod]
    public async Task EveryFieldType_RoundTripsThroughItsColumn()
    {
        using var db = new TempDatabase();
        await using var role = StartRole(db);
        var client = new DbTestClient(role.Router);
        var other = DoId.NewId();
        var when = new DateTime(2024, 2, 29, 23, 59, 58, DateTimeKind.Utc).AddTicks(1234567);
        var obj = new DbEveryType
        {
            Int32 = int.MinValue,
            Int64 = long.MaxValue,
            Single = 3.4028235e38f,
            Double = -1.0 / 3.0,
            Flag = true,
            Text = "héllo 'quoted' \"double\" 🍰",
            Bytes = new byte[] { 0, 1, 255, 39 },
            When = when,
            Link = other,
            Int32s = new[] { 1, -2, int.MaxValue },
            Int64s = new[] { long.MinValue, 0L },
            Singles = new[] { 0.1f, float.PositiveInfinity, -0.5f },
            Doubles = new[] { double.Epsilon, 1e300 },
            Flags = new[] { true, false },
            Texts = new[] { "2024-01-01T00:00:00Z", string.Empty, "[\"json\"]" },
            Blobs = new[] { new byte[] { 1, 2 }, Array.Empty<byte>() },
            Times = new[] { when, DateTime.UnixEpoch },
            Links = new[] { other, DoId.Empty },
        };
        obj.DoId = DoId.NewId();

        var created = await client.RequestAsync(c => DatabaseMessages.CreateObject(c, obj, client.Channel));
        Assert.AreEqual(DatabaseStatus.Ok, created.Status, created.Reason);
        var read = await client.RequestAsync(c => DatabaseMessages.GetAll(c, obj.Model, obj.DoId, client.Channel), obj.Model);

        Assert.AreEqual(DatabaseStatus.Ok, read.Status, read.Reason);
        foreach (var field in obj.Model.Fields.Where(f => f.IsDb))
        {
            ValueAssertions.AreEqual(field.GetBoxed(obj), read.Values[field.Name], field.Name);
        }

        Assert.IsFalse(read.Values.ContainsKey(nameof(DbEveryType.NotStored)), "Only Db fields are stored.");
        Assert.AreEqual(DateTimeKind.Utc, ((DateTime)read.Values[nameof(DbEveryType.When)]!).Kind);

        // The columns hold the documented SQLite forms.
        using var connection = db.Open();
        var row = (IDictionary<string, object>)connection.QuerySingle("SELECT typeof(Int32) AS i, typeof(Single) AS f, typeof(Bytes) AS b, \"When\" AS w, typeof(Link) AS l, Int32s AS a FROM DbEveryType");
        Assert.AreEqual("integer", row["i"]);
        Assert.AreEqual("real", row["f"]);
        Assert.AreEqual("blob", row["b"]);
        Assert.AreEqual("2024-02-29T23:59:58.1234567Z", row["w"]);
        Assert.AreEqual("blob", row["l"]);
        Assert.AreEqual("[1,-2,2147483647]", row["a"]);
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task Create_FillsDefaults_RefusesMissingRequired_AndDuplicates(string provider)
    {
        using var db = new TempDatabase(provider);
        await using var role = StartRole(db);
        var client = new DbTestClient(role.Router);
        var empty = new DbEveryType { DoId = DoId.NewId() };
        Assert.AreEqual(DatabaseStatus.Ok, (await client.RequestAsync(c => DatabaseMessages.CreateObject(c, empty, client.Channel))).Status);
        var read = await client.RequestAsync(c => DatabaseMessages.GetAll(c, empty.Model, empty.DoId, client.Channel), empty.Model);
        Assert.AreEqual(DatabaseStatus.Ok, read.Status, read.Reason);
        Assert.AreEqual(string.Empty, read.Values[nameof(DbEveryType.Text)]);
        CollectionAssert.AreEqual(Array.Empty<int>(), (int[])read.Values[nameof(DbEveryType.Int32s)]!);
        Assert.AreEqual(DoId.Empty, read.Values[nameof(DbEveryType.Link)]);

        var again = await client.RequestAsync(c => DatabaseMessages.CreateObject(c, empty, client.Channel));
        Assert.AreEqual(DatabaseStatus.AlreadyExists, again.Status);

        var nameless = new DbWallet { DoId = DoId.NewId(), Gold = 5 };
        var refused = await client.RequestAsync(c => DatabaseMessages.CreateObject(c, nameless, client.Channel));
        Assert.AreEqual(DatabaseStatus.Invalid, refused.Status);
        StringAssert.Contains(refused.Reason, "Holder");
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task SetFields_IsAcknowledgedAfterCommit_AndValidated(string provider)
    {
        using var db = new TempDatabase(provider);
        await using var role = StartRole(db);
        var client = new DbTestClient(role.Router);
        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "ann", Gold = 10 };
        await client.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, client.Channel));
        var gold = wallet.Model.GetField(nameof(DbWallet.Gold));

        var ack = await client.RequestAsync(c => DatabaseMessages.SetFields(c, wallet.Model, wallet.DoId, client.Channel, (gold, 42)));
        Assert.AreEqual(DatabaseStatus.Ok, ack.Status);
        using (var connection = db.Connect())
        {
            Assert.AreEqual(42L, connection.ExecuteScalar<long>("SELECT \"Gold\" FROM \"DbWallet\""), "An acknowledged write is committed: another connection sees it.");
        }

        var invalid = await client.RequestAsync(c => DatabaseMessages.SetFields(c, wallet.Model, wallet.DoId, client.Channel, (gold, 2_000_000)));
        Assert.AreEqual(DatabaseStatus.Invalid, invalid.Status);
        StringAssert.Contains(invalid.Reason, "Gold");

        var missing = await client.RequestAsync(c => DatabaseMessages.SetFields(c, wallet.Model, DoId.NewId(), client.Channel, (gold, 1)));
        Assert.AreEqual(DatabaseStatus.NotFound, missing.Status);

        var mood = wallet.Model.GetField(nameof(DbWallet.Mood));
        var notDb = await client.RequestAsync(c => DatabaseMessages.SetFields(c, wallet.Model, wallet.DoId, client.Channel, (mood, 1)));
        Assert.AreEqual(DatabaseStatus.Invalid, notDb.Status);

        Assert.AreEqual(DatabaseStatus.Ok, (await client.RequestAsync(c => DatabaseMessages.DeleteObject(c, wallet.Model, wallet.DoId, client.Channel))).Status);
        Assert.AreEqual(DatabaseStatus.NotFound, (await client.RequestAsync(c => DatabaseMessages.GetAll(c, wallet.Model, wallet.DoId, client.Channel))).Status);
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task SetFieldsIfEquals_ConcurrentSpenders_NeverDoubleSpend(string provider)
    {
        using var db = new TempDatabase(provider);
        await using var role = StartRole(db);
        const int initial = 1_500;
        var setup = new DbTestClient(role.Router);
        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "bank", Gold = initial };
        await setup.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, setup.Channel));
        var gold = wallet.Model.GetField(nameof(DbWallet.Gold));

        // Eight spenders, each on its own channel, spend 1 to 8 gold at a time until the wallet cannot pay.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var spenders = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            var client = new DbTestClient(role.Router);
            var spent = new List<int>();
            var from = new List<int>();
            await go.Task;
            int retries = 0;
            var current = (int)(await client.RequestAsync(c => DatabaseMessages.GetAll(c, wallet.Model, wallet.DoId, client.Channel), wallet.Model)).Values["Gold"]!;
            int price = 1 + i;
            while (current >= price)
            {
                int seen = current;
                var reply = await client.RequestAsync(c => DatabaseMessages.SetFieldsIfEquals(c, wallet.Model, wallet.DoId, client.Channel, (gold, seen, seen - price)), wallet.Model);
                current = (int)reply.Values["Gold"]!;
                if (reply.Status == DatabaseStatus.Ok)
                {
                    Assert.AreEqual(seen - price, current);
                    spent.Add(price);
                    from.Add(seen);
                }
                else
                {
                    Assert.AreEqual(DatabaseStatus.NotEqual, reply.Status, reply.Reason);
                    retries++;
                }
            }

            return (spent, retries, from);
        })).ToList();
        go.SetResult();
        var results = await Task.WhenAll(spenders);

        var final = (int)(await setup.RequestAsync(c => DatabaseMessages.GetAll(c, wallet.Model, wallet.DoId, setup.Channel), wallet.Model)).Values["Gold"]!;
        int totalSpent = results.Sum(r => r.spent.Sum());
        Assert.AreEqual(initial - final, totalSpent, "Every successful spend, and only those, removed gold.");
        Assert.IsTrue(final >= 0 && final < 1, $"The spenders stop only when nobody can pay (1 gold is the cheapest); {final} left.");
        var balancesSpentFrom = results.SelectMany(r => r.from).ToList();
        Assert.AreEqual(balancesSpentFrom.Count, balancesSpentFrom.Distinct().Count(), "No two spends succeeded from the same balance (no double spend).");
    }

    [TestMethod]
    public async Task Load_OfARowEditedByHand_ReportsDoIdAndField_AndLeavesItUnchanged()
    {
        using var db = new TempDatabase();
        await using var role = StartRole(db);
        var client = new DbTestClient(role.Router);
        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "cid", Gold = 10 };
        await client.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, client.Channel));
        using (var connection = db.Open())
        {
            connection.Execute("UPDATE DbWallet SET Gold = 5000000");
        }

        var read = await client.RequestAsync(c => DatabaseMessages.GetAll(c, wallet.Model, wallet.DoId, client.Channel), wallet.Model);
        Assert.AreEqual(DatabaseStatus.BadData, read.Status);
        StringAssert.Contains(read.Reason, wallet.DoId.ToString());
        StringAssert.Contains(read.Reason, "field Gold");

        using (var connection = db.Open())
        {
            connection.Execute("UPDATE DbWallet SET Gold = 'lots', Holder = '  spaced  '");
            Assert.AreEqual("lots", connection.ExecuteScalar<string>("SELECT Gold FROM DbWallet"));
        }

        read = await client.RequestAsync(c => DatabaseMessages.GetAll(c, wallet.Model, wallet.DoId, client.Channel), wallet.Model);
        Assert.AreEqual(DatabaseStatus.BadData, read.Status);
        StringAssert.Contains(read.Reason, "field Gold: expected a int32 stored as INTEGER, found the text 'lots'");
        StringAssert.Contains(read.Reason, "field Holder");
        using (var connection = db.Open())
        {
            Assert.AreEqual("  spaced  ", connection.ExecuteScalar<string>("SELECT Holder FROM DbWallet"), "Bad data is reported, not fixed.");
        }
    }

    [TestMethod]
    public void Open_OfAMissingOrCorruptFile_ThrowsAClearDatabaseException()
    {
        using var db = new TempDatabase();
        var missing = Assert.ThrowsExactly<DatabaseException>(() => new DatabaseServer(new InProcessRouter(), Registry, new DatabaseOptions { Path = db.Path }, NullLogger.Instance));
        Assert.AreEqual(DatabaseError.Missing, missing.Error);
        StringAssert.Contains(missing.Message, "pastry migrate");

        File.WriteAllText(db.Path, "this is not a database, just some text that is long enough to be a header............................");
        var corrupt = Assert.ThrowsExactly<DatabaseException>(() => new DatabaseServer(new InProcessRouter(), Registry, new DatabaseOptions { Path = db.Path }, NullLogger.Instance));
        Assert.AreEqual(DatabaseError.Corrupt, corrupt.Error);
        StringAssert.Contains(corrupt.Message, "not a SQLite database");
    }

    [TestMethod]
    public void Open_OfAnUnmigratedDatabase_RefusesAndNamesTheCommand()
    {
        using var db = new TempDatabase();
        db.Migrate(TempDatabase.Registry(typeof(DbWallet)));
        var refused = Assert.ThrowsExactly<DatabaseException>(() => new DatabaseServer(new InProcessRouter(), Registry, new DatabaseOptions { Path = db.Path }, NullLogger.Instance));
        Assert.AreEqual(DatabaseError.Unmigrated, refused.Error);
        StringAssert.Contains(refused.Message, "create table DbEveryType");
        StringAssert.Contains(refused.Message, "pastry migrate");
    }

    internal static RoleHost StartRole(TempDatabase db, ModelRegistry? registry = null)
    {
        var router = new InProcessRouter();
        var role = new DatabaseServer(router, registry ?? Registry, db.Options(autoMigrate: true), NullLogger.Instance);
        role.Start();
        return new RoleHost(router, role);
    }

    internal sealed record RoleHost(InProcessRouter Router, DatabaseServer Role) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Role.DisposeAsync();
    }
}

/// <summary>Compares field values, arrays by content.</summary>
internal static class ValueAssertions
{
    public static void AreEqual(object? expected, object? actual, string what)
    {
        if (expected is System.Collections.IStructuralEquatable structural && actual is not null)
        {
            Assert.IsTrue(structural.Equals(actual, DeepComparer.Instance), $"{what}: expected {Format(expected)}, got {Format(actual)}");
            return;
        }

        Assert.AreEqual(expected, actual, what);
    }

    private static string Format(object? value) => value is System.Collections.IEnumerable items and not string
        ? "[" + string.Join(", ", items.Cast<object?>().Select(Format)) + "]"
        : value?.ToString() ?? "null";

    private sealed class DeepComparer : System.Collections.IEqualityComparer
    {
        public static readonly DeepComparer Instance = new();

        public new bool Equals(object? x, object? y) =>
            x is System.Collections.IStructuralEquatable s && y is not null ? s.Equals(y, this) : object.Equals(x, y);

        public int GetHashCode(object obj) => 0;
    }
}
