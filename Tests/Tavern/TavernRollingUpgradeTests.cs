using System.Collections.Concurrent;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Demo.Tavern;
using Demo.Tavern.Models;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Tavern;

/// <summary>
/// A rolling AI upgrade (issue 19 item 5) over real processes: the Tavern's OTP (<c>serve --role otp</c>, SQLite) and
/// its AI (<c>serve --role ai</c>) run while two players keep ordering drinks; a new build of the Tavern's logic, with
/// stout on the menu, starts with <c>--take-over</c>. A watcher on the wire (a raw client with the whole district and
/// the bar in view) must see no object leave or enter (but the wanderer, whose walk is the game's own).
/// </summary>
[TestClass]
public sealed class TavernRollingUpgradeTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task ANewTavernBuild_TakesOverTheRunningAi_WhilePlayersDrink_NoOneSeesLeaveOrEnter_NoOrderIsLost_AndStoutIsServed()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-rolling-upgrade").FullName;
        string database = Path.Combine(directory, "tavern.db");
        await using var otp = await TavernProcess.StartOtpAsync(database);
        var oldAi = await otp.StartAiAsync();
        await using var _ = oldAi;
        await using var ann = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "ann", "ann likes the tavern").WaitAsync(Timeout);
        await using var bob = await TavernSession.JoinAsync(otp.Clients.Address.ToString(), otp.Clients.Port, "bob", "bob likes the tavern").WaitAsync(Timeout);
        await ann.EnterTavernAsync().WaitAsync(Timeout);
        await bob.EnterTavernAsync().WaitAsync(Timeout);
        var annsPlayer = ann.Player;
        var annAt = (float[])annsPlayer.Position.Clone();

        // The watcher: the whole district and the bar in view, every frame recorded from here on.
        var models = TavernSession.Models;
        await using var watcher = await RawClient.LoggedInAsync(otp.Clients, models, "watcher");
        var classes = new ConcurrentDictionary<DoId, string>();
        await watcher.AddInterestAsync(1, TavernWorld.DistrictId, Enumerable.Range(0, TavernWorld.Grid.Width * TavernWorld.Grid.Height).Select(i => TavernWorld.Grid.FirstZone + (uint)i).ToArray());
        await ReadUntilDoneAsync(watcher, 1, classes, models);
        await watcher.AddInterestAsync(2, TavernWorld.TavernId, TavernWorld.BarRoom);
        await ReadUntilDoneAsync(watcher, 2, classes, models);
        var bartender = classes.Single(c => c.Value == nameof(Bartender)).Key;
        Assert.IsTrue(classes.ContainsKey(annsPlayer.DoId), "The watcher sees Ann in the bar.");

        var frames = new ConcurrentQueue<(ReceivedFrame Frame, bool OldAiGone)>();
        var answers = new ConcurrentDictionary<string, int>();
        var refused = new ConcurrentDictionary<string, int>();
        var sent = new ConcurrentDictionary<string, int>();
        var allAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var wandererAfterOldAiGone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stoutServed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var tenMoreAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int answersWanted = int.MaxValue;
        bool oldAiGone = false;
        bool drinkingStopped = false;
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        var reading = Task.Run(async () =>
        {
            await foreach (var frame in watcher.ReadAllAsync(stopReading.Token))
            {
                bool gone = Volatile.Read(ref oldAiGone);
                frames.Enqueue((frame, gone));
                var reader = frame.Reader();
                if (frame.Type is MessageType.EnterObject or MessageType.EnterOwnedObject)
                {
                    var entered = RawClient.ReadEnter(frame, models);
                    classes.TryAdd(entered.Id, entered.Model.Name);
                }

                var id = frame.Type is MessageType.SetField or MessageType.SetFields or MessageType.EnterObject or MessageType.CallMethod ? reader.ReadDoId() : DoId.Empty;
                if (gone && !id.IsEmpty && classes.GetValueOrDefault(id) == nameof(Wanderer))
                {
                    wandererAfterOldAiGone.TrySetResult();
                }

                if (frame.Type == MessageType.CallMethod && id == bartender)
                {
                    var method = models.GetModel<Bartender>().FindMethodByWireId(reader.ReadUInt16())!;
                    string text = (string)method.DecodeArguments(ref reader)[0]!;
                    if (text.Contains("stout", StringComparison.Ordinal) && text.Contains("ann", StringComparison.Ordinal))
                    {
                        stoutServed.TrySetResult(text);
                    }

                    foreach (string user in new[] { "ann", "bob" })
                    {
                        if (Regex.IsMatch(text, $@"\b{user}\b"))
                        {
                            answers.AddOrUpdate(user, 1, (_, n) => n + 1);
                        }
                    }

                    if (answers.Values.Sum() >= Volatile.Read(ref answersWanted))
                    {
                        tenMoreAnswered.TrySetResult();
                    }

                    CheckAllAnswered();
                }
            }
        });
        using var annRefused = ann.Client.RequestsRefused.Subscribe(_ => { refused.AddOrUpdate("ann", 1, (_, n) => n + 1); CheckAllAnswered(); });
        using var bobRefused = bob.Client.RequestsRefused.Subscribe(_ => { refused.AddOrUpdate("bob", 1, (_, n) => n + 1); CheckAllAnswered(); });
        using var heartbeats = new Timer(_ => _ = watcher.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat)), null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));

        // Ann and Bob keep ordering ale, without waiting for the answers, before, during and after the upgrade.
        using var stopDrinking = new CancellationTokenSource();
        var drinking = Task.Run(async () =>
        {
            while (!stopDrinking.IsCancellationRequested)
            {
                foreach (var session in new[] { ann, bob })
                {
                    sent.AddOrUpdate(session.User, 1, (_, n) => n + 1);
                    session.Buy("ale");
                }

                // Pacing of the load, not a wait for an event.
                await Task.Delay(25, CancellationToken.None);
            }
        });

        // The new build takes over: the old AI hands its objects over and exits by itself.
        var newAi = await otp.StartAiAsync(new Dictionary<string, string> { ["TAVERN_MENU"] = "ale,mead,cider,stout" }, "--take-over");
        await using var __ = newAi;
        Assert.AreEqual(0, await oldAi.WaitForExitAsync(Timeout), "The old AI stops by itself once it has handed over, with exit code 0.");
        Volatile.Write(ref oldAiGone, true);
        StringAssert.Contains(oldAi.Output, "handed its objects over to a new AI");
        var handed = await otp.WaitForLineAsync(new Regex(@"handed (\d+) object\(s\) of Demo.Tavern.TavernAi over to"));
        var done = await otp.WaitForLineAsync(new Regex(@"The hand-over of Demo.Tavern.TavernAi to \S+ is done \(its game started\): (\d+) held client request\(s\) delivered to it, (\d+) refused"));
        await newAi.WaitForLineAsync(new Regex("tavern: the bar serves ale, mead, cider, stout"));

        // A timer restarts in the new AI: the wanderer walks on (or a new one comes out).
        await wandererAfterOldAiGone.Task.WaitAsync(Timeout);

        // The drinking goes on under the new AI for a while, then stops; every order is answered or refused, none lost.
        Volatile.Write(ref answersWanted, answers.Values.Sum() + 10);
        if (answers.Values.Sum() >= answersWanted)
        {
            tenMoreAnswered.TrySetResult();
        }

        await tenMoreAnswered.Task.WaitAsync(Timeout);
        await stopDrinking.CancelAsync();
        await drinking;
        Volatile.Write(ref drinkingStopped, true);
        CheckAllAnswered();
        await allAnswered.Task.WaitAsync(Timeout);

        // The new build has stout on the menu (the old one answered "We only serve ale, mead, cider"); Ann, who spent her
        // gold on ale, is served or told its price.
        ann.Buy("stout");
        string stout = await stoutServed.Task.WaitAsync(Timeout);
        Assert.IsTrue(stout.StartsWith("Here's your stout, ann!", StringComparison.Ordinal) || stout.StartsWith($"A stout is {TavernWorld.DrinkPrice} gold, ann", StringComparison.Ordinal), stout);
        await stopReading.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => reading);

        TestContext.WriteLine($"ROLLING UPGRADE: {handed.Groups[1].Value} object(s) handed over; orders sent ann {sent["ann"]}, bob {sent["bob"]}; answered {answers.GetValueOrDefault("ann")} + {answers.GetValueOrDefault("bob")}; refused {refused.GetValueOrDefault("ann")} + {refused.GetValueOrDefault("bob")}; held during the hand-over and delivered {done.Groups[1].Value}, refused there {done.Groups[2].Value}");

        // On the wire: nothing left or entered but the wanderer.
        var comings = frames
            .Select(f => f.Frame)
            .Where(f => f.Type is MessageType.EnterObject or MessageType.EnterOwnedObject or MessageType.LeaveObject)
            .Select(f => (f.Type, Id: f.Reader().ReadDoId()))
            .Where(f => classes.GetValueOrDefault(f.Id) != nameof(Wanderer))
            .Select(f => $"{f.Type} {classes.GetValueOrDefault(f.Id)} {f.Id}")
            .ToList();
        Assert.AreEqual(string.Empty, string.Join(", ", comings), "The watcher saw no object leave or enter.");

        // Fields, owners and locations are kept: Ann's avatar is the same object, where she stood, with the stored gold.
        Assert.AreEqual(ObjectState.Live, annsPlayer.State);
        Assert.AreSame(annsPlayer, ann.Client.Objects.OfType<Player>().Single(p => p.Owner == ann.Client.AccountId));
        Assert.AreEqual((TavernWorld.TavernId, TavernWorld.BarRoom), (annsPlayer.Parent, annsPlayer.Zone));
        CollectionAssert.AreEqual(annAt, annsPlayer.Position);
        Assert.AreEqual("ann", annsPlayer.Name);
        using var connection = Pastry.Otp.Database.SqliteDatabase.Open(database, create: false);
        Assert.AreEqual(annsPlayer.Gold, Dapper.SqlMapper.ExecuteScalar<int>(connection, "SELECT Gold FROM Player WHERE Name = 'ann'"), "Ann's view holds the gold the database holds.");

        void CheckAllAnswered()
        {
            if (Volatile.Read(ref drinkingStopped) && new[] { "ann", "bob" }.All(u => answers.GetValueOrDefault(u) + refused.GetValueOrDefault(u) >= sent.GetValueOrDefault(u)))
            {
                allAnswered.TrySetResult();
            }
        }
    }

    [TestMethod]
    public async Task ATakeOver_WithNoAiOfTheApplicationRunning_IsRefused382_Exit1_NamingTheFix_AndTakeOverNeedsRoleAi()
    {
        string directory = Directory.CreateTempSubdirectory("tavern-take-over-nothing").FullName;
        await using var otp = await TavernProcess.StartOtpAsync(Path.Combine(directory, "tavern.db"));

        await using var lonely = PastryProcess.StartDll(TavernProcess.TavernDll, null, "serve", "--role", "ai", "--take-over", "--Ai:MessageDirector", otp.MessageDirector!.ToString(), "--Admin:Port", "0");
        Assert.AreEqual(1, await lonely.WaitForExitAsync(Timeout), lonely.Output);
        StringAssert.Contains(lonely.Output, "382 NothingToTakeOver");
        StringAssert.Contains(lonely.Output, "no AI of application 'Demo.Tavern.TavernAi' is connected or parked here");
        StringAssert.Contains(lonely.Output, "without --take-over");

        await using var wrongRole = PastryProcess.StartDll(TavernProcess.TavernDll, null, "serve", "--role", "all", "--take-over");
        Assert.AreEqual(2, await wrongRole.WaitForExitAsync(Timeout), wrongRole.Output);
        StringAssert.Contains(wrongRole.Output, "--take-over needs --role ai");
    }

    /// <summary>Reads an interest's Enters until its InterestDone, noting each object's class.</summary>
    private static async Task ReadUntilDoneAsync(RawClient client, uint context, ConcurrentDictionary<DoId, string> classes, ModelRegistry models)
    {
        while (true)
        {
            var frame = await client.NextAsync(Timeout);
            if (frame.Type is MessageType.EnterObject or MessageType.EnterOwnedObject)
            {
                var entered = RawClient.ReadEnter(frame, models);
                classes[entered.Id] = entered.Model.Name;
            }
            else if (frame.Type == MessageType.InterestDone && frame.Reader().ReadUInt32() == context)
            {
                return;
            }
        }
    }
}
