using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Client;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// An object moving between OTP nodes (docs/deployment.md, "Moving an object to another node"), over real processes:
/// a nats-server, two OTP nodes, the <see cref="TravelAiApp"/> AI process, and clients on both nodes. Inconclusive
/// without nats-server unless TESTS_REQUIRE_NATS=1.
/// </summary>
[TestClass]
public sealed class NatsObjectMoveTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    [TestMethod]
    public async Task AKnightWalksToARealmTheOtherNodeHolds_WithItsSquire_AndBack_SeenByViewersOnBothNodes_AndStillItsOwnersAndTheAis()
    {
        await using var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
        string[] settings = [.. Deployment.NatsSettings(nats), "--Admin:Port", "0", "--Logging:Level", "Debug"];
        var (first, firstClients, _) = await PastryProcess.StartOtpAsync(settings);
        await using var a = first;
        await a.WaitForLineAsync(new Regex("NATS backplane connected"), Timeout);
        var (second, secondClients, _) = await PastryProcess.StartOtpAsync(settings);
        await using var b = second;
        await b.WaitForLineAsync(new Regex("joining the OTP node\\(s\\) already on"), Timeout);
        await using var ai = PastryProcess.Start(["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(TravelAiApp), "--Admin:Enabled", "false", .. Deployment.NatsSettings(nats)]);
        await ai.WaitForLineAsync(new Regex("AI application TravelAiApp started"), Timeout);

        // Once the AI has heard both nodes ready (it starts on the first), it creates the realms on request: the mapping
        // spreads them over both nodes (all on one: 1 in 2^15).
        var firstHeard = await ai.WaitForLineAsync(new Regex("OTP node ([0-9a-f-]+) is on the backplane"), Timeout);
        await ai.WaitForLineAsync(new Regex($"OTP node (?!{firstHeard.Groups[1].Value})[0-9a-f-]+ is on the backplane"), Timeout);
        await using var asker = await LoggedInAsync(firstClients, "asker");
        await asker.AddInterestAsync(DoId.Empty, 0);
        Assert.IsTrue(asker.TryGet<Realm>(TravelAiApp.LobbyId, out var lobby), "The lobby is at the root.");
        asker.Call(lobby, r => r.Summon("realms"));

        // Two roots held by different nodes.
        var held = new List<(DoId Realm, PastryProcess Holder)>();
        for (int i = 0; i < TravelAiApp.RealmCount; i++)
        {
            held.Add((TravelAiApp.RealmId(i), await HolderAsync(a, b, TravelAiApp.RealmId(i))));
        }

        if (held.All(h => h.Holder == a) || held.All(h => h.Holder == b))
        {
            Assert.Inconclusive("Every realm landed on one node.");
        }

        var (west, westNode) = held.First(h => h.Holder == a);
        var (east, eastNode) = held.First(h => h.Holder == b);
        var (westClients, eastClients) = (firstClients, secondClients);

        // The owner on the west node (it holds the west realm), a viewer of the west realm on the east node, and a
        // viewer of the east realm on the west node: each viewer on the node that does not hold what it watches.
        await using var owner = await LoggedInAsync(westClients, "owner");
        await using var westViewer = await LoggedInAsync(eastClients, "westviewer");
        await using var eastViewer = await LoggedInAsync(westClients, "eastviewer");
        await westViewer.AddInterestAsync(west, 1);
        await eastViewer.AddInterestAsync(east, 1);
        await owner.AddInterestAsync(DoId.Empty, 0);
        Assert.IsTrue(owner.TryGet<Realm>(west, out var westRealm), "The owner sees the realms at the root.");
        Assert.IsTrue(owner.TryGet<Realm>(east, out var eastRealm), "The owner sees the realms at the root.");

        // Tristan (with a squire beneath him) is summoned in the west realm, owned by the caller.
        var owned = owner.Of<Knight>().Created.FirstAsync(k => k.Name == "Tristan").ToTask();
        var seenWest = westViewer.Of<Knight>().Created.FirstAsync(k => k.Name == "Tristan").ToTask();
        owner.Call(westRealm, r => r.Summon("Tristan"));
        var tristan = await owned.WaitAsync(Timeout);
        Assert.AreEqual(owner.AccountId, tristan.Owner);
        var westTristan = await seenWest.WaitAsync(Timeout);
        var x7 = westViewer.Of<Knight>().Updated.FirstAsync(c => c.Target == westTristan && c.Field.Name == nameof(Knight.X) && (int)c.NewValue! == 7).ToTask();
        tristan.X = 7;
        await x7.WaitAsync(Timeout);

        // He walks to the east realm, which the other node holds: the west viewer sees him leave, the east viewer sees
        // him enter with his values, and the east node took him and his squire from the west node.
        var leftWest = westViewer.Of<Knight>().Disabled.FirstAsync(k => k.DoId == tristan.DoId).ToTask();
        var enteredEast = eastViewer.Of<Knight>().Created.FirstAsync(k => k.DoId == tristan.DoId).ToTask();
        owner.Call(eastRealm, r => r.Summon("Tristan"));
        var eastTristan = await enteredEast.WaitAsync(Timeout);
        Assert.AreEqual("Tristan", eastTristan.Name);
        Assert.AreEqual(7, eastTristan.X, "He enters with his values.");
        Assert.AreEqual(owner.AccountId, eastTristan.Owner);
        await leftWest.WaitAsync(Timeout);
        var took = new Regex($"Took Knight {Regex.Escape(tristan.DoId.ToString())} and 1 object\\(s\\) beneath it from OTP node");
        await eastNode.WaitForLineAsync(took, Timeout);
        await westNode.WaitForLineAsync(new Regex($"Moved Knight {Regex.Escape(tristan.DoId.ToString())} and 1 object\\(s\\) beneath it to OTP node"), Timeout);
        Assert.AreEqual(0, westNode.CountLines(new Regex("refused SetLocation")), "The move was not refused.");

        // His owner (on the west node) still sets him, and the east viewer sees it; the owner still has him.
        var x42 = eastViewer.Of<Knight>().Updated.FirstAsync(c => c.Target == eastTristan && c.Field.Name == nameof(Knight.X) && (int)c.NewValue! == 42).ToTask();
        tristan.X = 42;
        await x42.WaitAsync(Timeout);
        Assert.IsTrue(owner.TryGet<Knight>(tristan.DoId, out var stillOwned) && ReferenceEquals(stillOwned, tristan), "The owner keeps seeing him.");

        // A wave from the east viewer reaches the AI, whose update (a gold coin) and shout reach the east viewer.
        var gold = eastViewer.Of<Knight>().Updated.FirstAsync(c => c.Target == eastTristan && c.Field.Name == nameof(Knight.Gold) && (int)c.NewValue! == 1).ToTask();
        await WaveAndHearAsync(eastViewer, eastTristan, "in the east");
        await gold.WaitAsync(Timeout);

        // The AI created him under the west realm, so its router remembered the west node's way for him: its update
        // reached the west node, which forwarded it (and told the AI's router, which takes the holder subject since).
        await westNode.WaitForLineAsync(new Regex($"Forwarded SetField.* about {Regex.Escape(tristan.DoId.ToString())} to OTP node"), Timeout);

        // The squire came with him: the east node answers for Tristan's zones.
        var squireSeen = eastViewer.Of<Knight>().Created.FirstAsync(k => k.Name == "Squire").ToTask();
        await eastViewer.AddInterestAsync(tristan.DoId, 1);
        Assert.AreEqual(tristan.DoId, (await squireSeen.WaitAsync(Timeout)).Parent);

        // And back west: the east viewer sees him leave, the west viewer sees him enter with what changed in the east.
        var leftEast = eastViewer.Of<Knight>().Disabled.FirstAsync(k => k.DoId == tristan.DoId).ToTask();
        var backWest = westViewer.Of<Knight>().Created.FirstAsync(k => k.DoId == tristan.DoId).ToTask();
        owner.Call(westRealm, r => r.Summon("Tristan"));
        var returned = await backWest.WaitAsync(Timeout);
        Assert.AreEqual(42, returned.X);
        Assert.AreEqual(1, returned.Gold);
        await leftEast.WaitAsync(Timeout);
        await westNode.WaitForLineAsync(new Regex($"Took Knight {Regex.Escape(tristan.DoId.ToString())} and 1 object\\(s\\) beneath it from OTP node"), Timeout);
        var x9 = westViewer.Of<Knight>().Updated.FirstAsync(c => c.Target == returned && c.Field.Name == nameof(Knight.X) && (int)c.NewValue! == 9).ToTask();
        tristan.X = 9;
        await x9.WaitAsync(Timeout);
        var gold2 = westViewer.Of<Knight>().Updated.FirstAsync(c => c.Target == returned && c.Field.Name == nameof(Knight.Gold) && (int)c.NewValue! == 2).ToTask();
        await WaveAndHearAsync(westViewer, returned, "back in the west");
        await gold2.WaitAsync(Timeout);
        Assert.AreEqual(0, a.CountLines(new Regex("State Server refused")) + b.CountLines(new Regex("State Server refused")), "Nothing was refused on either node:\n" + a.Output + b.Output);
    }

    /// <summary>The node whose State Server logged the creation of realm <paramref name="realm"/>.</summary>
    private static async Task<PastryProcess> HolderAsync(PastryProcess a, PastryProcess b, DoId realm)
    {
        var created = new Regex("Created Realm " + Regex.Escape(realm.ToString()));
        var onA = a.WaitForLineAsync(created, Timeout);
        var onB = b.WaitForLineAsync(created, Timeout);
        var first = await Task.WhenAny(onA, onB);
        await first;
        _ = (first == onA ? onB : onA).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        return first == onA ? a : b;
    }

    private static async Task WaveAndHearAsync(PastryClient client, Knight knight, string text)
    {
        var shout = client.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout) && (string)c.Arguments[0]! == "echo " + text).ToTask();
        client.Call(knight, k => k.Wave(text));
        await shout.WaitAsync(Timeout);
    }

    private static async Task<PastryClient> LoggedInAsync(System.Net.IPEndPoint clients, string user)
    {
        var client = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Deployment.Registry);
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }
}
