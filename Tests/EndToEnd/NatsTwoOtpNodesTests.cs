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
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

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
    /// A nats-server, two OTP nodes (Debug logs) and the Knight AI process, started once the second node joined; the
    /// realm (a root) and its knights live on one node, chosen by the mapping: which one the logs say.
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

        public static async Task<TwoNodes> StartAsync()
        {
            var world = new TwoNodes { nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync() };
            try
            {
                world.NodeSettings = [.. Deployment.NatsSettings(world.nats), "--Admin:Port", "0", "--Logging:Level", "Debug"];
                (world.a, var aClients, _) = await PastryProcess.StartOtpAsync(world.NodeSettings);
                await world.a.WaitForLineAsync(new Regex("NATS backplane connected"), Timeout);
                (world.b, var bClients, _) = await PastryProcess.StartOtpAsync(world.NodeSettings);
                await world.b.WaitForLineAsync(new Regex("joining the OTP node\\(s\\) already on"), Timeout);
                world.Ai = PastryProcess.Start(["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Admin:Enabled", "false", .. Deployment.NatsSettings(world.nats)]);
                await world.Ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"), Timeout);
                await Task.WhenAny(world.a.WaitForLineAsync(RealmCreated, Timeout), world.b.WaitForLineAsync(RealmCreated, Timeout));
                bool aHolds = world.a.CountLines(RealmCreated) > 0;
                Assert.AreEqual(aHolds ? 0 : 1, world.b.CountLines(RealmCreated), "Exactly one node holds the realm.");
                (world.Holder, world.Other) = aHolds ? (world.a, world.b) : (world.b, world.a);
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
