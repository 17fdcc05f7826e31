using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Client;
using Pastry.Tests.Database;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// One account, one live session across every OTP node (docs/deployment.md, "One account, one session"), over real
/// processes: a nats-server, two OTP nodes sharing one PostgreSQL (the account store every node must share), the Knight
/// AI and clients on both nodes. Inconclusive without nats-server (unless TESTS_REQUIRE_NATS=1) or without
/// TESTS_POSTGRES.
/// </summary>
[TestClass]
public sealed class NatsOneSessionPerAccountTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    private const string Password = "a fine password";

    /// <summary>The line the State Server of the node that holds the realm writes (at Debug) when the AI creates it.</summary>
    private static readonly Regex RealmCreated = new("Created Realm " + Regex.Escape(KnightAiApp.RealmId.ToString()));

    [TestMethod]
    public async Task ALoginOnAnotherNode_EjectsTheSessionOnTheFirstWith100_AndTheNewSessionHasTheLiveAvatarWithItsValues()
    {
        await using var world = await World.StartAsync(nodeTimeout: "00:00:01.500");
        var (watcher, ann, percy) = await world.AnnWithHerAvatarAsync();

        // Ann logs in on the other node while her first session lives.
        var eject = ann.Ejected.FirstAsync().ToTask();
        var (again, owned) = await world.LogInAgainAsync(world.HolderClients, ann.AccountId);

        var ejected = await eject.WaitAsync(Timeout);
        Assert.AreEqual((int)Pastry.Wire.EjectCode.LoggedInElsewhere, ejected.EjectCode, ejected.Reason);
        StringAssert.Contains(ejected.Reason, "logged in from another connection");
        await world.Other.WaitForLineAsync(new Regex($@"Ejecting session \S+ \(\S+\) \(account {ann.AccountId}\) with 100 LoggedInElsewhere: this account logged in from another connection"), Timeout);
        await ann.DisposeAsync();

        // The new session has the live avatar, with the values the first one gave it, and acts with it.
        var hers = await owned.WaitAsync(Timeout);
        Assert.AreEqual((percy.DoId, ann.AccountId, 4, 8), (hers.DoId, hers.Owner, hers.Mood, hers.X));
        await WaveAndHearAsync(again, hers, "ann is back", watcher);
        hers.Mood = 6;
        var moved = watcher.Of<Knight>().Updated.FirstAsync(c => c.Target.DoId == percy.DoId && c.Field.Name == nameof(Knight.X) && (int)c.NewValue! == 9).ToTask();
        hers.X = 9;
        await moved.WaitAsync(Timeout);
        Assert.AreEqual(1, watcher.Objects.OfType<Knight>().Count(k => k.Name == "Percy"), "One avatar: the kicked session did not close the account, so the AI did not dismiss it.");
        Assert.AreEqual(0, world.Ai.CountLines(new Regex("holds the account now")), "The kicked session says nothing.");
    }

    [TestMethod]
    public async Task ALoginOnTheSurvivor_RightAfterAKillOfTheFirstNode_KeepsTheAvatar_WhenTheDeadSessionsCloseArrivesLate()
    {
        // A node timeout long enough that Ann's second login always comes before the survivor declares the node dead.
        await using var world = await World.StartAsync(nodeTimeout: "00:00:06");
        var (watcher, ann, percy) = await world.AnnWithHerAvatarAsync();

        // kill -9 Ann's node (her avatar lives on the other one) and log her in there at once.
        world.Other.KillHard();
        await ann.DisposeAsync();
        var (again, owned) = await world.LogInAgainAsync(world.HolderClients, ann.AccountId);
        var hers = await owned.WaitAsync(Timeout);
        Assert.AreEqual(0, world.Holder.CountLines(Routed), "The login came before the node timeout, as this test needs.");

        // The survivor routes the dead session's SessionClosed; the AI hears it after the new login's claim.
        await world.Holder.WaitForLineAsync(Routed, Timeout);
        await world.Ai.WaitForLineAsync(new Regex($"of account {ann.AccountId} closed, but session\\(\\S+\\) holds the account now"), Timeout);

        // Her avatar stays, with its values, and she acts with it.
        Assert.AreEqual((percy.DoId, 4, 8), (hers.DoId, hers.Mood, hers.X));
        await WaveAndHearAsync(again, hers, "still here", watcher);
        Assert.AreEqual(ObjectState.Live, hers.State);
        Assert.AreEqual(1, watcher.Objects.OfType<Knight>().Count(k => k.Name == "Percy"));

        // Her logout now is her current session's: the AI dismisses the avatar.
        var gone = watcher.Of<Knight>().Deleted.FirstAsync(k => k.DoId == percy.DoId).ToTask();
        await again.DisposeAsync();
        await gone.WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task TwoLoginsOfOneAccountOnTwoNodesAtOnce_LeaveExactlyOneSession_AndItActs()
    {
        await using var world = await World.StartAsync(nodeTimeout: "00:00:01.500");
        for (int round = 0; round < 3; round++)
        {
            string user = $"racer{round}";
            await (await LoggedInAsync(world.HolderClients, user, create: true)).DisposeAsync();

            // Both logins leave before either node has heard the other's claim (most rounds: the claims cross).
            await using var onHolder = await PastryClient.ConnectAsync(world.HolderClients.Address.ToString(), world.HolderClients.Port, Deployment.Registry);
            await using var onOther = await PastryClient.ConnectAsync(world.OtherClients.Address.ToString(), world.OtherClients.Port, Deployment.Registry);
            var logins = new[] { onHolder.LoginAsync(user, Password), onOther.LoginAsync(user, Password) };
            await Task.WhenAll(logins.Select(l => l.ContinueWith(_ => { }, TaskScheduler.Default)));

            var first = await Task.WhenAny(onHolder.Closed, onOther.Closed).WaitAsync(Timeout);
            var (loser, winner) = first == onHolder.Closed ? (onHolder, onOther) : (onOther, onHolder);
            var reason = await loser.Closed;
            Assert.AreEqual((int)Pastry.Wire.EjectCode.LoggedInElsewhere, reason.EjectCode, reason.Reason);

            // The winner keeps its session: a wave through the AI is answered after the claims crossed.
            await winner.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
            var lancelot = winner.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
            await WaveAndHearAsync(winner, lancelot, $"round {round}", winner);
            Assert.IsFalse(winner.Closed.IsCompleted, $"Round {round}: exactly one of the two sessions is ejected.");
        }

        // How often the claims crossed (the winner's node heard the loser's older claim and answered it): for the record.
        var crossed = new Regex("holds a newer claim; the other session is told to end");
        Console.WriteLine($"claims crossed in {world.Holder.CountLines(crossed) + world.Other.CountLines(crossed)} of 3 rounds");
    }

    /// <summary>The survivor's keeper routing a dead node's session close (w14dead).</summary>
    private static readonly Regex Routed = new(@"Post-remove keeper: routing post-remove .*SessionClosed");

    /// <summary>
    /// <paramref name="owner"/> summons Percy, sets its Mood (owner only) and X, and waits until <paramref name="watcher"/>
    /// sees X: the State Server that holds it has both values.
    /// </summary>
    private static async Task<Knight> SummonAsync(PastryClient owner, PastryClient watcher, int mood, int x)
    {
        await owner.AddInterestAsync(DoId.Empty, 0);
        Assert.IsTrue(owner.TryGet<Realm>(KnightAiApp.RealmId, out var realm), "The realm is at the root, zone 0.");
        var mine = owner.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
        var seen = watcher.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
        owner.Call(realm, r => r.Summon("Percy"));
        var percy = await mine.WaitAsync(Timeout);
        var watched = await seen.WaitAsync(Timeout);
        var moved = watcher.Of<Knight>().Updated.FirstAsync(c => c.Target == watched && c.Field.Name == nameof(Knight.X) && (int)c.NewValue! == x).ToTask();
        percy.Mood = mood;
        percy.X = x;
        await moved.WaitAsync(Timeout);
        return percy;
    }

    private static async Task WaveAndHearAsync(PastryClient client, Knight knight, string text, PastryClient alsoHearing)
    {
        var shout = client.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout) && (string)c.Arguments[0]! == "echo " + text).ToTask();
        var heard = alsoHearing.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout) && (string)c.Arguments[0]! == "echo " + text).ToTask();
        client.Call(knight, k => k.Wave(text));
        await shout.WaitAsync(Timeout);
        await heard.WaitAsync(Timeout);
    }

    private static async Task<PastryClient> LoggedInAsync(System.Net.IPEndPoint clients, string user, bool create)
    {
        var client = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Deployment.Registry);
        if (create)
        {
            await client.CreateAccountAsync(user, Password);
        }

        await client.LoginAsync(user, Password);
        return client;
    }

    /// <summary>
    /// A PostgreSQL schema, a nats-server, two OTP nodes on both (Debug logs) and the Knight AI process; the realm and
    /// its knights live on one node, chosen by the mapping: which one the logs say.
    /// </summary>
    private sealed class World : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> owned = [];
        private TempDatabase? database;

        public PastryProcess Ai { get; private set; } = null!;

        public PastryProcess Holder { get; private set; } = null!;

        public PastryProcess Other { get; private set; } = null!;

        public System.Net.IPEndPoint HolderClients { get; private set; } = null!;

        public System.Net.IPEndPoint OtherClients { get; private set; } = null!;

        /// <summary>
        /// A watcher on the node that holds the realm, and Ann on the other one with her avatar Percy (summoned, Mood 4,
        /// X 8, held with the realm), both values on the holder.
        /// </summary>
        public async Task<(PastryClient Watcher, PastryClient Ann, Knight Percy)> AnnWithHerAvatarAsync()
        {
            var watcher = await LoggedInAsync(HolderClients, "watcher", create: true);
            owned.Add(watcher);
            await watcher.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
            var ann = await LoggedInAsync(OtherClients, "ann", create: true);
            owned.Add(ann);
            return (watcher, ann, await SummonAsync(ann, watcher, mood: 4, x: 8));
        }

        /// <summary>Ann logs in again on <paramref name="clients"/>; the task completes with her avatar once the new session has it.</summary>
        public async Task<(PastryClient Client, Task<Knight> Avatar)> LogInAgainAsync(System.Net.IPEndPoint clients, DoId account)
        {
            var again = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Deployment.Registry);
            owned.Add(again);
            var avatar = again.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
            Assert.AreEqual(account, await again.LoginAsync("ann", Password));
            return (again, avatar);
        }

        public static async Task<World> StartAsync(string nodeTimeout)
        {
            var world = new World();
            try
            {
                world.database = new TempDatabase(Pastry.Otp.Database.DatabaseOptions.PostgresProvider);
                world.database.Migrate(Deployment.Registry);
                var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
                world.owned.Add(nats);
                string[] backplane = [.. Deployment.NatsSettings(nats), "--Nats:NodeTimeout", nodeTimeout];
                string[] node = [.. backplane, "--Admin:Port", "0", "--Logging:Level", "Debug", .. world.database.ServeSettings];
                var (a, aClients, _) = await PastryProcess.StartOtpAsync(node);
                world.owned.Add(a);
                await a.WaitForLineAsync(new Regex("NATS backplane connected"), Timeout);
                var (b, bClients, _) = await PastryProcess.StartOtpAsync(node);
                world.owned.Add(b);
                await b.WaitForLineAsync(new Regex("joining the OTP node\\(s\\) already on"), Timeout);
                world.Ai = PastryProcess.Start(["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Admin:Enabled", "false", .. backplane]);
                world.owned.Add(world.Ai);
                await world.Ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"), Timeout);
                await Task.WhenAny(a.WaitForLineAsync(RealmCreated, Timeout), b.WaitForLineAsync(RealmCreated, Timeout));
                bool aHolds = a.CountLines(RealmCreated) > 0;
                (world.Holder, world.Other) = aHolds ? (a, b) : (b, a);
                (world.HolderClients, world.OtherClients) = aHolds ? (aClients, bClients) : (bClients, aClients);
                return world;
            }
            catch
            {
                await world.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            for (int i = owned.Count - 1; i >= 0; i--)
            {
                await owned[i].DisposeAsync();
            }

            database?.Dispose();
        }
    }
}
