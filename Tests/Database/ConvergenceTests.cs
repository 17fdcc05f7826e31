using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Dapper;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>
/// After a lost compare-and-swap or a refused write, the AI's copy, the State Server's copy and every viewer end on the
/// value the database holds (issue 12 item 7, issue 21 item 4): on a real SQLite file, with real TCP clients watching.
/// </summary>
[TestClass]
public sealed class ConvergenceTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(20));
    private static readonly ModelRegistry Registry = TempDatabase.Registry(typeof(DbPurse));

    [TestMethod]
    public async Task ACompareAndSwapLostToAnotherAi_PutsTheStoredGoldOnTheStateServerAndEveryViewer()
    {
        await using var world = await World.StartAsync();
        var purse = await world.ActivateAsync("Ann", gold: 20);
        await using var viewer = await world.ViewerAsync("viewer");
        Assert.AreEqual(20, viewer.Copy(purse).Gold);

        // Another AI spends 9 gold from the stored purse (a detached copy from a query): the database says 11.
        await using var other = new AiRepository(world.Server.Router, Registry);
        var detached = (await other.Query<DbPurse>().Where(p => p.Label == "Ann").FirstOrDefaultAsync().WaitAsync(Timeout))!;
        Assert.IsTrue(await other.SetIfEqualsAsync(detached, p => p.Gold, 20, 11).WaitAsync(Timeout));

        // This AI still believes 20 and loses; the stored 11 must reach its copy, the State Server and the viewer.
        Assert.IsFalse(await world.Ai.SetIfEqualsAsync(purse, p => p.Gold, 20, 17).WaitAsync(Timeout));
        Assert.AreEqual(11, purse.Gold, "The loser's copy holds the stored value.");
        await viewer.WaitForAsync(purse, p => p.Gold == 11, "the viewer sees the stored 11");
        await using var late = await world.ViewerAsync("late");
        Assert.AreEqual(11, late.Copy(purse).Gold, "The State Server's copy (what a new viewer is sent) holds the stored value.");
        Assert.AreEqual(11, world.StoredGold("Ann"));
    }

    [TestMethod]
    public async Task FiveConcurrentPurchases_EndWithTheAiTheStateServerAndEveryViewerOnTheStoredGold()
    {
        await using var world = await World.StartAsync();
        var purse = await world.ActivateAsync("Ann", gold: 20);
        await using var viewer = await world.ViewerAsync("viewer");

        // Five orders at once on the AI's logic loop, each paying 3 gold with set-if-equals and up to three tries, as the
        // Tavern's bartender does; and five more from the thread pool, where the answers' continuations may interleave.
        async Task<bool> BuyAsync()
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                int gold = purse.Gold;
                if (gold < 3)
                {
                    return false;
                }

                if (await world.Ai.SetIfEqualsAsync(purse, p => p.Gold, gold, gold - 3))
                {
                    return true;
                }
            }

            return false;
        }

        var orders = Enumerable.Range(0, 5).Select(_ => OnLogicLoop(world.Ai, BuyAsync)).Concat(Enumerable.Range(0, 5).Select(_ => Task.Run(BuyAsync))).ToArray();
        int paid = (await Task.WhenAll(orders).WaitAsync(Timeout)).Count(ok => ok);

        int stored = world.StoredGold("Ann");
        Assert.AreEqual(20 - (3 * paid), stored, "Every paid order took 3 gold in the database, no more, no less.");
        Assert.AreEqual(stored, purse.Gold, "The AI's copy is the stored value.");
        await viewer.WaitForAsync(purse, p => p.Gold == stored, $"the viewer sees the stored {stored}");
        await using var late = await world.ViewerAsync("late");
        Assert.AreEqual(stored, late.Copy(purse).Gold, "The State Server's copy is the stored value.");
    }

    [TestMethod]
    public async Task APlainSetOfATakenUniqueName_IsRejectedWithATypedError_AndNobodySeesIt_AndAFreeNameGoesThrough()
    {
        await using var world = await World.StartAsync();
        await world.Ai.CreateInDatabaseAsync(new DbPurse { Label = "Ann", Gold = 1 }).WaitAsync(Timeout);
        var bob = await world.ActivateAsync("Bob", gold: 2);
        await using var viewer = await world.ViewerAsync("viewer");
        var seen = new List<string>();
        using var watch = viewer.Client.Of<DbPurse>().Updated.Where(c => c.Field.Name == nameof(DbPurse.Label)).Subscribe(c => { lock (seen) { seen.Add((string)c.NewValue!); } });

        // A plain property set of a name another stored purse holds (ignoring case): a typed error naming the field.
        var rejected = world.Ai.RejectedWrites.FirstAsync().ToTask();
        await world.Ai.InvokeAsync(() => bob.Label = "aNN").WaitAsync(Timeout);
        var rejection = await rejected.WaitAsync(Timeout);
        var error = Assert.IsInstanceOfType<UniqueViolationException>(rejection.Error);
        CollectionAssert.AreEqual(new[] { "Label" }, error.Fields.ToArray());
        Assert.AreSame(bob, rejection.Target);
        Assert.AreEqual("Label", rejection.Field.Name);
        Assert.AreEqual("aNN", rejection.RefusedValue);
        Assert.AreEqual("Bob", rejection.StoredValue);
        Assert.AreEqual("Bob", bob.Label, "The AI's copy is back on the stored name.");
        Assert.AreEqual("Bob", world.StoredLabel(bob.DoId));

        // A free name goes through: stored first, then the world sees it.
        var renamed = viewer.Client.Of<DbPurse>().Updated.FirstAsync(c => c.Field.Name == nameof(DbPurse.Label) && (string)c.NewValue! == "Robert").ToTask();
        await world.Ai.InvokeAsync(() => bob.Label = "Robert").WaitAsync(Timeout);
        await renamed.WaitAsync(Timeout);
        Assert.AreEqual("Robert", world.StoredLabel(bob.DoId));
        lock (seen)
        {
            CollectionAssert.AreEqual(new[] { "Robert" }, seen.ToArray(), "The viewer never saw the taken name.");
        }

        await using var late = await world.ViewerAsync("late");
        Assert.AreEqual("Robert", late.Copy(bob).Label);
    }

    [TestMethod]
    public async Task SetsOfAUniqueNameInARow_EndOnTheLastStoredOne_EvenWhenSomeAreRefused()
    {
        await using var world = await World.StartAsync();
        await world.Ai.CreateInDatabaseAsync(new DbPurse { Label = "Ann", Gold = 1 }).WaitAsync(Timeout);
        var bob = await world.ActivateAsync("Bob", gold: 2);
        await using var viewer = await world.ViewerAsync("viewer");

        // Taken, free, taken: the database refuses the first and the last, and keeps "Bert".
        var rejections = world.Ai.RejectedWrites.Take(2).ToList().ToTask();
        await world.Ai.InvokeAsync(() =>
        {
            bob.Label = "ANN";
            bob.Label = "Bert";
            bob.Label = "ann";
        }).WaitAsync(Timeout);
        var refused = await rejections.WaitAsync(Timeout);
        CollectionAssert.AreEqual(new[] { "ANN", "ann" }, refused.Select(r => (string)r.RefusedValue!).ToArray());
        Assert.IsTrue(refused.All(r => r.Error is UniqueViolationException));

        Assert.AreEqual("Bert", world.StoredLabel(bob.DoId));
        Assert.AreEqual("Bert", bob.Label, "The AI's copy ends on the stored name.");
        await viewer.WaitForAsync(bob, p => p.Label == "Bert", "the viewer sees the stored name");
        await using var late = await world.ViewerAsync("late");
        Assert.AreEqual("Bert", late.Copy(bob).Label);
    }

    [TestMethod]
    public async Task SaveAsync_OfATakenName_Throws_AndOfAFreeOne_ReachesTheViewer()
    {
        await using var world = await World.StartAsync();
        await world.Ai.CreateInDatabaseAsync(new DbPurse { Label = "Ann", Gold = 1 }).WaitAsync(Timeout);
        var bob = await world.ActivateAsync("Bob", gold: 2);
        await using var viewer = await world.ViewerAsync("viewer");

        var taken = await Assert.ThrowsExactlyAsync<UniqueViolationException>(() => world.Ai.SaveAsync(bob, p => p.Label, "ANN").WaitAsync(Timeout));
        CollectionAssert.AreEqual(new[] { "Label" }, taken.Fields.ToArray());
        Assert.AreEqual("Bob", bob.Label);

        var swapped = await Assert.ThrowsExactlyAsync<UniqueViolationException>(() => world.Ai.SetIfEqualsAsync(bob, p => p.Label, "Bob", "ann").WaitAsync(Timeout));
        CollectionAssert.AreEqual(new[] { "Label" }, swapped.Fields.ToArray(), "A compare-and-swap to a taken value fails the same way.");
        Assert.AreEqual("Bob", bob.Label);

        await world.Ai.SaveAsync(bob, p => p.Label, "Bertie").WaitAsync(Timeout);
        await viewer.WaitForAsync(bob, p => p.Label == "Bertie", "the viewer sees the saved name");
        Assert.AreEqual("Bertie", world.StoredLabel(bob.DoId));
    }

    private static Task<bool> OnLogicLoop(AiRepository ai, Func<Task<bool>> work)
    {
        var started = new TaskCompletionSource<Task<bool>>(TaskCreationOptions.RunContinuationsAsynchronously);
        ai.Post(() => started.SetResult(work()));
        return started.Task.Unwrap();
    }

    /// <summary>An in-process OTP on a migrated SQLite file, with an AI; purses are activated at (empty parent, zone 1).</summary>
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

        public static Task<World> StartAsync()
        {
            var db = new TempDatabase();
            db.Migrate(Registry);
            var server = InProcessOtp.Start(o => o.Database.Path = db.Path, registry: Registry);
            return Task.FromResult(new World(db, server, new AiRepository(server.Router, Registry)));
        }

        public async Task<DbPurse> ActivateAsync(string label, int gold)
        {
            var stored = await Ai.CreateInDatabaseAsync(new DbPurse { Label = label, Gold = gold }).WaitAsync(Timeout);
            return (await Ai.ActivateAsync<DbPurse>(stored.DoId, DoId.Empty, 1).WaitAsync(Timeout))!;
        }

        public async Task<Viewer> ViewerAsync(string user)
        {
            var client = await PastryClient.ConnectAsync("127.0.0.1", Server.ClientEndPoint.Port, Registry).WaitAsync(Timeout);
            await client.CreateAccountAsync(user, "a fine password").WaitAsync(Timeout);
            await client.LoginAsync(user, "a fine password").WaitAsync(Timeout);
            await client.AddInterestAsync(DoId.Empty, 1).WaitAsync(Timeout);
            return new Viewer(client);
        }

        public int StoredGold(string label)
        {
            using var connection = Database.Open();
            return connection.ExecuteScalar<int>("SELECT Gold FROM DbPurse WHERE Label = @label", new { label });
        }

        public string StoredLabel(DoId id)
        {
            using var connection = Database.Open();
            var bytes = new byte[DoId.Size];
            id.Write(bytes);
            return connection.ExecuteScalar<string>("SELECT Label FROM DbPurse WHERE doid = @id", new { id = bytes })!;
        }

        public async ValueTask DisposeAsync()
        {
            await Ai.DisposeAsync();
            await Server.DisposeAsync();
            Database.Dispose();
        }
    }

    /// <summary>A logged-in client with interest in zone 1.</summary>
    private sealed class Viewer(PastryClient client) : IAsyncDisposable
    {
        public PastryClient Client { get; } = client;

        public DbPurse Copy(DbPurse purse) => Client.Objects.OfType<DbPurse>().Single(p => p.DoId == purse.DoId);

        /// <summary>Waits until the viewer's copy of <paramref name="purse"/> satisfies <paramref name="condition"/>, checking on each of its updates.</summary>
        public async Task WaitForAsync(DbPurse purse, Func<DbPurse, bool> condition, string what)
        {
            var copy = Copy(purse);
            try
            {
                await Client.Of<DbPurse>().Updated.Where(c => c.Target == copy).Select(_ => 0).StartWith(0).Select(_ => condition(copy)).FirstAsync(ok => ok).ToTask().WaitAsync(Timeout);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"Timed out waiting until {what}; the viewer's copy has gold {copy.Gold} and label {copy.Label}.");
            }
        }

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }
}
