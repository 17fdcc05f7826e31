using System.Text.RegularExpressions;
using Dapper;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>The AI's typed queries, run by the Database role on a real SQLite file: every filter, ordering, paging, errors.</summary>
[TestClass]
public sealed class QueryTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static readonly DoId AccountA = DoId.Parse("00000000-0000-0000-0000-0000000000aa");
    private static readonly DoId AccountB = DoId.Parse("00000000-0000-0000-0000-0000000000bb");
    private const string Hostile = "x' OR '1'='1; DROP TABLE DbHero;-- %_\0end";

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task Equality_IgnoresCaseOnAnIgnoreCaseUniqueField_AndMatchesOtherFieldsExactly(string provider)
    {
        await using var world = await World.StartAsync(provider: provider);
        string Hostile = world.Hostile;
        var ai = world.Ai;
        Assert.AreEqual("Ann", (await ai.Query<DbHero>().Where(h => h.Name == "aNN").FirstOrDefaultAsync())!.Name);
        string wanted = "Sir";
        CollectionAssert.AreEqual(new[] { "Bob", "Dora" }, await Names(ai.Query<DbHero>().Where(h => h.Title == wanted).OrderBy(h => h.Name)));
        CollectionAssert.AreEqual(Array.Empty<string>(), await Names(ai.Query<DbHero>().Where(h => h.Title == "sir")));
        CollectionAssert.AreEqual(new[] { "Ann", "Bob" }, await Names(ai.Query<DbHero>().Where(h => h.Account == AccountA).OrderBy(h => h.Name)));
        CollectionAssert.AreEqual(new[] { Hostile, "Cid", "Dora" }, await Names(ai.Query<DbHero>().Where(h => h.Account != AccountA).OrderBy(h => h.Gold).ThenBy(h => h.Name)));
        var bob = (await ai.Query<DbHero>().Where(h => h.Name == "Bob").FirstOrDefaultAsync())!;
        Assert.AreEqual("Bob", (await ai.Query<DbHero>().Where(h => h.DoId == bob.DoId).FirstOrDefaultAsync())!.Name);
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task Ranges_OnIntLongDoubleAndDateTime_WithConstantsOnEitherSide(string provider)
    {
        await using var world = await World.StartAsync(provider: provider);
        string Hostile = world.Hostile;
        var ai = world.Ai;
        CollectionAssert.AreEqual(new[] { "Bob", "Cid", "Dora" }, await Names(ai.Query<DbHero>().Where(h => h.Gold >= 10 && h.Gold < 50).OrderBy(h => h.Gold).ThenBy(h => h.Name)));
        CollectionAssert.AreEqual(new[] { "Ann" }, await Names(ai.Query<DbHero>().Where(h => 30 < h.Gold)));
        CollectionAssert.AreEqual(new[] { "Cid", "Dora" }, await Names(ai.Query<DbHero>().Where(h => h.Fame > 20 && h.Fame <= 40).OrderBy(h => h.Fame)));
        CollectionAssert.AreEqual(new[] { "Ann", "Bob" }, await Names(ai.Query<DbHero>().Where(h => h.Height > 1.65).OrderBy(h => h.Height)));
        var cutoff = new DateTime(1992, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        CollectionAssert.AreEqual(new[] { "Dora", "Bob" }, await Names(ai.Query<DbHero>().Where(h => h.Born < cutoff && h.Born > DateTime.MinValue).OrderBy(h => h.Born)));
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task In_StartsWith_IsEmpty_AndBoolFields(string provider)
    {
        await using var world = await World.StartAsync(provider: provider);
        string Hostile = world.Hostile;
        var ai = world.Ai;
        string[] names = { "cid", "Dora", "Zed" };
        var list = new List<int> { 10, 50 };
        CollectionAssert.AreEqual(new[] { "Cid", "Dora" }, await Names(ai.Query<DbHero>().Where(h => names.Contains(h.Name)).OrderBy(h => h.Name)));
        CollectionAssert.AreEqual(new[] { "Ann", "Bob" }, await Names(ai.Query<DbHero>().Where(h => list.Contains(h.Gold)).OrderBy(h => h.Name)));
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => Array.Empty<string>().Contains(h.Name)).CountAsync());

        CollectionAssert.AreEqual(new[] { "Dora" }, await Names(ai.Query<DbHero>().Where(h => h.Name.StartsWith("do"))), "StartsWith on an ignore-case field ignores case.");
        CollectionAssert.AreEqual(new[] { "Bob", "Dora" }, await Names(ai.Query<DbHero>().Where(h => h.Title.StartsWith("Si")).OrderBy(h => h.Name)));
        CollectionAssert.AreEqual(Array.Empty<string>(), await Names(ai.Query<DbHero>().Where(h => h.Title.StartsWith("si"))));

        CollectionAssert.AreEqual(new[] { "Ann", Hostile }, await Names(ai.Query<DbHero>().Where(h => string.IsNullOrEmpty(h.Title)).OrderBy(h => h.Gold).ThenBy(h => h.Name).OrderByDescending(h => h.Gold)));
        CollectionAssert.AreEqual(new[] { "Bob" }, await Names(ai.Query<DbHero>().Where(h => h.Tags.Length > 0)));
        Assert.AreEqual(4L, await ai.Query<DbHero>().Where(h => h.Tags.Length == 0).CountAsync());
        CollectionAssert.AreEqual(new[] { Hostile }, await Names(ai.Query<DbHero>().Where(h => h.Account == DoId.Empty)));
        CollectionAssert.AreEqual(new[] { "Bob" }, await Names(ai.Query<DbHero>().Where(h => h.Retired)));
        Assert.AreEqual(4L, await ai.Query<DbHero>().Where(h => !h.Retired).CountAsync());
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task Ordering_OnSeveralFields_Paging_Count_AndIds(string provider)
    {
        await using var world = await World.StartAsync(provider: provider);
        string Hostile = world.Hostile;
        var ai = world.Ai;
        var board = ai.Query<DbHero>().OrderByDescending(h => h.Gold).ThenBy(h => h.Name);
        CollectionAssert.AreEqual(new[] { "Ann", "Cid", "Dora", "Bob", Hostile }, await Names(board));
        CollectionAssert.AreEqual(new[] { "Cid", "Dora" }, await Names(board.Skip(1).Take(2)));
        CollectionAssert.AreEqual(new[] { "Dora" }, await Names(board.Take(3).Skip(2)));
        CollectionAssert.AreEqual(Array.Empty<string>(), await Names(board.Take(2).Skip(2)));
        CollectionAssert.AreEqual(new[] { "Bob", "Ann" }, await Names(ai.Query<DbHero>().Where(h => h.Account == AccountA).OrderByDescending(h => h.Name)), "Descending on the ignore-case field.");

        Assert.AreEqual(5L, await ai.Query<DbHero>().CountAsync());
        Assert.AreEqual(2L, await board.Skip(3).CountAsync(), "A page counts the rows in the page.");
        Assert.IsTrue(await ai.Query<DbHero>().Where(h => h.Gold == 30).AnyAsync());
        var ids = await board.Take(2).IdsAsync();
        var top = await board.Take(2).ToListAsync();
        CollectionAssert.AreEqual(top.Select(h => h.DoId).ToArray(), ids.ToArray());

        // Results are detached instances, validated, that can be activated by their DoId.
        Assert.AreEqual(ObjectState.Standalone, top[0].State);
        Assert.AreEqual(0, top[0].Mood, "Only Db fields come from the database.");
        var live = await ai.ActivateAsync<DbHero>(ids[0], DoId.Empty, 1).WaitAsync(Timeout);
        Assert.AreEqual("Ann", live!.Name);
    }

    [TestMethod]
    public async Task AHostileStringInAFilter_IsData_NotSqlAndNotAWildcard()
    {
        await using var world = await World.StartAsync();
        var ai = world.Ai;
        Assert.AreEqual(Hostile, (await ai.Query<DbHero>().Where(h => h.Name == Hostile).FirstOrDefaultAsync())?.Name);
        Assert.AreEqual(Hostile, (await ai.Query<DbHero>().Where(h => h.Name.StartsWith("x' OR '1'='1; DROP")).FirstOrDefaultAsync())?.Name);
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => h.Name.StartsWith('%')).CountAsync(), "'%' is a character, not a wildcard.");
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => h.Name.StartsWith('_')).CountAsync(), "'_' is a character, not a wildcard.");
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => h.Name == "x' OR '1'='1").CountAsync());
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => h.Name == "x' OR '1'='1; DROP TABLE DbHero;-- %_").CountAsync(), "The NUL and what follows it are part of the value.");
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => h.Title == "' OR 1=1 --").CountAsync());
        Assert.AreEqual(1L, await ai.Query<DbHero>().Where(h => h.Name.StartsWith("x' OR '1'='1; DROP TABLE DbHero;-- %_\0")).CountAsync(), "A NUL inside a prefix is a character of it.");
        Assert.AreEqual(0L, await ai.Query<DbHero>().Where(h => h.Name.StartsWith("x' OR '1'='1; DROP TABLE DbHero;-- %_\0x")).CountAsync());
        string[] hostileList = { Hostile, "%", "_", "' OR 1=1 --" };
        Assert.AreEqual(1L, await ai.Query<DbHero>().Where(h => hostileList.Contains(h.Name)).CountAsync(), "In takes hostile values as data too.");
        Assert.AreEqual(5L, await ai.Query<DbHero>().CountAsync(), "The table is still there.");
    }

    [TestMethod]
    public async Task UnsupportedExpressions_FailAtOnce_SayingWhatIsSupported()
    {
        await using var world = await World.StartAsync();
        var ai = world.Ai;
        var upper = Assert.ThrowsExactly<NotSupportedException>(() => ai.Query<DbHero>().Where(h => h.Name.Substring(1) == "nn"));
        StringAssert.Contains(upper.Message, "is not supported");
        StringAssert.Contains(upper.Message, "Supported: comparisons");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ai.Query<DbHero>().Where(h => h.Gold == 1 || h.Gold == 2)).Message, "||");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ai.Query<DbHero>().Where(h => h.Mood == 1)).Message, "DbHero.Mood is not [Db]");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ai.Query<DbHero>().Where(h => h.Gold + 1 == 2)).Message, "arithmetic");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ai.Query<DbHero>().OrderBy(h => h.Tags)).Message, "array");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ai.Query<DbHero>().Where(h => h.Gold.ToString() == "1")).Message, "is not supported");
    }

    [TestMethod]
    public async Task BadRows_AreLeftOutAndReported_AndTheRowLimitRefusesUnboundedResults()
    {
        await using var world = await World.StartAsync(maxRows: 4);
        var ai = world.Ai;
        using (var connection = world.Database.Open())
        {
            connection.Execute("UPDATE DbHero SET Gold = -5 WHERE Name = 'Cid'");
        }

        var result = await ai.Query<DbHero>().OrderBy(h => h.Name).Take(4).FetchAsync();
        CollectionAssert.AreEqual(new[] { "Ann", "Bob", "Dora" }, result.Items.Select(h => h.Name).ToArray());
        Assert.AreEqual(1, result.BadRows.Count);
        StringAssert.Contains(result.BadRows[0], "field Gold");
        StringAssert.Contains(result.BadRows[0], "bad data");

        var unbounded = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => ai.Query<DbHero>().ToListAsync());
        Assert.AreEqual(DatabaseStatus.Invalid, unbounded.Status);
        StringAssert.Contains(unbounded.Reason, "Database:MaxQueryRows (4)");
        StringAssert.Contains((await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => ai.Query<DbHero>().Take(5).ToListAsync())).Reason, "Take(5)");
        Assert.AreEqual(5L, await ai.Query<DbHero>().CountAsync(), "Count is not bounded by the row limit.");
    }

    [TestMethod]
    public async Task TwoAiProcesses_RaceForOneName_ExactlyOneWins_AndAQueryOverTheRealProcessSeesOne()
    {
        using var db = new TempDatabase();
        db.Migrate(ModelRegistry.FromAssemblies(typeof(DbHero).Assembly));
        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path);
        await using (otp)
        {
            string[] arguments = { "serve", "--role", "ai", "--app", typeof(DbHero).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(NameRaceAi) };
            await using var first = PastryProcess.StartDll(PastryProcess.PastryDll, new Dictionary<string, string> { ["NAME_RACE"] = "Ann" }, arguments);
            await using var second = PastryProcess.StartDll(PastryProcess.PastryDll, new Dictionary<string, string> { ["NAME_RACE"] = "aNn" }, arguments);
            var outcomes = await Task.WhenAll(
                first.WaitForLineAsync(new Regex("name-race: (won|lost)"), TimeSpan.FromSeconds(60)),
                second.WaitForLineAsync(new Regex("name-race: (won|lost)"), TimeSpan.FromSeconds(60)));
            Assert.AreEqual(1, outcomes.Count(m => m.Groups[1].Value == "won"), first.Output + second.Output);
            var loser = outcomes[0].Groups[1].Value == "lost" ? first : second;
            StringAssert.Contains(loser.Output, "name-race: lost on Name");

            await using var ai = await AiRepository.ConnectAsync(director.Address.ToString(), director.Port, ModelRegistry.FromAssemblies(typeof(DbHero).Assembly));
            Assert.AreEqual(1L, await ai.Query<DbHero>().Where(h => h.Name == "ANN").CountAsync().WaitAsync(Timeout));
        }
    }

    [TestMethod]
    public async Task AQueryThatFindsTheQueueFull_IsRefusedAtOnce_WithDatabaseOverloadedException()
    {
        await using var world = await World.StartAsync(configure: o => o.MaxPendingQueries = 1);
        var ai = world.Ai;

        // 200 queries published back to back from this thread, while the reader answers one at a time: with room for
        // one waiting query, the reader cannot keep up, and every query must end (answered or refused), none may hang.
        var queries = Enumerable.Range(0, 200).Select(_ => ai.Query<DbHero>().Where(h => h.Gold >= 0).OrderBy(h => h.Name).ToListAsync()).ToArray();
        var outcomes = await Task.WhenAll(queries.Select(async q =>
        {
            try
            {
                return (Rows: (await q).Count, Refusal: (DatabaseOverloadedException?)null);
            }
            catch (DatabaseOverloadedException ex)
            {
                return (Rows: -1, Refusal: ex);
            }
        })).WaitAsync(Timeout);

        var refused = outcomes.Where(o => o.Refusal is not null).ToList();
        Assert.IsTrue(refused.Count > 0, "Some queries found the queue full.");
        Assert.AreEqual(DatabaseStatus.Overloaded, refused[0].Refusal!.Status);
        StringAssert.Contains(refused[0].Refusal!.Reason, "Database:MaxPendingQueries");
        Assert.IsTrue(outcomes.Where(o => o.Refusal is null).All(o => o.Rows == 5), "The others were answered in full.");
        Assert.AreEqual(5, (await ai.Query<DbHero>().ToListAsync().WaitAsync(Timeout)).Count, "Once the queue drains, queries are answered again.");
    }

    [TestMethod]
    public async Task AnAnswerLargerThanTheByteLimit_IsRefusedWithAnswerTooLarge_WhilePagesAndIdsStillWork()
    {
        await using var world = await World.StartAsync(configure: o => o.MaxQueryAnswerBytes = 2048);
        var ai = world.Ai;
        using (var connection = world.Database.Open())
        {
            connection.Execute("UPDATE DbHero SET Title = @title", new { title = new string('t', 600) });
        }

        var tooLarge = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => ai.Query<DbHero>().ToListAsync().WaitAsync(Timeout));
        Assert.AreEqual(DatabaseStatus.AnswerTooLarge, tooLarge.Status);
        StringAssert.Contains(tooLarge.Reason, "Database:MaxQueryAnswerBytes (2048 bytes)");
        StringAssert.Contains(tooLarge.Reason, "IdsAsync");
        Assert.AreEqual(2, (await ai.Query<DbHero>().OrderBy(h => h.Name).Take(2).ToListAsync().WaitAsync(Timeout)).Count, "A smaller page fits.");
        Assert.AreEqual(5, (await ai.Query<DbHero>().IdsAsync().WaitAsync(Timeout)).Count, "DoIds are small.");
    }

    [TestMethod]
    public async Task OverARealProcess_AnAnswerThatWouldNotFitInOneFrame_IsRefused_AndTheLinkStaysUp()
    {
        // 60 heroes of 80 KB each: 4.8 MB, more than the Message Director's 4 MiB frame, with the default settings.
        using var db = new TempDatabase();
        var registry = ModelRegistry.FromAssemblies(typeof(DbHero).Assembly);
        db.Migrate(registry);
        using (var connection = db.Open())
        {
            string title = new('t', 80_000);
            for (int i = 0; i < 60; i++)
            {
                var id = new byte[DoId.Size];
                DoId.NewId().Write(id);
                connection.Execute("INSERT INTO DbHero (doid, Name, Title) VALUES (@id, @name, @title)", new { id, name = $"hero{i:00}", title });
            }
        }

        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path);
        await using (otp)
        {
            await using var ai = await AiRepository.ConnectAsync(director.Address.ToString(), director.Port, registry);
            var tooLarge = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => ai.Query<DbHero>().ToListAsync().WaitAsync(Timeout));
            Assert.AreEqual(DatabaseStatus.AnswerTooLarge, tooLarge.Status);
            StringAssert.Contains(tooLarge.Reason, "Database:MaxQueryAnswerBytes");
            Assert.IsTrue(ai.IsConnected, "The link to the Message Director is still up.");
            var page = await ai.Query<DbHero>().OrderBy(h => h.Name).Take(10).ToListAsync().WaitAsync(Timeout);
            CollectionAssert.AreEqual(Enumerable.Range(0, 10).Select(i => $"hero{i:00}").ToArray(), page.Select(h => h.Name).ToArray());
        }
    }

    private static async Task<string[]> Names(Pastry.Ai.Queries.DbQuery<DbHero> query) =>
        (await query.ToListAsync().WaitAsync(Timeout)).Select(h => h.Name).ToArray();

    /// <summary>An in-process OTP on a migrated file with five heroes (one with a hostile name) and an AI.</summary>
    private sealed class World : IAsyncDisposable
    {
        private World(TempDatabase database, Pastry.Otp.OtpServer server, AiRepository ai)
        {
            Database = database;
            Server = server;
            Ai = ai;
        }

        public TempDatabase Database { get; }

        public Pastry.Otp.OtpServer Server { get; }

        public AiRepository Ai { get; }

        /// <summary>
        /// The hostile name: quotes, SQL, LIKE wildcards and (on SQLite) a NUL. PostgreSQL text cannot hold a NUL at all
        /// (the Database role refuses one as Invalid there), so its hostile name has none.
        /// </summary>
        public string Hostile => Database.IsPostgres ? QueryTests.Hostile.Replace("\0", string.Empty, StringComparison.Ordinal) : QueryTests.Hostile;

        public static async Task<World> StartAsync(int maxRows = 1000, Action<Pastry.Otp.Database.DatabaseOptions>? configure = null, string provider = "sqlite")
        {
            var db = new TempDatabase(provider);
            var registry = TempDatabase.Registry(typeof(DbHero), typeof(DbSeat));
            db.Migrate(registry);
            var server = InProcessOtp.Start(o => { db.Apply(o.Database); o.Database.MaxQueryRows = maxRows; configure?.Invoke(o.Database); }, registry: registry);
            var ai = new AiRepository(server.Router, registry);
            DateTime Year(int year) => new(year, 6, 1, 0, 0, 0, DateTimeKind.Utc);
            await ai.CreateInDatabaseAsync(new DbHero { Name = "Ann", Gold = 50, Account = AccountA, Height = 1.7, Born = Year(2000), Fame = 10 }).WaitAsync(Timeout);
            await ai.CreateInDatabaseAsync(new DbHero { Name = "Bob", Gold = 10, Account = AccountA, Title = "Sir", Height = 1.8, Born = Year(1990), Retired = true, Tags = new[] { "x" }, Fame = 20 }).WaitAsync(Timeout);
            await ai.CreateInDatabaseAsync(new DbHero { Name = "Cid", Gold = 30, Account = AccountB, Title = "Dame", Height = 1.6, Born = Year(1995), Fame = 30 }).WaitAsync(Timeout);
            await ai.CreateInDatabaseAsync(new DbHero { Name = "Dora", Gold = 30, Account = AccountB, Title = "Sir", Height = 1.5, Born = Year(1985), Fame = 40 }).WaitAsync(Timeout);
            var world = new World(db, server, ai);
            await ai.CreateInDatabaseAsync(new DbHero { Name = world.Hostile, Gold = 0, Born = Year(2010) }).WaitAsync(Timeout);
            return world;
        }

        public async ValueTask DisposeAsync()
        {
            await Ai.DisposeAsync();
            await Server.DisposeAsync();
            Database.Dispose();
        }
    }
}
