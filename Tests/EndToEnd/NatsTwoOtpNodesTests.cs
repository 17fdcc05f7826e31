using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Client;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// Placement over real processes (docs/deployment.md, "Placement across OTP nodes"): two OTP nodes, one AI process and
/// clients on both nodes share one world through a nats-server. Inconclusive without nats-server unless
/// TESTS_REQUIRE_NATS=1.
/// </summary>
[TestClass]
public sealed class NatsTwoOtpNodesTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    /// <summary>The line the State Server of the node that holds the realm writes (at Debug) when the AI creates it.</summary>
    private static readonly Regex RealmCreated = new("Created Realm " + Regex.Escape(KnightAiApp.RealmId.ToString()));

    [TestMethod]
    public async Task ClientsOnBothNodes_SeeAndUseTheObjectsOfOne_AndAfterAKillTheSurvivorServesThemAgain_AndANodeJoins()
    {
        await using var world = await TwoNodes.StartAsync();
        var (holder, other, holderClients, otherClients, ai, node) = (world.Holder, world.Other, world.HolderClients, world.OtherClients, world.Ai, world.NodeSettings);

        // A client on each node: both see the knights (an interest sync across nodes for one of them), and a wave
        // from the node that does not hold Lancelot reaches the AI, whose shout both clients hear.
        await using var near = await LoggedInAsync(holderClients, "near");
        await using var far = await LoggedInAsync(otherClients, "far");
        await near.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        await far.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = far.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
        Assert.IsTrue(near.Objects.OfType<Knight>().Any(k => k.Name == "Lancelot"));
        await WaveAndHearAsync(far, lancelot, "from the far node", near);

        // kill -9 the holder: the AI notices, creates its objects again on the survivor, and the survivor's client
        // keeps working (its wave is answered); a new client there sees the knights.
        holder.KillHard();
        await ai.WaitForLineAsync(new Regex(@"object\(s\) created again"), Timeout);
        await other.WaitForLineAsync(RealmCreated, Timeout);
        await other.WaitForLineAsync(new Regex("Created Knight"), Timeout);
        await WaveAndHearAsync(far, lancelot, "after the kill");
        await using var late = await LoggedInAsync(otherClients, "late");
        await late.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        Assert.IsTrue(late.Objects.OfType<Knight>().Any(k => k.Name == "Lancelot"), "The survivor serves the knights again.");

        // A node joins: nothing moves (placement is sticky), and its clients see and use the survivor's objects.
        var (c, cClients, _) = await PastryProcess.StartOtpAsync(node);
        await using var cProcess = c;
        await c.WaitForLineAsync(new Regex("joining the OTP node\\(s\\) already on"), Timeout);
        await using var joined = await LoggedInAsync(cClients, "joined");
        await joined.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var seen = joined.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
        await WaveAndHearAsync(joined, seen, "from the new node", far);
        Assert.AreEqual(0, c.CountLines(RealmCreated), "A join moves nothing.");
    }

    [TestMethod]
    public async Task KillingTheNodeOfAClient_ClosesItsSessionOnTheOthers_SoTheKnightItSummonedOnTheOtherNodeIsDismissed_AndTheOtherNodesClientsKeepWorking()
    {
        await using var world = await TwoNodes.StartAsync();
        var (holder, other, holderClients, otherClients) = (world.Holder, world.Other, world.HolderClients, world.OtherClients);

        // A client on the node that does not hold the realm summons a knight it owns: the knight lives with the realm,
        // on the other node, whose client sees it.
        await using var near = await LoggedInAsync(holderClients, "near");
        var far = await LoggedInAsync(otherClients, "far");
        await near.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        await far.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var nearSeesPercy = near.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
        var farOwnsPercy = far.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
        await far.AddInterestAsync(DoId.Empty, 0);
        Assert.IsTrue(far.TryGet<Realm>(KnightAiApp.RealmId, out var realm), "The realm is at the root, zone 0.");
        far.Call(realm, r => r.Summon("Percy"));
        Assert.AreEqual(far.AccountId, (await farOwnsPercy.WaitAsync(Timeout)).Owner);
        var percy = await nearSeesPercy.WaitAsync(Timeout);

        // kill -9 the client's node: no goodbye, no SessionClosed from it. The surviving node's keeper runs the
        // session's post-remove once the heartbeats stop; the AI dismisses the knight; the near client sees it deleted.
        var percyDeleted = near.Of<Knight>().Deleted.FirstAsync(k => k.DoId == percy.DoId).ToTask();
        other.KillHard();
        await far.DisposeAsync();
        await holder.WaitForLineAsync(new Regex(@"Post-remove keeper: routing post-remove .*SessionClosed"), Timeout);
        Assert.AreSame(percy, await percyDeleted.WaitAsync(Timeout));

        // The survivor's clients keep working: a wave is answered, and a new client sees the realm without Percy.
        var lancelot = near.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
        await WaveAndHearAsync(near, lancelot, "after the other node died");
        await using var late = await LoggedInAsync(holderClients, "late");
        await late.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        Assert.IsTrue(late.Objects.OfType<Knight>().Any(k => k.Name == "Lancelot"));
        Assert.IsFalse(late.Objects.OfType<Knight>().Any(k => k.Name == "Percy"), "The dead node's player took their knight with them.");
    }

    /// <summary>
    /// A rolling AI upgrade (<c>--take-over</c>) across two OTP nodes: the running AI has a root on each node (the realm,
    /// and the outpost the mapping puts on the other node), so each node's State Server hands over the objects it holds
    /// and the new AI must hear every node's answer before it starts (the asker's router gathers the dones, as for a
    /// claim). The new AI links to the node the old one does not, so the take-over crosses the backplane both ways.
    /// </summary>
    [TestMethod]
    public async Task ATakeOverOfAnAiWithObjectsOnBothNodes_GivesTheNewAiAllOfThem_TheOldExits0_AndClientsOnBothNodesKeepWorking()
    {
        await using var world = await TwoNodes.StartAsync(withOutpost: true);
        var (holder, other, ai) = (world.Holder, world.Other, world.Ai);
        await other.WaitForLineAsync(new Regex("Created Realm " + Regex.Escape(world.Outpost.ToString())), Timeout);
        Assert.AreEqual(0, holder.CountLines(new Regex("Created Realm " + Regex.Escape(world.Outpost.ToString()))), "The outpost is on the node that does not hold the realm.");

        // A client on each node sees a knight of each node: Lancelot (the realm's) and Tristan (the outpost's).
        await using var near = await LoggedInAsync(world.HolderClients, "near");
        await using var far = await LoggedInAsync(world.OtherClients, "far");
        var knights = new List<(PastryClient Client, Knight Lancelot, Knight Tristan)>();
        foreach (var client in new[] { near, far })
        {
            var lancelot = client.Of<Knight>().Created.FirstAsync(k => k.Name == "Lancelot").ToTask();
            var tristan = client.Of<Knight>().Created.FirstAsync(k => k.Name == "Tristan").ToTask();
            await client.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
            await client.AddInterestAsync(world.Outpost, KnightAiApp.Grid.ZoneOf(0, 0));
            knights.Add((client, await lancelot.WaitAsync(Timeout), await tristan.WaitAsync(Timeout)));
        }

        await WaveAndHearAsync(far, knights[1].Lancelot, "realm, before", near);
        await WaveAndHearAsync(near, knights[0].Tristan, "outpost, before", far);

        // The new build, on the other node's link, takes over: all five objects (realm, Lancelot, Gawain, outpost,
        // Tristan) from both nodes; the old AI hands over and exits 0.
        await using var newAi = StartLinkedAi(world.OtherDirector, world.Outpost, "--take-over");
        await newAi.WaitForLineAsync(new Regex("AI application KnightAiApp started"), Timeout);
        Assert.AreEqual("5", (await newAi.WaitForLineAsync(new Regex(@"took over (\d+) object\(s\)"), Timeout)).Groups[1].Value, newAi.Output);
        Assert.AreEqual(0, await ai.WaitForExitAsync(Timeout), ai.Output);
        Assert.AreEqual(1, ai.CountLines(new Regex(@"handed \d+ object\(s\) over to the new AI")), "The old AI acted once on the two nodes' word that the hand-over completed.");
        foreach (var node in new[] { holder, other })
        {
            await node.WaitForLineAsync(new Regex(@"The hand-over of \S+ to \S+ is done"), Timeout);
        }

        // The clients on both nodes saw nothing leave, and the new AI answers them about both nodes' knights.
        foreach (var (client, lancelot, tristan) in knights)
        {
            Assert.AreEqual(ObjectState.Live, lancelot.State);
            Assert.AreEqual(ObjectState.Live, tristan.State);
        }

        await WaveAndHearAsync(far, knights[1].Lancelot, "realm, after", near);
        await WaveAndHearAsync(near, knights[0].Tristan, "outpost, after", far);
        await WaveAndHearAsync(far, knights[1].Tristan, "outpost, far, after");
        StringAssert.DoesNotMatch(newAi.Output + ai.Output + holder.Output + other.Output, new Regex("called off|went away|did not hand|did not answer"), "Every node switched on the old AI's one word, none called its part off or waited for a timeout.");
    }

    /// <summary>
    /// A nats-server, two OTP nodes (Debug logs) and the Knight AI process, started once the second node joined; the
    /// realm (a root) and its knights live on one node, chosen by the mapping: which one the logs say. With an outpost,
    /// the AI links to the first node's Message Director (as a rolling upgrade needs) once that node sees the second,
    /// and creates a second root that the mapping puts on the node that does not hold the realm.
    /// </summary>
    private sealed class TwoNodes : IAsyncDisposable
    {
        private global::Pastry.Tests.Nats.NatsServer nats = null!;
        private PastryProcess a = null!;
        private PastryProcess b = null!;

        public string[] NodeSettings { get; private set; } = [];

        public PastryProcess Ai { get; private set; } = null!;

        public PastryProcess Holder { get; private set; } = null!;

        public PastryProcess Other { get; private set; } = null!;

        public System.Net.IPEndPoint HolderClients { get; private set; } = null!;

        public System.Net.IPEndPoint OtherClients { get; private set; } = null!;

        /// <summary>The Message Director of <see cref="Other"/>, where an AI of the old kind links.</summary>
        public System.Net.IPEndPoint OtherDirector { get; private set; } = null!;

        /// <summary>The outpost's id (with an outpost): a root the mapping puts on <see cref="Other"/>.</summary>
        public DoId Outpost { get; private set; }

        public static async Task<TwoNodes> StartAsync(bool withOutpost = false)
        {
            var world = new TwoNodes { nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync() };
            try
            {
                var connected = new Regex("NATS backplane connected to \\S+ as node (\\S+) ");
                world.NodeSettings = [.. Deployment.NatsSettings(world.nats), "--Admin:Port", "0", "--Logging:Level", "Debug"];
                (world.a, var aClients, var aDirector) = await PastryProcess.StartOtpAsync(world.NodeSettings);
                var aNode = DoId.Parse((await world.a.WaitForLineAsync(connected, Timeout)).Groups[1].Value);
                (world.b, var bClients, var bDirector) = await PastryProcess.StartOtpAsync(world.NodeSettings);
                var bNode = DoId.Parse((await world.b.WaitForLineAsync(connected, Timeout)).Groups[1].Value);
                await world.b.WaitForLineAsync(new Regex("joining the OTP node\\(s\\) already on"), Timeout);
                if (withOutpost)
                {
                    // The AI's roots are placed by node A's router (it publishes for its links): once A sees B, the
                    // mapping over both is the one that counts, and an outpost id on the realm's other node is found.
                    await world.a.WaitForLineAsync(new Regex($"OTP node {bNode} is on the backplane"), Timeout);
                    DoId[] nodes = [aNode, bNode];
                    var realmNode = global::Pastry.Nats.Placement.RendezvousPlacement.NodeFor(KnightAiApp.RealmId, nodes);
                    do
                    {
                        world.Outpost = DoId.NewId();
                    }
                    while (global::Pastry.Nats.Placement.RendezvousPlacement.NodeFor(world.Outpost, nodes) == realmNode);
                    world.Ai = StartLinkedAi(aDirector, world.Outpost);
                }
                else
                {
                    world.Ai = PastryProcess.Start(["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Admin:Enabled", "false", .. Deployment.NatsSettings(world.nats)]);
                }

                await world.Ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"), Timeout);
                await Task.WhenAny(world.a.WaitForLineAsync(RealmCreated, Timeout), world.b.WaitForLineAsync(RealmCreated, Timeout));
                bool aHolds = world.a.CountLines(RealmCreated) > 0;
                Assert.AreEqual(aHolds ? 0 : 1, world.b.CountLines(RealmCreated), "Exactly one node holds the realm.");
                (world.Holder, world.Other) = aHolds ? (world.a, world.b) : (world.b, world.a);
                (world.HolderClients, world.OtherClients, world.OtherDirector) = aHolds ? (aClients, bClients, bDirector) : (bClients, aClients, aDirector);
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
            foreach (var process in new[] { Ai, b, a })
            {
                if (process is not null)
                {
                    await process.DisposeAsync();
                }
            }

            await nats.DisposeAsync();
        }
    }

    /// <summary>The Knight AI with an outpost (<see cref="KnightAiApp.OutpostVariable"/>), linked to the Message Director at <paramref name="director"/>.</summary>
    private static PastryProcess StartLinkedAi(System.Net.IPEndPoint director, DoId outpost, params string[] extra) =>
        PastryProcess.StartDll(
            PastryProcess.PastryDll,
            new Dictionary<string, string> { [KnightAiApp.OutpostVariable] = outpost.ToString() },
            ["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Ai:MessageDirector", director.ToString(), "--Admin:Enabled", "false", .. extra]);

    /// <summary>Waves at <paramref name="knight"/> from <paramref name="client"/> and waits until it and <paramref name="alsoHearing"/> hear the AI's shout.</summary>
    private static async Task WaveAndHearAsync(PastryClient client, Knight knight, string text, PastryClient? alsoHearing = null)
    {
        var shout = client.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout) && (string)c.Arguments[0]! == "echo " + text).ToTask();
        var heard = alsoHearing?.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout) && (string)c.Arguments[0]! == "echo " + text).ToTask();
        client.Call(knight, k => k.Wave(text));
        await shout.WaitAsync(Timeout);
        if (heard is not null)
        {
            await heard.WaitAsync(Timeout);
        }
    }

    private static async Task<PastryClient> LoggedInAsync(System.Net.IPEndPoint clients, string user)
    {
        var client = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Deployment.Registry);
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }
}
