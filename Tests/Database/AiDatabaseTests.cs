using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>The AI's typed database API against an in-process OTP with a real SQLite file.</summary>
[TestClass]
public sealed class AiDatabaseTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task CreateInDatabase_ThenActivate_BringsTheStoredObjectIntoTheWorld_ForClientsToo()
    {
        using var db = new TempDatabase();
        var registry = TempDatabase.Registry(typeof(DbWallet), typeof(Realm));
        db.Migrate(registry);
        await using var server = InProcessOtp.Start(o => o.Database.Path = db.Path, registry: registry);
        await using var ai = new AiRepository(server.Router, registry);
        var realm = ai.Create(new Realm { Title = "Bank" }, DoId.Empty, 0);
        var stored = await ai.CreateInDatabaseAsync(new DbWallet { Holder = "Ann", Gold = 50 }).WaitAsync(Timeout);

        var wallet = await ai.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 3).WaitAsync(Timeout);

        Assert.IsNotNull(wallet);
        Assert.AreEqual(("Ann", 50), (wallet.Holder, wallet.Gold));
        Assert.AreEqual(ObjectState.Live, wallet.State);
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, registry);
        await client.CreateAccountAsync("ann", "a fine password");
        await client.LoginAsync("ann", "a fine password");
        await client.AddInterestAsync(realm.DoId, 3);
        Assert.AreEqual("Ann", client.Objects.OfType<DbWallet>().Single().Holder);
        Assert.IsNull(await ai.ActivateAsync<DbWallet>(DoId.NewId(), realm.DoId, 3).WaitAsync(Timeout), "Nothing stored under that id.");
    }

    [TestMethod]
    public async Task SetIfEquals_SpendsOnce_AndTellsTheLoserTheCurrentValue()
    {
        using var db = new TempDatabase();
        var registry = TempDatabase.Registry(typeof(DbWallet), typeof(Realm));
        db.Migrate(registry);
        await using var server = InProcessOtp.Start(o => o.Database.Path = db.Path, registry: registry);
        await using var ai = new AiRepository(server.Router, registry);
        var stored = await ai.CreateInDatabaseAsync(new DbWallet { Holder = "Bob", Gold = 10 });
        var wallet = (await ai.ActivateAsync<DbWallet>(stored.DoId, DoId.Empty, 1))!;

        Assert.IsTrue(await ai.SetIfEqualsAsync(wallet, w => w.Gold, 10, 4).WaitAsync(Timeout));
        Assert.AreEqual(4, wallet.Gold);
        Assert.IsFalse(await ai.SetIfEqualsAsync(wallet, w => w.Gold, 10, 4).WaitAsync(Timeout), "The second spend of the same 10 gold fails.");
        Assert.AreEqual(4, wallet.Gold);

        // The write-through and the swap are durable: reactivating after an unload reads 4. The unload is
        // asynchronous (activation answers "already active" until the State Server has handled it), so the test
        // waits for the State Server's ObjectDeleted on the wallet's location before activating again.
        var unloaded = new DeletionSignal(stored.DoId);
        server.Router.Subscribe(unloaded, Channel.ForLocation(DoId.Empty, 1));
        ai.Delete(wallet);
        await unloaded.Task.WaitAsync(Timeout);
        var again = (await ai.ActivateAsync<DbWallet>(stored.DoId, DoId.Empty, 1).WaitAsync(Timeout))!;
        Assert.AreEqual(4, again.Gold);
    }

    /// <summary>Completes when the State Server publishes ObjectDeleted for one object.</summary>
    private sealed class DeletionSignal(DoId id) : IParticipant
    {
        private readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "deletion signal";

        public Task Task => done.Task;

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (envelope.Type == InternalMessageType.ObjectDeleted && envelope.Subject == id)
            {
                done.TrySetResult();
            }
        }
    }
}
