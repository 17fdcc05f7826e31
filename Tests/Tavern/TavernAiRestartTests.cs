using System.Collections.Concurrent;
using System.Globalization;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Demo.Tavern;
using Demo.Tavern.Models;

namespace Pastry.Tests.Tavern;

/// <summary>
/// An AI restart brings the world back (issue 18 item 3), over real processes: the Tavern's OTP (<c>serve --role otp</c>
/// with a SQLite file) and its AI in a process of its own (<c>serve --role ai</c>), with players on the client library.
/// The AI is killed with SIGKILL and another started; the players do nothing about it.
/// </summary>
[TestClass]
public sealed class TavernAiRestartTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(20));

    [TestMethod]
    public async Task AKilledAi_AndANewOne_BringTheWorldBack_EveryPlayerWhereItWasWithItsStoredFields_WithNoClientCall()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-ai-restart").FullName;
        string database = Path.Combine(directory, "tavern.db");
        await using var otp = await TavernProcess.StartOtpAsync(database);
        var firstAi = await otp.StartAiAsync();
        await using var _ = firstAi;
        await using var ann = await JoinAsync(otp, "ann");
        await using var bob = await JoinAsync(otp, "bob");
        var carl = await JoinAsync(otp, "carl");
        Assert.AreEqual(TavernWorld.StartingGold, ann.Player.Gold, "Ann is a stored character (the AI's database requests are answered over the link).");

        // An evening under way: Ann and Bob in the bar, Ann has paid for an ale and stepped aside.
        await ann.EnterTavernAsync();
        await bob.EnterTavernAsync();
        var paid = ann.Client.Of<Player>().Updated.FirstAsync(c => c.Target == ann.Player && c.Field.Name == nameof(Player.Gold)).ToTask();
        ann.Buy("ale");
        Assert.AreEqual(TavernWorld.StartingGold - TavernWorld.DrinkPrice, (await paid.WaitAsync(Timeout)).NewValue);
        await StepAsync(ann, bob, 1, 1);

        // From here on, no client may see anything of the world leave (but Carl, who logs out).
        var carlId = carl.Player.DoId;
        var leaves = new ConcurrentQueue<string>();
        using var watch = new System.Reactive.Disposables.CompositeDisposable(
            WatchLeaves(ann, carlId, leaves),
            WatchLeaves(bob, carlId, leaves));
        var annsObjects = ann.Client.Objects.Where(o => o.DoId != carlId).ToList();

        // The AI dies (SIGKILL). Its objects stay in the world for the next AI.
        firstAi.KillHard();
        await otp.WaitForLineAsync(new Regex(@"dropped: its \d+ object\(s\) stay in the world"));

        // While no AI runs, Ann steps on (the State Server keeps her position) and Carl logs out (no AI hears it yet).
        await StepAsync(ann, bob, 1, 0);
        var annAt = (float[])ann.Player.Position.Clone();
        var carlGone = ann.Client.Of<Player>().Deleted.FirstAsync(p => p.DoId == carlId).ToTask();
        await carl.DisposeAsync();
        await otp.WaitForLineAsync(new Regex("logged out while no AI of Demo.Tavern.TavernAi runs"));

        // A new AI process takes the world back: Ann where she stood, with the gold the database holds.
        await using var secondAi = await otp.StartAiAsync();
        var back = await secondAi.WaitForLineAsync(new Regex(@"tavern: ann is back in the world at \((\S+), (\S+)\) with (\d+) gold"));
        Assert.AreEqual(annAt[0].ToString("0.#", CultureInfo.InvariantCulture), back.Groups[1].Value, "The new AI has Ann where she stood.");
        Assert.AreEqual(annAt[1].ToString("0.#", CultureInfo.InvariantCulture), back.Groups[2].Value);
        Assert.AreEqual((TavernWorld.StartingGold - TavernWorld.DrinkPrice).ToString(CultureInfo.InvariantCulture), back.Groups[3].Value, "Her stored gold.");
        await secondAi.WaitForLineAsync(new Regex("tavern: bob is back in the world"));

        // Carl's logout reached the new AI: it saved him and took him out of the world.
        await secondAi.WaitForLineAsync(new Regex(@"tavern: carl left the world with \d+ gold"));
        Assert.AreEqual(carlId, (await carlGone.WaitAsync(Timeout)).DoId, "Ann sees Carl leave once an AI hears of his logout.");

        // The new AI serves the same objects: Bob's chat is repeated to Ann, and Ann's next drink is paid from her stored gold.
        var annHears = ann.Client.Of<Player>().Calls.FirstAsync(c => c.Method.Name == nameof(Player.Said) && (string)c.Arguments[1]! == "Still here?").ToTask();
        bob.Say("Still here?");
        Assert.AreEqual("bob", (await annHears.WaitAsync(Timeout)).Arguments[0]);
        var paidAgain = ann.Client.Of<Player>().Updated.FirstAsync(c => c.Target == ann.Player && c.Field.Name == nameof(Player.Gold)).ToTask();
        ann.Buy("mead");
        Assert.AreEqual(TavernWorld.StartingGold - (2 * TavernWorld.DrinkPrice), (await paidAgain.WaitAsync(Timeout)).NewValue);

        // The clients did nothing and saw nothing leave: the same objects, live, Ann's avatar with its values.
        Assert.AreEqual(string.Empty, string.Join(", ", leaves), "No client saw any object of the world leave.");
        Assert.IsTrue(annsObjects.All(o => o.State == ObjectState.Live), "Ann's objects are the ones she had, live.");
        Assert.AreSame(ann.Player, ann.Client.Objects.OfType<Player>().Single(p => p.Owner == ann.Client.AccountId));
        CollectionAssert.AreEqual(annAt, ann.Player.Position, "Ann's avatar is where she stood.");
        Assert.AreEqual("ann", ann.Player.Name);
        Assert.AreEqual(TavernWorld.TavernId, ann.Player.Parent, "Still in the bar.");
        using var connection = Pastry.Otp.Database.SqliteDatabase.Open(database, create: false);
        Assert.AreEqual(TavernWorld.StartingGold - (2 * TavernWorld.DrinkPrice), Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM Player WHERE Name = 'ann'"));
    }

    private static Task<TavernSession> JoinAsync(TavernProcess server, string user) =>
        TavernSession.JoinAsync(server.Clients.Address.ToString(), server.Clients.Port, user, $"{user} likes the tavern").WaitAsync(Timeout);

    /// <summary>Ann steps, and waits until Bob sees her new position (so the server has it).</summary>
    private static async Task StepAsync(TavernSession walker, TavernSession watcher, float dx, float dy)
    {
        var seen = watcher.Client.Of<Player>().Updated.FirstAsync(c => c.Target.DoId == walker.Player.DoId && c.Field.Name == nameof(Player.Position)).ToTask();
        walker.Step(dx, dy);
        await seen.WaitAsync(Timeout);
    }

    /// <summary>Records every object (but <paramref name="except"/>) that leaves <paramref name="session"/>'s view, disabled or deleted.</summary>
    private static IDisposable WatchLeaves(TavernSession session, DoId except, ConcurrentQueue<string> leaves)
    {
        var client = session.Client;
        return Observable.Merge(
                client.Of<District>().Disabled.Merge(client.Of<District>().Deleted).Select(o => (DistributedObject)o),
                client.Of<Demo.Tavern.Models.Tavern>().Disabled.Merge(client.Of<Demo.Tavern.Models.Tavern>().Deleted).Select(o => (DistributedObject)o),
                client.Of<Bartender>().Disabled.Merge(client.Of<Bartender>().Deleted).Select(o => (DistributedObject)o),
                client.Of<NoticeBoard>().Disabled.Merge(client.Of<NoticeBoard>().Deleted).Select(o => (DistributedObject)o),
                client.Of<Roster>().Disabled.Merge(client.Of<Roster>().Deleted).Select(o => (DistributedObject)o),
                client.Of<Player>().Disabled.Merge(client.Of<Player>().Deleted).Select(o => (DistributedObject)o))
            .Where(o => o.DoId != except)
            .Subscribe(o => leaves.Enqueue($"{session.User} saw {o.Model.Name} {o.DoId} leave"));
    }
}
