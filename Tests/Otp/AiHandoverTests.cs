using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Tests.Database;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Otp;

/// <summary>
/// The per-object AI handover (issue 14 item 4) against an in-process OTP with two AIs on its router and a real client:
/// a move into another AI's district hands the object over in the same step, the viewer sees only the move, and the
/// edge cases (an AI that is not connected, a set of the old AI that crosses the handover) keep one truth.
/// <c>TavernDistrictHandoverTests</c> does the same over real processes.
/// </summary>
[TestClass]
public sealed class AiHandoverTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task AMoveIntoAnotherAisDistrict_HandsTheObjectOver_TheViewerSeesOnlyTheMove_AndTheClientsSetsAndCallsGoToTheNewAi()
    {
        await using var world = await WorldAsync();
        var (west, east, realm, knight, client) = (world.West, world.East, world.Realm, world.Knight, world.Client);
        var seen = client.Objects.OfType<Knight>().Single();
        var leaves = new List<string>();
        using var watch = client.Of<Knight>().Disabled.Merge(client.Of<Knight>().Deleted).Subscribe(k => leaves.Add($"{k.Name} left"));
        using var entered = client.Of<Knight>().Created.Subscribe(k => leaves.Add($"{k.Name} entered again"));
        var moved = client.Of<Knight>().Moved.FirstAsync(k => k.Zone == 2).ToTask();
        var adopted = east.Adopted.FirstAsync().ToTask();
        var handedOver = west.HandedOver.FirstAsync().ToTask();

        await west.InvokeAsync(() => west.Move(knight, realm.DoId, 2));

        var adoptedKnight = (Knight)await adopted.WaitAsync(Timeout);
        var release = await handedOver.WaitAsync(Timeout);
        await moved.WaitAsync(Timeout);
        Assert.AreEqual(knight.DoId, adoptedKnight.DoId);
        Assert.AreEqual("Kay", adoptedKnight.Name, "The new AI has the State Server's values.");
        Assert.AreEqual(40, adoptedKnight.Gold);
        Assert.AreEqual(2u, adoptedKnight.Zone);
        Assert.AreSame(knight, release.Object);
        Assert.AreEqual(east.Channel, release.To);
        await west.InvokeAsync(() => { });
        Assert.AreEqual(ObjectState.Disabled, knight.State, "The old AI's copy is disabled after the handler: touching it throws.");
        Assert.IsFalse(west.Objects.Any(o => o.DoId == knight.DoId));
        Assert.IsTrue(east.Objects.Any(o => o.DoId == knight.DoId));

        // The client's set and call reach the new AI; the new AI's own set reaches the client.
        var heard = east.Of<Knight>().Updated.FirstAsync(c => c.Field.Name == nameof(Knight.X) && c.Origin == ChangeOrigin.Remote).ToTask();
        var called = east.Of<Knight>().Calls.FirstAsync().ToTask();
        seen.X = 9;
        client.Call(seen, k => k.Wave("hello east"));
        Assert.AreEqual(9, (await heard.WaitAsync(Timeout)).NewValue);
        Assert.AreEqual("hello east", (await called.WaitAsync(Timeout)).Arguments[0]);
        var gold = client.Of<Knight>().Updated.FirstAsync(c => c.Field.Name == nameof(Knight.Gold)).ToTask();
        await east.InvokeAsync(() => adoptedKnight.Gold = 41);
        Assert.AreEqual(41, (await gold.WaitAsync(Timeout)).NewValue);

        Assert.AreEqual(string.Empty, string.Join(", ", leaves), "The viewer saw the knight move, never leave or enter.");
        Assert.AreSame(seen, client.Objects.OfType<Knight>().Single());
        Assert.AreEqual(ObjectState.Live, seen.State);
    }

    [TestMethod]
    public async Task HandOver_ToAnAiThatIsNotConnected_LeavesTheObjectWithItsAi_AndSaysSoInTheLog()
    {
        await using var world = await WorldAsync();
        var (west, knight) = (world.West, world.Knight);
        var stranger = DoId.NewId();

        await west.InvokeAsync(() => west.HandOver(knight, stranger));

        await world.Logs.WaitForLineAsync(new Regex($"hand over Knight {knight.DoId} to .*not connected.*stays with")).WaitAsync(Timeout);
        var gold = world.Client.Of<Knight>().Updated.FirstAsync(c => c.Field.Name == nameof(Knight.Gold)).ToTask();
        await west.InvokeAsync(() => knight.Gold = 77);
        Assert.AreEqual(77, (await gold.WaitAsync(Timeout)).NewValue, "The old AI still handles it: its set goes through.");
        Assert.AreEqual(ObjectState.Live, knight.State);
    }

    [TestMethod]
    public async Task AMoveIntoTheDistrictOfAnAiWhoseLinkDropped_LeavesTheObjectWithItsAi()
    {
        await using var world = await WorldAsync();
        var (west, east, realm, knight) = (world.West, world.East, world.Realm, world.Knight);

        // The east AI's post-remove runs (its link dropped): it serves nothing any more.
        world.Server.Router.Publish(InternalMessages.DeleteAiObjects(east.Channel), Channel.StateServer);
        var moved = world.Client.Of<Knight>().Moved.FirstAsync(k => k.Zone == 2).ToTask();
        await west.InvokeAsync(() => west.Move(knight, realm.DoId, 2));
        await moved.WaitAsync(Timeout);
        var gold = world.Client.Of<Knight>().Updated.FirstAsync(c => c.Field.Name == nameof(Knight.Gold)).ToTask();
        await west.InvokeAsync(() => knight.Gold = 5);

        Assert.AreEqual(5, (await gold.WaitAsync(Timeout)).NewValue);
        Assert.AreEqual(ObjectState.Live, knight.State, "Still the west AI's.");
        Assert.IsFalse(east.Objects.Any(o => o.DoId == knight.DoId));
    }

    [TestMethod]
    public async Task ASetOfTheOldAi_ThatCrossesTheHandover_IsRefusedAndLogged_WhileItsRpcAnswerIsRelayed_AndTheNewAiAndTheViewerAgree()
    {
        await using var world = await WorldAsync();
        var (west, east, realm, knight, client) = (world.West, world.East, world.Realm, world.Knight, world.Client);
        var seen = client.Objects.OfType<Knight>().Single();
        var adopted = east.Adopted.FirstAsync().ToTask();
        var shout = client.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        var golds = new List<object?>();
        using var watch = client.Of<Knight>().Updated.Where(c => c.Field.Name == nameof(Knight.Gold)).Subscribe(c => golds.Add(c.NewValue));

        // The west AI's logic loop is busy, so the release cannot reach it: its move, its set and its call all leave
        // before it hears that the knight is no longer its own (the race the State Server must settle).
        using var busy = new ManualResetEventSlim();
        west.Post(() => busy.Wait(Timeout));
        west.Move(knight, realm.DoId, 2);
        knight.Gold = 99;
        west.Call(knight, k => k.Shout("farewell"));

        await world.Logs.WaitForLineAsync(new Regex($"{InternalMessageType.SetField} on Knight {knight.DoId}: .* handed this object over .*crossed the handover")).WaitAsync(Timeout);
        Assert.AreEqual("farewell", (await shout.WaitAsync(Timeout)).Arguments[0], "The old AI's call (an answer to a client's call it had) is still relayed.");
        busy.Set();
        var adoptedKnight = (Knight)await adopted.WaitAsync(Timeout);
        Assert.AreEqual(40, adoptedKnight.Gold, "The new AI has the State Server's value, not the refused one.");

        // The next set of the field is the new AI's, and the viewer ends where the new AI is.
        var gold = client.Of<Knight>().Updated.FirstAsync(c => c.Field.Name == nameof(Knight.Gold) && (int)c.NewValue! == 41).ToTask();
        await east.InvokeAsync(() => adoptedKnight.Gold = 41);
        await gold.WaitAsync(Timeout);
        CollectionAssert.DoesNotContain(golds, 99, "The refused value never reached the viewer.");
        Assert.AreEqual(41, seen.Gold);
        await west.InvokeAsync(() => { });
        Assert.AreEqual(ObjectState.Disabled, knight.State);
    }

    [TestMethod]
    public async Task AnObjectCreatedInsideAnotherAisDistrict_IsHandedToThatAiAtOnce_TheViewerSeesItEnterOnceAndNeverLeave()
    {
        await using var world = await WorldAsync();
        var (west, east, realm, client) = (world.West, world.East, world.Realm, world.Client);
        var events = new List<string>();
        using var watch = client.Of<Knight>().Disabled.Merge(client.Of<Knight>().Deleted).Subscribe(k => events.Add($"{k.Name} left"));
        using var entered = client.Of<Knight>().Created.Subscribe(k => events.Add($"{k.Name} entered"));
        var adopted = east.Adopted.FirstAsync().ToTask();
        var handedOver = west.HandedOver.FirstAsync().ToTask();
        var arrived = client.Of<Knight>().Created.FirstAsync(k => k.Name == "Gawain").ToTask();

        Knight gawain = null!;
        await west.InvokeAsync(() => gawain = west.Create(new Knight { Name = "Gawain", Gold = 12 }, realm.DoId, 2));

        var adoptedGawain = (Knight)await adopted.WaitAsync(Timeout);
        Assert.AreSame(gawain, (await handedOver.WaitAsync(Timeout)).Object, "The creator hears the handover as for a walk-in.");
        Assert.AreEqual((gawain.DoId, "Gawain", 12, 2u), (adoptedGawain.DoId, adoptedGawain.Name, adoptedGawain.Gold, adoptedGawain.Zone));
        await west.InvokeAsync(() => { });
        Assert.AreEqual(ObjectState.Disabled, gawain.State);
        Assert.IsFalse(west.Objects.Any(o => o.DoId == gawain.DoId));

        // The district's AI hears the clients and sets the values from now on.
        var seen = await arrived.WaitAsync(Timeout);
        var heard = east.Of<Knight>().Updated.FirstAsync(c => c.Target.DoId == gawain.DoId && c.Field.Name == nameof(Knight.X)).ToTask();
        seen.X = 3;
        Assert.AreEqual(3, (await heard.WaitAsync(Timeout)).NewValue);
        var gold = client.Of<Knight>().Updated.FirstAsync(c => c.Target.DoId == gawain.DoId && c.Field.Name == nameof(Knight.Gold)).ToTask();
        await east.InvokeAsync(() => adoptedGawain.Gold = 13);
        Assert.AreEqual(13, (await gold.WaitAsync(Timeout)).NewValue);
        Assert.AreEqual("Gawain entered", string.Join(", ", events), "One Enter (the create), no Leave, no second Enter.");
    }

    [TestMethod]
    public async Task AnActivationInsideAnotherAisDistrict_GivesTheActivatingAiTheObjectFirst_ThenHandsItToThatAi_WithItsStoredValues()
    {
        await using var world = await StoredWorldAsync();
        var (west, east, realm) = (world.West, world.East, world.Realm);
        var stored = await west.CreateInDatabaseAsync(new DbWallet { Holder = "Ann", Gold = 50 }).WaitAsync(Timeout);
        var adopted = east.Adopted.FirstAsync().ToTask();
        var handedOver = west.HandedOver.FirstAsync().ToTask();

        var wallet = await west.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 2).WaitAsync(Timeout);

        Assert.IsNotNull(wallet, "The activating AI gets its answer (the object), as always.");
        Assert.AreSame(wallet, (await handedOver.WaitAsync(Timeout)).Object);
        var eastWallet = (DbWallet)await adopted.WaitAsync(Timeout);
        Assert.AreEqual(("Ann", 50), (eastWallet.Holder, eastWallet.Gold));
        Assert.IsTrue(await east.SetIfEqualsAsync(eastWallet, w => w.Gold, 50, 47).WaitAsync(Timeout), "The district's AI spends the stored gold.");
        await west.InvokeAsync(() => { });
        Assert.AreEqual(ObjectState.Disabled, wallet.State);
    }

    [TestMethod]
    public async Task ActivatingAnObjectLiveWithAnotherAi_AtAPlaceThisAiServes_HandsItOverWithItsLiveValues_OneObjectOneRow_AndTheViewerSeesAMove()
    {
        await using var world = await StoredWorldAsync();
        var (west, east, realm, client) = (world.West, world.East, world.Realm, world.Client);
        var stored = await west.CreateInDatabaseAsync(new DbWallet { Holder = "Ann", Gold = 50 }).WaitAsync(Timeout);
        var onTheHill = (await east.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 2).WaitAsync(Timeout))!;
        Assert.IsTrue(await east.SetIfEqualsAsync(onTheHill, w => w.Gold, 50, 44).WaitAsync(Timeout));
        await east.InvokeAsync(() => onTheHill.Mood = 7);
        var viewed = await client.Of<DbWallet>().Updated.FirstAsync(c => c.Field.Name == nameof(DbWallet.Mood)).ToTask().WaitAsync(Timeout);
        var seen = (DbWallet)viewed.Target;
        var events = new List<string>();
        using var watch = client.Of<DbWallet>().Disabled.Merge(client.Of<DbWallet>().Deleted).Subscribe(w => events.Add("left"));
        using var entered = client.Of<DbWallet>().Created.Subscribe(w => events.Add("entered"));
        var moved = client.Of<DbWallet>().Moved.FirstAsync(w => w.Zone == 1).ToTask();
        var handedOver = east.HandedOver.FirstAsync().ToTask();

        // The player logs in again: the west AI activates the wallet at a place it serves while the east AI still has it.
        var back = (await west.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 1).WaitAsync(Timeout))!;

        Assert.AreEqual((stored.DoId, 44, 7, 1u), (back.DoId, back.Gold, back.Mood, back.Zone), "The live values, not a second load.");
        Assert.AreEqual(ObjectState.Live, back.State);
        Assert.AreSame(onTheHill, (await handedOver.WaitAsync(Timeout)).Object);
        await moved.WaitAsync(Timeout);
        Assert.AreSame(seen, client.Objects.OfType<DbWallet>().Single(), "One object in the world.");
        Assert.IsTrue(await west.SetIfEqualsAsync(back, w => w.Gold, 44, 40).WaitAsync(Timeout), "The west AI spends what the east AI left.");
        Assert.AreEqual(string.Empty, string.Join(", ", events), "The viewer saw a move, never a Leave or an Enter.");
        await world.Logs.WaitForLineAsync(new Regex($"activated DbWallet {stored.DoId}, which AI .* had live in the world")).WaitAsync(Timeout);

        // At a place the activating AI does not serve, a live object stays where it is: "already active", as before.
        var refused = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => east.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 1).WaitAsync(Timeout));
        Assert.AreEqual(DatabaseStatus.AlreadyExists, refused.Status);
        Assert.AreEqual(ObjectState.Live, back.State);
        // An AI of another application that serves a district may not take it by activating it there.
        await using var stranger = new AiRepository(world.Server.Router, world.Server.Registry, new AiOptions { Application = "Another Game" });
        await stranger.TakeBackAsync().WaitAsync(Timeout);
        stranger.Serve(new[] { new AiDistrict(realm.DoId, 3, 3) });
        var foreign = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => stranger.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 3).WaitAsync(Timeout));
        Assert.AreEqual(DatabaseStatus.AlreadyExists, foreign.Status);
        StringAssert.Contains(foreign.Reason, "another application's object");
        await world.Logs.WaitForLineAsync(new Regex("refused ActivateObject .*application 'Another Game' may not take it")).WaitAsync(Timeout);
        Assert.AreEqual(ObjectState.Live, back.State);
        Assert.AreEqual(1u, back.Zone);

        using var connection = Pastry.Otp.Database.SqliteDatabase.Open(world.Database!.Path, create: false);
        Assert.AreEqual(1, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT COUNT(*) FROM DbWallet"));
        Assert.AreEqual(40, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM DbWallet"));
    }

    [TestMethod]
    public async Task ALiveObject_IsNotTakenByAnActivationWithAnotherOwnerOrClass_OrUnderAParentThatIsGone_AndEachActivationIsAnsweredOnce()
    {
        await using var world = await StoredWorldAsync();
        var (west, east, realm) = (world.West, world.East, world.Realm);
        var ann = new DoId(0, 0xA22);
        var stored = await west.CreateInDatabaseAsync(new DbWallet { Holder = "Ann", Gold = 50 }).WaitAsync(Timeout);
        var onTheHill = (await east.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 2, ann).WaitAsync(Timeout))!;
        var answers = new StateServerTests.Recorder("west");
        world.Server.Router.Subscribe(answers, west.Channel);

        // The west AI serves zone 1, where it asks for the wallet: a live take, but only of the same player's object.
        var otherOwner = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => west.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 1, new DoId(0, 0xB0B)).WaitAsync(Timeout));
        Assert.AreEqual(DatabaseStatus.AlreadyExists, otherOwner.Status);
        StringAssert.EndsWith(otherOwner.Reason, "it is already active");
        var otherClass = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => west.ActivateAsync<DbPurse>(stored.DoId, realm.DoId, 1, ann).WaitAsync(Timeout));
        Assert.AreEqual(DatabaseStatus.AlreadyExists, otherClass.Status);
        StringAssert.StartsWith(otherClass.Reason, $"activate DbPurse {stored.DoId}: ");

        // A district of the west AI under a parent that does not exist: the wallet is not moved there.
        var ghost = new DoId(0, 0x6057);
        west.Serve(new[] { new AiDistrict(realm.DoId, 1, 1), new AiDistrict(ghost, 4, 4) });
        var underGhost = await Assert.ThrowsExactlyAsync<DatabaseRequestException>(() => west.ActivateAsync<DbWallet>(stored.DoId, ghost, 4, ann).WaitAsync(Timeout));
        Assert.AreEqual(DatabaseStatus.AlreadyExists, underGhost.Status);

        // Each time the wallet stayed the east AI's, where it was.
        Assert.IsTrue(await east.SetIfEqualsAsync(onTheHill, w => w.Gold, 50, 45).WaitAsync(Timeout), "The east AI still holds it.");
        await east.InvokeAsync(() => { });
        Assert.AreEqual((ObjectState.Live, realm.DoId, 2u), (onTheHill.State, onTheHill.Parent, onTheHill.Zone));

        // The same player's wallet, the same class, at a place the west AI serves: taken, with its live values.
        var back = (await west.ActivateAsync<DbWallet>(stored.DoId, realm.DoId, 1, ann).WaitAsync(Timeout))!;
        Assert.AreEqual((45, 1u, ann), (back.Gold, back.Zone, back.Owner));
        Assert.IsTrue(west.IsStored(back), "The hand-over told the west AI that the wallet is stored (its Db fields are written through).");

        // The State Server answers in order and publishes as it handles: the last answer came, so every earlier one did.
        var replies = answers.Received.Where(e => e.Type == InternalMessageType.ActivateObjectResp).ToList();
        Assert.HasCount(4, replies, "one answer per activation, never a second one after a refusal or a take");
        CollectionAssert.AreEqual(
            new[] { DatabaseStatus.AlreadyExists, DatabaseStatus.AlreadyExists, DatabaseStatus.AlreadyExists, DatabaseStatus.Ok },
            replies.Select(r => (DatabaseStatus)r.Payload.Span[4]).ToArray());
    }

    [TestMethod]
    public async Task ATakeOverOfADistrictAi_GivesTheNewAiItsDistrictsAtTheSwitch_AndATakeOverWithoutTheDistricts_IsRefusedNamingThem()
    {
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(logs: logs);
        await using var old = new AiRepository(server.Router, server.Registry, new AiOptions { Application = "Game [west]" }, logs.CreateLogger("old west"));
        await using var east = new AiRepository(server.Router, server.Registry, new AiOptions { Application = "Game [east]" }, logs.CreateLogger("east"));
        await old.TakeBackAsync().WaitAsync(Timeout);
        await east.TakeBackAsync().WaitAsync(Timeout);
        var realm = old.Create(new Realm { Title = "Two Shires" }, DoId.Empty, 0);
        old.Serve(new[] { new AiDistrict(realm.DoId, 1, 1) });
        east.Serve(new[] { new AiDistrict(realm.DoId, 2, 2) });
        Knight knight = null!;
        await east.InvokeAsync(() => knight = east.Create(new Knight { Name = "Kay", Gold = 40 }, realm.DoId, 2));

        // A new build named without the districts: there is no such AI, and the refusal says how to name one.
        await using var unnamed = new AiRepository(server.Router, server.Registry, new AiOptions { Application = "Game" });
        var refused = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => unnamed.TakeOverAsync().WaitAsync(Timeout));
        StringAssert.Contains(refused.Reason, "same Ai:Districts");
        StringAssert.Contains(refused.Reason, "'Game [west]'");

        // The west AI's new build takes it over; it has not named its districts yet when the knight walks west.
        await using var fresh = new AiRepository(server.Router, server.Registry, new AiOptions { Application = "Game [west]" }, logs.CreateLogger("new west"));
        var taken = await fresh.TakeOverAsync().WaitAsync(Timeout);
        await old.TakenOver.WaitAsync(Timeout);
        Assert.IsTrue(taken.Any(o => o.DoId == realm.DoId));
        var adopted = fresh.Adopted.FirstAsync().ToTask();
        await east.InvokeAsync(() => east.Move(knight, realm.DoId, 1));
        var adoptedKnight = (Knight)await adopted.WaitAsync(Timeout);
        Assert.AreEqual((knight.DoId, 40), (adoptedKnight.DoId, adoptedKnight.Gold));
        Assert.IsFalse(old.Objects.Any(o => o.DoId == knight.DoId), "Nothing walks into the stopped AI's district.");
        fresh.ResumeRequests();
    }

    [TestMethod]
    public void AiDistrict_Parse_ReadsZonesRangesAndStar_AndNamesTheProblem()
    {
        var parent = DoId.Parse("00000000-0000-0000-0000-0000000d1577");
        CollectionAssert.AreEqual(
            new[] { new AiDistrict(parent, 1, 50), new AiDistrict(parent, 1000, 1000), new AiDistrict(parent, 0, uint.MaxValue) },
            AiDistrict.Parse("00000000-0000-0000-0000-0000000d1577:1-50, 1000,*").ToArray());
        Assert.IsTrue(new AiDistrict(parent, 1, 50).Contains(parent, 50));
        Assert.IsFalse(new AiDistrict(parent, 1, 50).Contains(parent, 51));
        StringAssert.Contains(Assert.ThrowsExactly<FormatException>(() => AiDistrict.Parse("d1577:1-50")).Message, "parent DoId");
        StringAssert.Contains(Assert.ThrowsExactly<FormatException>(() => AiDistrict.Parse("00000000-0000-0000-0000-0000000d1577:50-1")).Message, "'50-1'");
        var options = new Pastry.Ai.Hosting.AiHostOptions { Districts = new[] { "00000000-0000-0000-0000-0000000d1577:1-50", "nowhere" } };
        StringAssert.StartsWith(options.FindProblem(), "Ai:Districts:1 ");
    }

    /// <summary>
    /// A realm whose zone 1 the west AI serves and zone 2 the east AI; the west AI's knight in zone 1 with 40 gold, and
    /// a logged-in client that sees both zones.
    /// </summary>
    private static async Task<World> WorldAsync()
    {
        var logs = new LogCapture();
        var server = InProcessOtp.Start(logs: logs);
        var west = new AiRepository(server.Router, server.Registry, logger: logs.CreateLogger("west"));
        var east = new AiRepository(server.Router, server.Registry, logger: logs.CreateLogger("east"));
        var realm = west.Create(new Realm { Title = "Two Shires" }, DoId.Empty, 0);
        west.Serve(new[] { new AiDistrict(realm.DoId, 1, 1) });
        east.Serve(new[] { new AiDistrict(realm.DoId, 2, 2) });
        var knight = west.Create(new Knight { Name = "Kay", Gold = 40 }, realm.DoId, 1);
        var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, server.Registry);
        await client.CreateAccountAsync("watcher", "a fine password");
        await client.LoginAsync("watcher", "a fine password");
        await client.AddInterestAsync(realm.DoId, new uint[] { 1, 2 });
        Assert.AreEqual(1, client.Objects.OfType<Knight>().Count());
        return new World(server, logs, west, east, realm, knight, client);
    }

    /// <summary>As <see cref="WorldAsync"/>, with a real SQLite file and the stored <see cref="DbWallet"/> model.</summary>
    private static async Task<World> StoredWorldAsync()
    {
        var database = new TempDatabase();
        var registry = TempDatabase.Registry(typeof(DbWallet), typeof(DbPurse), typeof(Realm), typeof(Knight));
        database.Migrate(registry);
        var logs = new LogCapture();
        var server = InProcessOtp.Start(o => o.Database.Path = database.Path, registry: registry, logs: logs);
        var west = new AiRepository(server.Router, registry, logger: logs.CreateLogger("west"));
        var east = new AiRepository(server.Router, registry, logger: logs.CreateLogger("east"));
        var realm = west.Create(new Realm { Title = "Two Shires" }, DoId.Empty, 0);
        west.Serve(new[] { new AiDistrict(realm.DoId, 1, 1) });
        east.Serve(new[] { new AiDistrict(realm.DoId, 2, 2) });
        var knight = west.Create(new Knight { Name = "Kay", Gold = 40 }, realm.DoId, 1);
        var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, registry);
        await client.CreateAccountAsync("watcher", "a fine password");
        await client.LoginAsync("watcher", "a fine password");
        await client.AddInterestAsync(realm.DoId, new uint[] { 1, 2 });
        return new World(server, logs, west, east, realm, knight, client) { Database = database };
    }

    private sealed record World(Pastry.Otp.OtpServer Server, LogCapture Logs, AiRepository West, AiRepository East, Realm Realm, Knight Knight, PastryClient Client) : IAsyncDisposable
    {
        /// <summary>The SQLite file of a stored world (null for the RAM-only one).</summary>
        public TempDatabase? Database { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await West.DisposeAsync();
            await East.DisposeAsync();
            await Server.DisposeAsync();
            Logs.Dispose();
            Database?.Dispose();
        }
    }
}
