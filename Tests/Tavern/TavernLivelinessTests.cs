using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Demo.Tavern;
using Microsoft.Data.Sqlite;

namespace Pastry.Tests.Tavern;

/// <summary>
/// Issue 20 item 8 as a spec, over real processes: the Tavern's bots stay lively on every run (wages refill their
/// purses), and the console client keeps one readable stream.
/// </summary>
[TestClass]
public sealed class TavernLivelinessTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static readonly TimeSpan Evening = TimeSpan.FromSeconds(90);

    [TestMethod]
    public async Task BotsThatSpentAllTheirGold_EarnWages_AndBuyDrinksAgain_OnTheSecondAndThirdRun()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-evenings").FullName;
        string database = Path.Combine(directory, "tavern.db");
        var fastBots = new Dictionary<string, string> { ["TAVERN_BOT_MS"] = "200" };
        for (int run = 1; run <= 3; run++)
        {
            await using (var server = await TavernProcess.StartAsync(database, new Dictionary<string, string> { ["TAVERN_WAGE_MS"] = "500" }))
            {
                await using var bots = server.StartClient(fastBots, "bots", "--count", "3");
                if (run > 1)
                {
                    await server.WaitForLineAsync(new Regex(@"tavern: bot\d entered the world with 0 gold"), Evening);
                }

                // With an empty purse, only a wage can pay for this drink.
                await bots.WaitForLineAsync(new Regex(@"Barliman: ""Here's your ale, bot\d!"""), Evening);
            }

            // The evening is over and every coin is spent: the next run starts with empty purses.
            Assert.IsTrue(SpendAllGold(database) > 0, "The bots' players are stored.");
        }
    }

    [TestMethod]
    public async Task Console_PrintsSteps_Bumps_NewNoticesOnce_WhoLeftTheView_AndNoBartenderInTheCellar()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-console").FullName;
        await using var server = await TavernProcess.StartAsync(Path.Combine(directory, "tavern.db"));
        await using var ann = server.StartClient(null, "play", "--user", "ann", "--password", "ann likes the tavern");
        await ann.WaitForLineAsync(new Regex("^commands:"));
        await using var bob = await TavernSession.JoinAsync(server.Clients.Address.ToString(), server.Clients.Port, "bob", "bob likes the tavern").WaitAsync(Timeout);
        await ann.WaitForLineAsync(new Regex("^bob comes into view"));

        // One step north from the start is the tavern's cell: Ann walks into the bar, where Barliman stands.
        await ann.SendLineAsync("w");
        await ann.WaitForLineAsync(new Regex("^You walk north"));
        await ann.WaitForLineAsync(new Regex(@"^ann is in the bar of the Prancing Pastry .*Barliman \(behind the bar\)"));

        // Steps inside the room print, and so does the wall (the room is 10 wide; she starts in the middle).
        await ann.SendLineAsync("d");
        await ann.WaitForLineAsync(new Regex("^You walk east"));
        await ann.SendLineAsync("d");
        await ann.WaitForLineAsync(new Regex("^You bump into the wall"));

        // Bob pins two notices: Ann reads each new one once, never the whole board again.
        await bob.EnterTavernAsync().WaitAsync(Timeout);
        bob.Post("Ann buys the next round");
        await ann.WaitForLineAsync(new Regex("^New notice: bob: Ann buys the next round$"));
        bob.Post("Cellar door sticks");
        await ann.WaitForLineAsync(new Regex("^New notice: bob: Cellar door sticks$"));
        Assert.AreEqual(1, ann.CountLines(new Regex("Ann buys the next round")), ann.Output);
        Assert.AreEqual(0, ann.CountLines(new Regex("welcome to the Prancing Pastry")), "The board's old notices are not reprinted.");

        // Down to the cellar (north past the bar): Barliman stays behind the bar, and the description says so.
        await ann.SendLineAsync("w");
        await ann.SendLineAsync("w");
        var cellar = await ann.WaitForLineAsync(new Regex("^ann is in the cellar of the Prancing Pastry.*$"));
        StringAssert.DoesNotMatch(cellar.Value, new Regex("Barliman"), "Barliman is not in the cellar.");

        // Bob walks out and two cells down the street, out of Ann's view: the console names him.
        await bob.LeaveTavernAsync().WaitAsync(Timeout);
        for (int cell = 1; cell <= 2; cell++)
        {
            uint zone = TavernWorld.Grid.ZoneOf(TavernWorld.TavernCell.X - cell, TavernWorld.TavernCell.Y - 1);
            var moved = bob.Client.Of<Demo.Tavern.Models.Player>().Moved.FirstAsync(p => p == bob.Player && p.Zone == zone).ToTask();
            bob.Step(-TavernWorld.CellSize, 0);
            await moved.WaitAsync(Timeout);
        }

        await ann.WaitForLineAsync(new Regex("^bob went out of view"));
        Assert.AreEqual(0, ann.CountLines(new Regex("someone")), ann.Output);

        await ann.SendLineAsync("quit");
        Assert.AreEqual(0, await ann.WaitForExitAsync());
    }

    [TestMethod]
    public async Task Console_WithATooShortPassword_SaysThePasswordPolicy_NotUnknownUserOrWrongPassword()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-password").FullName;
        await using var server = await TavernProcess.StartAsync(Path.Combine(directory, "tavern.db"));
        await using var dan = server.StartClient(null, "play", "--user", "dan", "--password", "short");

        Assert.AreEqual(1, await dan.WaitForExitAsync());
        StringAssert.Contains(dan.Output, "Password must be 8-128 characters.");
        Assert.IsFalse(dan.Output.Contains("Unknown username or wrong password", StringComparison.Ordinal), dan.Output);
    }

    /// <summary>Empties every player's purse in the SQLite file, as a long evening would; returns how many players.</summary>
    private static int SpendAllGold(string database)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE \"Player\" SET \"Gold\" = 0";
        return command.ExecuteNonQuery();
    }

    [TestMethod]
    public async Task TheConsoleClient_LogsInAgainByItself_WhenTheServerRestarts()
    {
        using var db = new Pastry.Tests.Database.TempDatabase();
        var server = await TavernProcess.StartAsync(db.Path);
        int port = server.Clients.Port;
        TavernProcess? restarted = null;
        try
        {
            await using var ann = server.StartClient(null, "play", "--user", "ann", "--password", "ann likes the tavern");
            await ann.WaitForLineAsync(new Regex("^commands:"));

            // The server stops (154) and comes back on the same port: the session is gone (ServerRestarted), and the
            // console logs in and enters the world again without being told.
            Assert.AreEqual(0, await server.StopAsync());
            await ann.WaitForLineAsync(new Regex("reconnecting"));
            restarted = await TavernProcess.StartAsync(db.Path, clientPort: port);
            await ann.WaitForLineAsync(new Regex(@"The session was lost \(ServerRestarted"));

            // The restarted server's first "entered the world" for ann is the console's own re-entry.
            await restarted.WaitForLineAsync(new Regex("tavern: ann entered the world"), Timeout);
        }
        finally
        {
            await server.DisposeAsync();
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }
}
