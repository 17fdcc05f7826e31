using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Demo.Tavern;
using Demo.Tavern.Models;

namespace Pastry.Tests.Tavern;

/// <summary>A scripted evening at the Tavern over a real server process with a SQLite file: the issue's walkthrough as a spec.</summary>
[TestClass]
public sealed class TavernEndToEndTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task TwoPlayers_MeetInTheTavern_Chat_BuyADrink_PostANotice_WalkOut_AndTheGoldSurvivesARestart()
    {
        string database = Path.Combine(Path.GetTempPath(), $"tavern-{Guid.NewGuid():N}.db");
        byte[] looks;
        try
        {
            await using (var server = await TavernProcess.StartAsync(database))
            {
                await using var ann = await JoinAsync(server, "ann");
                await using var bob = await JoinAsync(server, "bob");
                Assert.AreEqual(TavernWorld.StartingGold, ann.Player.Gold, "A new player starts with the starting gold.");
                Assert.AreEqual(ann.Client.AccountId, ann.Player.Account, "The character is stored with its account.");
                CollectionAssert.AreEqual(TavernWorld.StartPosition, ann.Player.Position, "Players start on the street south of the tavern's door.");
                looks = ann.Player.Appearance;
                Assert.AreEqual(4, looks.Length, "A new player picks its looks ([OwnSend]).");

                // They meet in the bar: each sees the other there.
                await ann.EnterTavernAsync();
                await bob.EnterTavernAsync();
                await WhenAsync(ann, () => ann.Client.Objects.OfType<Player>().Any(p => p.Name == "bob" && p.State == ObjectState.Live && p.Parent == TavernWorld.TavernId), "Ann sees Bob in the bar");
                Assert.AreEqual("Barliman", ann.Bartender().Name);

                // Chat: Ann's Say goes to the AI, which repeats it to everyone nearby.
                var bobHears = bob.Client.Of<Player>().Calls.FirstAsync(c => c.Method.Name == nameof(Player.Said)).ToTask();
                ann.Say("Evening, Bob!");
                var heard = await bobHears.WaitAsync(Timeout);
                CollectionAssert.AreEqual(new object[] { "ann", "Evening, Bob!" }, heard.Arguments.ToArray());
                Assert.ThrowsExactly<ModelValidationException>(() => ann.Say("ring\u0007"), "Control characters are refused before anything is sent.");
                Assert.ThrowsExactly<ModelValidationException>(() => ann.Say("evil \u202Eevom"), "Bidi overrides are refused.");
                Assert.ThrowsExactly<ModelValidationException>(() => ann.Say("Bar\u200Bliman"), "Zero-width characters are refused.");
                Assert.ThrowsExactly<ModelValidationException>(() => ann.Say(new string('x', 121)), "Chat lines are at most 120 characters.");

                // A drink: the bartender takes the price with set-if-equals; Ann's purse shrinks and both hear him.
                var served = bob.Client.Of<Bartender>().Calls.FirstAsync(c => ((string)c.Arguments[0]!).StartsWith("Here's your ale, ann", StringComparison.Ordinal)).ToTask();
                var paid = ann.Client.Of<Player>().Updated.FirstAsync(c => c.Target == ann.Player && c.Field.Name == nameof(Player.Gold)).ToTask();
                ann.Buy("ale");
                Assert.AreEqual(TavernWorld.StartingGold - TavernWorld.DrinkPrice, (await paid.WaitAsync(Timeout)).NewValue);
                await served.WaitAsync(Timeout);
                Assert.AreEqual(0, bob.Client.Objects.OfType<Player>().Single(p => p.Name == "ann").Gold, "Gold is not broadcast: only its owner sees it.");

                // The notice board keeps what Bob pins.
                var pinned = ann.Client.Of<NoticeBoard>().Updated.FirstAsync().ToTask();
                bob.Post("Ann buys the next round");
                await pinned.WaitAsync(Timeout);
                Assert.AreEqual("bob: Ann buys the next round", ann.Board().Notices[^1]);

                // Bob goes down to the cellar (the tavern's zone 2), then out of the door and down the street; two
                // cells from the door he leaves Ann's view (disabled, not deleted).
                var downstairs = bob.Client.Of<Player>().Moved.FirstAsync(p => p == bob.Player && p.Zone == TavernWorld.Cellar).ToTask();
                bob.Step(0, TavernWorld.RoomSize + 1);
                await downstairs.WaitAsync(Timeout);
                var bobsCopy = ann.Client.Objects.OfType<Player>().Single(p => p.Name == "bob");
                var gone = ann.Client.Of<Player>().Disabled.FirstAsync(p => p == bobsCopy).ToTask();
                await bob.LeaveTavernAsync();
                Assert.AreEqual(TavernWorld.DistrictId, bob.Player.Parent);
                for (int cell = TavernWorld.TavernCell.X - 1; cell >= TavernWorld.TavernCell.X - 2; cell--)
                {
                    uint zone = TavernWorld.Grid.ZoneOf(cell, TavernWorld.TavernCell.Y - 1);
                    var moved = bob.Client.Of<Player>().Moved.FirstAsync(p => p == bob.Player && p.Zone == zone).ToTask();
                    bob.Step(-TavernWorld.CellSize, 0);
                    await moved.WaitAsync(Timeout);
                }

                Assert.AreSame(bobsCopy, await gone.WaitAsync(Timeout));
                Assert.AreEqual(ObjectState.Disabled, bobsCopy.State);

                // NPCs come and go: the wanderer goes home (deleted) after its steps, wherever it is on the grid.
                var despawned = ann.Client.Of<Wanderer>().Deleted.FirstAsync().ToTask();
                await ann.Client.AddInterestAsync(TavernWorld.DistrictId, Enumerable.Range(1, 100).Select(z => (uint)z).ToArray());
                Assert.AreEqual(ObjectState.Deleted, (await despawned.WaitAsync(Timeout)).State);
            }

            // The gold was spent in the database: after a restart on the same file, Ann still has 17.
            await using var again = await TavernProcess.StartAsync(database);
            await using var annAgain = await JoinAsync(again, "ann");
            Assert.AreEqual(TavernWorld.StartingGold - TavernWorld.DrinkPrice, annAgain.Player.Gold);
            Assert.AreEqual("ann", annAgain.Player.Name);
            CollectionAssert.AreEqual(looks, annAgain.Player.Appearance, "The looks were written through to the database too.");
        }
        finally
        {
            foreach (string file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    [TestMethod]
    public async Task APlayerWhoseConnectionDrops_LeavesTheWorld_AndIsSaved()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-drop").FullName;
        string database = Path.Combine(directory, "tavern.db");
        await using var server = await TavernProcess.StartAsync(database);
        await using var ann = await JoinAsync(server, "ann");
        var carlSeen = ann.Client.Of<Player>().Created.FirstAsync(p => p.Name == "carl").ToTask();
        var carl = await JoinAsync(server, "carl");
        var carlId = (await carlSeen.WaitAsync(Timeout)).DoId;
        Assert.AreEqual(carl.Player.DoId, carlId, "Ann sees Carl on the street.");
        var carlGone = ann.Client.Of<Player>().Deleted.FirstAsync(p => p.DoId == carlId).ToTask();
        var dropped = DateTime.UtcNow;

        // Carl's connection drops without LeaveWorld: the Client Agent tells the AI, which saves him and unloads him.
        await carl.Client.DisposeAsync();

        var left = await server.WaitForLineAsync(new System.Text.RegularExpressions.Regex("carl left the world with (\\d+) gold"));
        long goldWhenHeLeft = long.Parse(left.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.AreEqual(carlId, (await carlGone.WaitAsync(Timeout)).DoId, "Ann sees Carl leave the world.");

        // Saved: after a graceful stop (which drains the database queue), his row holds the time he left and his gold.
        Assert.AreEqual(0, await server.StopAsync(), server.Output);
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT LastSeen, Gold FROM Player WHERE Name = 'carl'";
        using var row = query.ExecuteReader();
        Assert.IsTrue(row.Read(), "Carl has a row.");
        var lastSeen = DateTime.Parse(row.GetString(0), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);
        Assert.IsTrue(lastSeen >= dropped.AddSeconds(-1), $"LastSeen {lastSeen:O} is the time he left (dropped at {dropped:O}), not the time he joined.");
        Assert.AreEqual(goldWhenHeLeft, row.GetInt64(1), "The gold he left with (the AI may have paid wages meanwhile) is what is stored.");
    }

    [TestMethod]
    public async Task Names_AreUniqueIgnoringCase_AnAccountHasUpToThreeCharacters_ListedAndChosenAtLogin_AndTheRichestAreOnTheBoard()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-characters").FullName;
        await using var server = await TavernProcess.StartAsync(Path.Combine(directory, "tavern.db"));

        // A new account has no characters; it plays one named after the user, then makes two more at later logins.
        foreach (var (character, before) in new[] { ((string?)null, ""), ("Annie", "ann"), ("Anna", "ann,Annie") })
        {
            await using var session = await JoinAsync(server, "ann", character);
            Assert.AreEqual(before, string.Join(",", session.Characters), "The characters are listed at login, in slot order.");
            Assert.AreEqual(character ?? "ann", session.Player.Name);
        }

        var fourth = await Assert.ThrowsExactlyAsync<TavernRefusedException>(() => JoinAsync(server, "ann", "Anya"));
        StringAssert.Contains(fourth.Message, "You have 3 characters already (ann, Annie, Anna)");

        // Chosen at login: by name (in any case), or the first one by default.
        await using (var annie = await JoinAsync(server, "ann", "ANNIE"))
        {
            CollectionAssert.AreEqual(new[] { "ann", "Annie", "Anna" }, annie.Characters.ToArray());
            Assert.AreEqual("Annie", annie.Player.Name, "The stored character, with its stored name.");
        }

        // Names are unique among all accounts, ignoring case, and NPC names are taken too.
        StringAssert.Contains((await Assert.ThrowsExactlyAsync<TavernRefusedException>(() => JoinAsync(server, "bob", "aNNa"))).Message, "The name aNNa is taken");
        StringAssert.Contains((await Assert.ThrowsExactlyAsync<TavernRefusedException>(() => JoinAsync(server, "bob", "barliman"))).Message, "tavern's own folk");

        // The richest patrons: Ann spends 3 gold, and the board in the bar (a query ordered by gold) shows it.
        await using var bob = await JoinAsync(server, "bob", "Bob");
        await using var ann = await JoinAsync(server, "ann", null);
        await ann.EnterTavernAsync();
        var spent = ann.Client.Of<Player>().Updated.FirstAsync(c => c.Target == ann.Player && c.Field.Name == nameof(Player.Gold)).ToTask();
        ann.Buy("ale");
        await spent.WaitAsync(Timeout);
        string[] expected = { "Anna: 20 gold", "Annie: 20 gold", "Bob: 20 gold", "ann: 17 gold" };
        await TestWaits.UntilAsync(() => bob.Patrons().Richest.SequenceEqual(expected), () => $"the board reads {string.Join("; ", expected)} (it reads {string.Join("; ", bob.Patrons().Richest)})", Timeout);
    }

    [TestMethod]
    public async Task ATeleport_IsCutShortToTheWalkingAllowance_AndThePlayerIsTold_WhileTheDoorStillWorks()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-speed").FullName;
        await using var server = await TavernProcess.StartAsync(Path.Combine(directory, "tavern.db"));
        await using var ann = await JoinAsync(server, "ann");
        var start = ann.Player.Position.ToArray();
        var told = ann.Client.Of<Player>().Calls.FirstAsync(c => c.Method.Name == nameof(Player.Told) && c.Target == ann.Player).ToTask();
        var corrected = ann.Client.Of<Player>().Updated.FirstAsync(c => c.Target == ann.Player && c.Field.Name == nameof(Player.Position) && c.Origin == ChangeOrigin.Remote).ToTask();

        // A modified client sets Position 72 units away in one go (Position is [OwnSend], so the Client Agent lets it through).
        ann.Step(-60, -40);

        StringAssert.Contains((string)(await told.WaitAsync(Timeout)).Arguments[0]!, "You cannot walk that fast");
        await corrected.WaitAsync(Timeout);
        var now = ann.Player.Position;
        float walked = MathF.Sqrt(MathF.Pow(now[0] - start[0], 2) + MathF.Pow(now[1] - start[1], 2));
        Assert.IsTrue(walked <= TavernWorld.MaxStride + 0.01f, $"The AI cut the move short: {walked} units walked, the allowance is {TavernWorld.MaxStride}.");
        Assert.IsTrue(walked > 1f, "The player walks as far as the allowance goes, towards where it asked.");
        await server.WaitForLineAsync(new System.Text.RegularExpressions.Regex("tavern: ann tried to move 72.1 units at once; cut short at"));

        // Going in and out is the AI's move (an RPC it validates), not a jump of Position: from afar it is refused.
        var refused = ann.Client.Of<Player>().Calls.FirstAsync(c => c.Method.Name == nameof(Player.Told) && c.Target == ann.Player).ToTask();
        ann.Client.Call(ann.Player, p => p.GoInside());
        StringAssert.Contains((string)(await refused.WaitAsync(Timeout)).Arguments[0]!, "walk to it first");
        Assert.AreEqual(TavernWorld.DistrictId, ann.Player.Parent);
    }

    [TestMethod]
    public async Task TheBoard_TakesNoticesOnlyInTheBar_AndNoOneMovesAnotherPlayer()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-rules").FullName;
        await using var server = await TavernProcess.StartAsync(Path.Combine(directory, "tavern.db"));
        await using var ann = await JoinAsync(server, "ann");
        await using var carl = await JoinAsync(server, "carl");
        await TestWaits.UntilAsync(() => ann.Client.Objects.OfType<Player>().Any(p => p.Name == "carl"), () => "Ann sees Carl on the street", Timeout);

        // From the street (the board is in view, but it hangs in the bar) the AI refuses the notice.
        carl.Post("sold from the street");
        await server.WaitForLineAsync(new System.Text.RegularExpressions.Regex($"a notice from account {carl.Client.AccountId} was refused: the board is in the bar"));

        // Position is [OwnSend]: Ann cannot move Carl (her client refuses before sending; the Client Agent would eject 118).
        var carlsCopy = ann.Client.Objects.OfType<Player>().Single(p => p.Name == "carl");
        Assert.ThrowsExactly<InvalidOperationException>(() => carlsCopy.Position = new[] { 1f, 1f });

        // In the bar the same notice is pinned.
        await carl.EnterTavernAsync();
        var pinned = ann.Client.Of<NoticeBoard>().Updated.FirstAsync().ToTask();
        carl.Post("pinned in the bar");
        await pinned.WaitAsync(Timeout);
        Assert.AreEqual("carl: pinned in the bar", ann.Board().Notices[^1]);
    }

    [TestMethod]
    public async Task FiveDrinksOrderedAtOnce_LeaveTheOwnersViewOnTheGoldTheDatabaseHolds()
    {
        // Issue 12's stale view: five concurrent orders race their set-if-equals; the losers' answers must not leave the
        // owner (and the State Server) on an old purse while the database holds another.
        string directory = Directory.CreateTempSubdirectory("tavern-drinks").FullName;
        string database = Path.Combine(directory, "tavern.db");
        await using var server = await TavernProcess.StartAsync(database);
        await using var ann = await JoinAsync(server, "ann");
        await ann.EnterTavernAsync();

        string[] answersToAnn = { "Here's your ale, ann!", "Your purse keeps changing, ann", "A ale is 3 gold, ann" };
        var answers = ann.Client.Of<Bartender>().Calls.Select(c => (string)c.Arguments[0]!).Where(text => answersToAnn.Any(a => text.StartsWith(a, StringComparison.Ordinal))).Take(5).ToList().ToTask();
        for (int i = 0; i < 5; i++)
        {
            ann.Buy("ale");
        }

        int paid = (await answers.WaitAsync(Timeout)).Count(text => text.StartsWith("Here's your", StringComparison.Ordinal));
        Assert.IsTrue(paid >= 1, "At least the first order is served.");
        int stored;
        using (var connection = Pastry.Otp.Database.SqliteDatabase.Open(database, create: false))
        {
            stored = Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM Player WHERE Name = 'ann'");
        }

        Assert.AreEqual(TavernWorld.StartingGold - (paid * TavernWorld.DrinkPrice), stored, "Each served drink took its price in the database.");
        var purse = ann.Client.Of<Player>().Updated.Where(c => c.Target == ann.Player).Select(_ => 0).StartWith(0).Select(_ => ann.Player.Gold).FirstAsync(gold => gold == stored).ToTask();
        try
        {
            await purse.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The owner's view stayed on {ann.Player.Gold} gold while the database holds {stored}.");
        }
    }

    private static Task<TavernSession> JoinAsync(TavernProcess server, string user, string? character = null) =>
        TavernSession.JoinAsync(server.Clients.Address.ToString(), server.Clients.Port, user, $"{user} likes the tavern", character).WaitAsync(Timeout);

    /// <summary>Waits until <paramref name="condition"/> holds, checking it again each time a player enters or moves in the session's view.</summary>
    private static async Task WhenAsync(TavernSession session, Func<bool> condition, string what)
    {
        var players = session.Client.Of<Player>();
        var changed = players.Created.Select(_ => 0).Merge(players.Moved.Select(_ => 0)).StartWith(0);
        try
        {
            await changed.Select(_ => condition()).FirstAsync(ok => ok).ToTask().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out waiting until {what}.");
        }
    }
}
