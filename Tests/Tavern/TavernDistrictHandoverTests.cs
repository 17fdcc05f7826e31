using System.Globalization;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Demo.Tavern;
using Demo.Tavern.Models;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Tavern;

/// <summary>
/// Several AIs in one world (issue 14 item 4), "the district handover", over real processes: the Tavern's OTP
/// (<c>serve --role otp</c>, SQLite) and two AI processes (<c>serve --role ai</c>), each taking its districts from
/// <c>Ai:Districts</c>: Old Town (the southern half of the district's grid, the rosters and the tavern's rooms) and
/// the Hill (the northern half). A player walks from Old Town onto the Hill; a watcher whose interest spans the
/// boundary reads the wire.
/// </summary>
[TestClass]
public sealed class TavernDistrictHandoverTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Old Town's districts: the grid's rows 0-4, the rosters' zone and the tavern's two rooms.</summary>
    public static readonly string[] OldTown = [$"{TavernWorld.DistrictId}:1-50,{TavernWorld.RosterZone}", $"{TavernWorld.TavernId}:{TavernWorld.BarRoom}-{TavernWorld.Cellar}"];

    /// <summary>The Hill's district: the grid's rows 5-9.</summary>
    public static readonly string[] Hill = [$"{TavernWorld.DistrictId}:51-100"];

    /// <summary>
    /// <paramref name="link"/>: <c>tcp</c>, the AIs connect to the OTP's embedded Message Director link; <c>nats</c>, all
    /// three processes share a real nats-server (the Deployment "nats" mode's settings) and the AIs get no MD address.
    /// </summary>
    [TestMethod]
    [DataRow("tcp")]
    [DataRow("nats")]
    public async Task APlayerWalksIntoTheOtherAisDistrict_ItIsHandedOver_TheWatcherSeesNoLeaveOrEnter_TheNewAiHearsIt_AndItsRowIsOneWithTheRightValues(string link)
    {
        string directory = Directory.CreateTempSubdirectory("tavern-districts").FullName;
        string database = Path.Combine(directory, "tavern.db");
        await using var nats = link == "nats" ? await Nats.NatsServer.StartAsync() : null;
        string[] backplane = nats is null ? [] : Deployment.NatsSettings(nats);
        await using var otp = await TavernProcess.StartOtpAsync(database, backplane);
        if (nats is not null)
        {
            await otp.WaitForLineAsync(new Regex("NATS backplane connected"));
        }

        await using var oldTown = await StartDistrictAiAsync(otp, OldTown, backplane);
        await using var hill = await StartDistrictAiAsync(otp, Hill, backplane);

        var ann = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "ann", "ann likes the tavern").WaitAsync(Timeout);
        var annId = ann.Player.DoId;

        // In Old Town: Ann buys an ale at the bar (Old Town's AI takes 3 gold with a set-if-equals) and steps out again.
        await ann.EnterTavernAsync();
        var paid = ann.Client.Of<Player>().Updated.FirstAsync(c => c.Target == ann.Player && c.Field.Name == nameof(Player.Gold)).ToTask();
        ann.Buy("ale");
        Assert.AreEqual(TavernWorld.StartingGold - TavernWorld.DrinkPrice, (await paid.WaitAsync(Timeout)).NewValue);
        await ann.LeaveTavernAsync();

        // The watcher sees rows 4 and 5 of the grid: both sides of the boundary between the two districts.
        await using var watcher = await RawClient.LoggedInAsync(otp.Clients, TavernSession.Models, "watcher");
        var frames = new List<ReceivedFrame>();
        await watcher.AddInterestAsync(1, TavernWorld.DistrictId, Enumerable.Range(41, 20).Select(z => (uint)z).ToArray());
        await UntilAsync(watcher, frames, f => f.Type == MessageType.InterestDone);
        Assert.IsTrue(frames.Any(f => f.Type == MessageType.EnterObject && SubjectOf(f) == annId), "The watcher sees Ann at the door (zone 47).");
        int window = frames.Count;

        // West along row 4 (Old Town), then north into row 5: the Hill's.
        ann.Step(-TavernWorld.CellSize, 0);
        await UntilAsync(watcher, frames, f => IsLocation(f, annId, 46));
        var adopted = hill.WaitForLineAsync(new Regex(@"tavern: ann walked into this AI's district at zone 56 with (\d+) gold"), Timeout);
        var letGo = oldTown.WaitForLineAsync(new Regex("tavern: ann walked on into another AI's district"), Timeout);
        ann.Step(0, TavernWorld.CellSize);
        await UntilAsync(watcher, frames, f => IsLocation(f, annId, 56));
        Assert.AreEqual((TavernWorld.StartingGold - TavernWorld.DrinkPrice).ToString(CultureInfo.InvariantCulture), (await adopted).Groups[1].Value, "The Hill's AI has Ann with the gold Old Town's AI took.");
        await letGo;

        // The Hill's AI hears her now: it repeats what she says to everyone nearby, and it follows her walk.
        ann.Say("hello from the hill");
        var said = await UntilAsync(watcher, frames, f => f.Type == MessageType.CallMethod && SubjectOf(f) == annId);
        var (method, arguments) = ReadCall(said, ann.Player.Model);
        Assert.AreEqual(nameof(Player.Said), method);
        CollectionAssert.AreEqual(new object[] { "ann", "hello from the hill" }, arguments);
        var looks = new byte[] { 1, 2, 3, 4, 5 };
        ann.Player.Appearance = looks;
        ann.Step(-TavernWorld.CellSize, 0);
        await UntilAsync(watcher, frames, f => IsLocation(f, annId, 55));

        // On the wire: Ann moved (Location), and never left or entered the watcher's view.
        var annFrames = frames.Skip(window).Where(f => HasSubject(f) && SubjectOf(f) == annId).Select(f => f.Type).ToList();
        CollectionAssert.DoesNotContain(annFrames, MessageType.LeaveObject, string.Join(", ", annFrames));
        CollectionAssert.DoesNotContain(annFrames, MessageType.EnterObject, string.Join(", ", annFrames));
        CollectionAssert.DoesNotContain(annFrames, MessageType.EnterOwnedObject, string.Join(", ", annFrames));
        Assert.AreEqual(3, annFrames.Count(t => t == MessageType.Location), string.Join(", ", annFrames));
        Assert.AreEqual(ObjectState.Live, ann.Player.State, "Ann's own client kept its player.");

        // She logs out on the Hill: the Hill's AI saves her and takes her out of the world.
        await ann.DisposeAsync();
        await hill.WaitForLineAsync(new Regex($"tavern: ann left the world with {TavernWorld.StartingGold - TavernWorld.DrinkPrice} gold"), Timeout);
        Assert.AreEqual(0, await otp.StopAsync());

        // One stored row, with the gold Old Town's AI took and the looks she chose on the Hill.
        using var connection = Pastry.Otp.Database.SqliteDatabase.Open(database, create: false);
        Assert.AreEqual(1, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT COUNT(*) FROM Player"), "Neither doubled...");
        Assert.AreEqual(TavernWorld.StartingGold - TavernWorld.DrinkPrice, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM Player WHERE Name = 'ann'"), "...nor lost.");
        CollectionAssert.AreEqual(looks, Dapper.SqlMapper.ExecuteScalar<byte[]>(connection, "SELECT Appearance FROM Player WHERE Name = 'ann'"));
    }

    /// <summary>
    /// A player whose avatar is live on the Hill's AI logs in again: once after their connection dropped (the session
    /// waits parked for its resume), once with a second login while the first session is live (eject 100). Each time
    /// Old Town's AI (the district's, which answers EnterWorld) gets the live avatar handed over with its gold, the Hill's
    /// AI lets it go, there is one avatar and one row, and Old Town's bartender can sell to it (only the AI that plays
    /// a player sells to it).
    /// </summary>
    [TestMethod]
    public async Task APlayerLogsInAgainWhileTheirAvatarIsLiveOnTheOtherAi_OldTownGetsItWithItsGold_NoDuplicate_NoLoss()
    {
        await using var world = await TwoDistricts.StartAsync("relogin");
        var (database, otp, oldTown, hill) = (world.Database, world.Otp, world.OldTown, world.Hill);
        const string password = "ann likes the tavern";
        int gold = TavernWorld.StartingGold;

        var ann = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "ann", password).WaitAsync(Timeout);
        var annId = ann.Player.DoId;
        gold = await BuyAleAsync(ann, gold);
        await WalkOntoTheHillAsync(ann, hill, gold);

        // 1. Her connection drops on the Hill (the session is parked for its resume) and she logs in again from a new client.
        ann.Client.DropConnectionForTesting();
        await ann.Client.DisposeAsync();
        var back = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "ann", password).WaitAsync(Timeout);
        Assert.AreEqual(annId, back.Player.DoId, "The same avatar.");
        Assert.AreEqual(gold, back.Player.Gold, "With the gold she had.");
        await oldTown.WaitForLineAsync(new Regex($"tavern: ann entered the world with {gold} gold"), Timeout);
        gold = await BuyAleAsync(back, gold);

        // 2. Back on the Hill, she logs in a second time while this session is live: the first one is ejected (100).
        await WalkOntoTheHillAsync(back, hill, gold);
        var again = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "ann", password).WaitAsync(Timeout);
        var closed = await back.Client.Closed.WaitAsync(Timeout);
        Assert.AreEqual((int)EjectCode.LoggedInElsewhere, closed.EjectCode, closed.Reason);
        await oldTown.WaitForLineAsync(new Regex($"tavern: ann walked into this AI's district at zone 47 with {gold} gold"), Timeout);
        await hill.WaitForLineAsync(new Regex($"tavern: ann walked on into another AI's district with {gold} gold"), Timeout);
        Assert.AreEqual((annId, gold), (again.Player.DoId, again.Player.Gold));
        Assert.AreEqual(1, again.Client.Objects.OfType<Player>().Count(p => p.Name == "ann"), "One avatar in her view.");
        gold = await BuyAleAsync(again, gold);

        // She logs out in Old Town: saved once, by Old Town's AI.
        await again.DisposeAsync();
        await oldTown.WaitForLineAsync(new Regex($"tavern: ann left the world with {gold} gold"), Timeout);
        StringAssert.DoesNotMatch(otp.Output + oldTown.Output + hill.Output, new Regex("already active|EnterWorld failed"), "No activation was refused.");
        Assert.AreEqual(0, await otp.StopAsync());
        using var connection = Pastry.Otp.Database.SqliteDatabase.Open(database, create: false);
        Assert.AreEqual(1, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT COUNT(*) FROM Player"), "Neither doubled...");
        Assert.AreEqual(TavernWorld.StartingGold - (3 * TavernWorld.DrinkPrice), Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM Player WHERE Name = 'ann'"), "...nor lost.");
    }

    /// <summary>
    /// A rolling upgrade of one district AI (<c>--take-over</c>, v19up's) while the other runs: the Hill's new build,
    /// started with the Hill's <c>Ai:Districts</c>, takes over the Hill's AI (which exits 0) with Ann on its streets;
    /// it answers her, she walks into Old Town (handed over by the new build) and back (adopted by it).
    /// </summary>
    [TestMethod]
    public async Task ANewBuildTakesOverTheHillsAi_WithAPlayerOnItsStreets_AndTheDistrictHandoverGoesOnWithIt()
    {
        await using var world = await TwoDistricts.StartAsync("takeover");
        var (database, otp, oldTown, hill) = (world.Database, world.Otp, world.OldTown, world.Hill);
        var ann = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "ann", "ann likes the tavern").WaitAsync(Timeout);
        int gold = await BuyAleAsync(ann, TavernWorld.StartingGold);
        await WalkOntoTheHillAsync(ann, hill, gold);

        await using var newHill = await StartDistrictAiAsync(otp, Hill, extra: ["--take-over"]);
        Assert.AreEqual(0, await hill.WaitForExitAsync().WaitAsync(Timeout), "The old build hands over and exits by itself.");
        await newHill.WaitForLineAsync(new Regex($"tavern: ann is back in the world at .* with {gold} gold"), Timeout);

        // The new build plays her: it repeats what she says, and walks her into Old Town and back.
        var said = ann.Client.Of<Player>().Calls.FirstAsync(c => c.Target == ann.Player && c.Method.Name == nameof(Player.Said)).ToTask();
        ann.Say("new build, same hill");
        Assert.AreEqual("new build, same hill", (await said.WaitAsync(Timeout)).Arguments[1]);
        var intoOldTown = oldTown.WaitForLineAsync(new Regex($"tavern: ann walked into this AI's district at zone 46 with {gold} gold"), Timeout);
        ann.Step(0, -TavernWorld.CellSize);
        await intoOldTown;
        await newHill.WaitForLineAsync(new Regex($"tavern: ann walked on into another AI's district with {gold} gold"), Timeout);
        var backOnTheHill = newHill.WaitForLineAsync(new Regex($"tavern: ann walked into this AI's district at zone 56 with {gold} gold"), Timeout);
        ann.Step(0, TavernWorld.CellSize);
        await backOnTheHill;
        await ann.DisposeAsync();
        await newHill.WaitForLineAsync(new Regex($"tavern: ann left the world with {gold} gold"), Timeout);
        Assert.AreEqual(0, await otp.StopAsync());
        using var connection = Pastry.Otp.Database.SqliteDatabase.Open(database, create: false);
        Assert.AreEqual(1, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT COUNT(*) FROM Player"));
        Assert.AreEqual(gold, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM Player WHERE Name = 'ann'"));
    }

    /// <summary>The Tavern's OTP on a fresh SQLite file with Old Town's and the Hill's AI processes (TCP link).</summary>
    private sealed record TwoDistricts(string Database, TavernProcess Otp, PastryProcess OldTown, PastryProcess Hill) : IAsyncDisposable
    {
        public static async Task<TwoDistricts> StartAsync(string name)
        {
            string database = Path.Combine(Directory.CreateTempSubdirectory($"tavern-districts-{name}").FullName, "tavern.db");
            var otp = await TavernProcess.StartOtpAsync(database);
            PastryProcess? oldTown = null;
            try
            {
                oldTown = await StartDistrictAiAsync(otp, TavernDistrictHandoverTests.OldTown);
                return new TwoDistricts(database, otp, oldTown, await StartDistrictAiAsync(otp, TavernDistrictHandoverTests.Hill));
            }
            catch
            {
                if (oldTown is not null)
                {
                    await oldTown.DisposeAsync();
                }

                await otp.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Hill.DisposeAsync();
            await OldTown.DisposeAsync();
            await Otp.DisposeAsync();
        }
    }

    /// <summary>Buys an ale at Old Town's bar (the player must be in Old Town) and returns the gold left.</summary>
    private static async Task<int> BuyAleAsync(TavernSession session, int gold)
    {
        await session.EnterTavernAsync().WaitAsync(Timeout);
        var paid = session.Client.Of<Player>().Updated.FirstAsync(c => c.Target == session.Player && c.Field.Name == nameof(Player.Gold)).ToTask();
        session.Buy("ale");
        Assert.AreEqual(gold - TavernWorld.DrinkPrice, (await paid.WaitAsync(Timeout)).NewValue, "Old Town's AI sold her an ale: it plays her.");
        await session.LeaveTavernAsync().WaitAsync(Timeout);
        return gold - TavernWorld.DrinkPrice;
    }

    /// <summary>From the tavern's door, one cell west and one north: onto the Hill, whose AI adopts the player.</summary>
    private static async Task WalkOntoTheHillAsync(TavernSession session, PastryProcess hill, int gold)
    {
        var west = session.Client.Of<Player>().Moved.FirstAsync(p => p == session.Player && p.Zone == 46).ToTask();
        session.Step(-TavernWorld.CellSize, 0);
        await west.WaitAsync(Timeout);
        var adopted = hill.WaitForLineAsync(new Regex($"tavern: ann walked into this AI's district at zone 56 with {gold} gold"), Timeout);
        session.Step(0, TavernWorld.CellSize);
        await adopted;
    }

    /// <summary>
    /// Starts a Tavern AI process serving <paramref name="districts"/> (<c>Ai:Districts</c>), on the OTP's MD link or on
    /// the <paramref name="backplane"/> settings when given, and waits until its application started.
    /// </summary>
    public static async Task<PastryProcess> StartDistrictAiAsync(TavernProcess otp, string[] districts, string[]? backplane = null, string[]? extra = null)
    {
        var environment = new Dictionary<string, string> { ["TAVERN_WANDER_MS"] = "100", ["TAVERN_WANDER_STEPS"] = "5", ["TAVERN_WAGE_MS"] = "3600000" };
        string[] settings = districts.SelectMany((d, i) => new[] { $"--Ai:Districts:{i}", d }).ToArray();
        string[] link = backplane is { Length: > 0 } ? backplane : ["--Ai:MessageDirector", otp.MessageDirector!.ToString()];
        var ai = PastryProcess.StartDll(TavernProcess.TavernDll, environment, ["serve", "--role", "ai", "--Admin:Port", "0", .. link, .. settings, .. extra ?? []]);
        try
        {
            await ai.WaitForLineAsync(new Regex("AI application TavernAi started"));
            return ai;
        }
        catch
        {
            await ai.DisposeAsync();
            throw;
        }
    }

    /// <summary>Reads frames (keeping each in <paramref name="frames"/>) until one matches.</summary>
    private static async Task<ReceivedFrame> UntilAsync(RawClient client, List<ReceivedFrame> frames, Func<ReceivedFrame, bool> match)
    {
        while (true)
        {
            var frame = await client.NextAsync(Timeout);
            frames.Add(frame);
            if (match(frame))
            {
                return frame;
            }
        }
    }

    private static bool HasSubject(ReceivedFrame frame) => frame.Type is MessageType.EnterObject or MessageType.EnterOwnedObject or MessageType.LeaveObject
        or MessageType.Location or MessageType.SetField or MessageType.SetFields or MessageType.CallMethod;

    private static (string Method, object?[] Arguments) ReadCall(ReceivedFrame frame, ModelInfo model)
    {
        var reader = frame.Reader();
        reader.ReadDoId();
        var method = model.FindMethodByWireId(reader.ReadUInt16())!;
        return (method.Name, method.DecodeArguments(ref reader));
    }

    private static DoId SubjectOf(ReceivedFrame frame) => frame.Reader().ReadDoId();

    private static bool IsLocation(ReceivedFrame frame, DoId id, uint zone)
    {
        if (frame.Type != MessageType.Location)
        {
            return false;
        }

        var reader = frame.Reader();
        return reader.ReadDoId() == id && reader.ReadDoId() == TavernWorld.DistrictId && reader.ReadUInt32() == zone;
    }
}
