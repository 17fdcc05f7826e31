using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
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
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

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

    private sealed record World(Pastry.Otp.OtpServer Server, LogCapture Logs, AiRepository West, AiRepository East, Realm Realm, Knight Knight, PastryClient Client) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await West.DisposeAsync();
            await East.DisposeAsync();
            await Server.DisposeAsync();
            Logs.Dispose();
        }
    }
}
