using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Client;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The AI and client libraries end to end, over real processes: an OTP process and an AI process (or one
/// <c>--role all</c> process) and several <see cref="PastryClient"/>s on loopback.
/// </summary>
[TestClass]
public sealed class AiAndClientEndToEndTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static int users;

    [TestMethod]
    [DataRow("split")]
    [DataRow("split-secret")]
    [DataRow("all")]
    [DataRow("nats")]
    [DataRow("all-ws")]
    public async Task Clients_SeeTheAisObjects_SetFields_CallRpcs_FollowTheGrid_AndTellDisableFromDelete(string mode)
    {
        await using var game = await Deployment.StartAsync(mode);
        await using var ann = await LoggedInAsync(game);
        await using var bob = await LoggedInAsync(game);
        var realmId = KnightAiApp.RealmId;
        var start = KnightAiApp.Grid.ZoneOf(0, 0);

        // Login → interest → the AI's objects are in view when AddInterest completes.
        await ann.AddInterestAsync(DoId.Empty, 0);
        Assert.IsTrue(ann.TryGet<Realm>(realmId, out var realm), "The realm is at the root, zone 0.");
        var annInterest = await ann.AddInterestAsync(realmId, KnightAiApp.Grid.Neighbourhood(start).ToArray());
        await bob.AddInterestAsync(realmId, KnightAiApp.Grid.Neighbourhood(start).ToArray());
        var lancelot = Single(ann, "Lancelot");
        var bobsLancelot = Single(bob, "Lancelot");
        Assert.IsFalse(ann.Objects.OfType<Knight>().Any(k => k.Name == "Gawain"), "Gawain is two cells away.");

        // A ClSend set applies locally at once (origin local), then reaches the other client.
        var local = lancelot.Changes.FirstAsync().ToTask();
        var seen = bob.Of<Knight>().Updated.FirstAsync(c => c.Target == bobsLancelot && c.Field.Name == "X").ToTask();
        lancelot.X = 7;
        Assert.AreEqual(ChangeOrigin.Local, (await local.WaitAsync(Timeout)).Origin);
        Assert.AreEqual(7, (await seen.WaitAsync(Timeout)).NewValue);
        Assert.AreEqual(7, bobsLancelot.X);

        // RPC round trip: Ann waves, the AI answers with a broadcast shout that both hear.
        var annHears = ann.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        var bobHears = bob.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        ann.Call(lancelot, k => k.Wave("hi"));
        Assert.AreEqual("echo hi", (await annHears.WaitAsync(Timeout)).Arguments[0]);
        Assert.AreEqual("echo hi", (await bobHears.WaitAsync(Timeout)).Arguments[0]);

        // An avatar owned by Ann: she gets its OwnSend fields, Bob does not, and only she may set them.
        var annsAvatar = ann.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
        var bobsView = bob.Of<Knight>().Created.FirstAsync(k => k.Name == "Percy").ToTask();
        ann.Call(realm, r => r.Summon("Percy"));
        var percy = await annsAvatar.WaitAsync(Timeout);
        var bobsPercy = await bobsView.WaitAsync(Timeout);
        Assert.AreEqual(ann.AccountId, percy.Owner);
        Assert.AreEqual(1, percy.Mood);
        Assert.AreEqual(0, bobsPercy.Mood, "Mood is not broadcast: only the owner receives it.");
        var refused = Assert.ThrowsExactly<InvalidOperationException>(() => bobsPercy.Mood = 5);
        StringAssert.Contains(refused.Message, "[OwnSend]");
        percy.Mood = 4;

        // The server enforces it too: a raw client that tries gets 118.
        string cheater = $"cheat{Interlocked.Increment(ref users)}";
        await using (var cheat = game.WebSocketUrl is { } url
            ? await RawClient.LogInAsync(await RawClient.ConnectWebSocketAsync(url), Deployment.Registry, cheater)
            : await RawClient.LoggedInAsync(game.Clients, Deployment.Registry, cheater))
        {
            await cheat.AddInterestAsync(1, realmId, start);
            while ((await cheat.NextAsync()).Type != MessageType.InterestDone)
            {
            }

            await cheat.SetFieldAsync(percy.DoId, (FieldDescriptor<int>)percy.Model.GetField(nameof(Knight.Mood)), 5);
            await cheat.ExpectEjectAsync(EjectCode.ForbiddenField);
        }

        // Interest follows the avatar across the grid, one cell at a time: at (1,0) Gawain at (2,0) comes into view;
        // at (2,0) Lancelot at (0,0) leaves it and is disabled.
        var lancelotCompleted = lancelot.Changes.LastOrDefaultAsync().ToTask();
        var gawainEnters = ann.Of<Knight>().Created.FirstAsync(k => k.Name == "Gawain").ToTask();
        annInterest = await WalkAsync(ann, annInterest, percy, 15, KnightAiApp.Grid.ZoneOf(1, 0));
        var gawain = await gawainEnters.WaitAsync(Timeout);
        var lancelotLeaves = ann.Of<Knight>().Disabled.FirstAsync(k => k.DoId == lancelot.DoId).ToTask();
        annInterest = await WalkAsync(ann, annInterest, percy, 25, KnightAiApp.Grid.ZoneOf(2, 0));
        Assert.AreSame(lancelot, await lancelotLeaves.WaitAsync(Timeout));
        Assert.AreEqual(ObjectState.Disabled, lancelot.State);
        StringAssert.Contains(Assert.ThrowsExactly<ObjectDisabledException>(() => _ = lancelot.Name).Message, lancelot.DoId.ToString());
        await lancelotCompleted.WaitAsync(Timeout);

        // Deleted is not disabled: Ann asks the AI to dismiss Gawain.
        var gawainDeleted = ann.Of<Knight>().Deleted.FirstAsync().ToTask();
        ann.Call(realm, r => r.Dismiss(gawain.DoId));
        Assert.AreSame(gawain, await gawainDeleted.WaitAsync(Timeout));
        Assert.ThrowsExactly<ObjectDeletedException>(() => gawain.X = 1);
        _ = annInterest;
    }

    [TestMethod]
    public async Task KillingTheAiProcess_WhenNoAiOfItsApplicationComesBackWithinTheGrace_DeletesItsObjects_ForEveryClient()
    {
        await using var game = await Deployment.StartAsync("split", "--StateServer:AiRestartGrace", "00:00:01");
        await using var ann = await LoggedInAsync(game);
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = Single(ann, "Lancelot");
        var deleted = ann.Of<Knight>().Deleted.FirstAsync().ToTask();

        game.Ai!.KillHard();

        // Kept for the grace (a new AI of KnightAiApp would take them back), then the normal cleanup.
        await game.Server.WaitForLineAsync(new Regex(@"dropped: its \d+ object\(s\) stay in the world for 1 s"));
        await game.Server.WaitForLineAsync(new Regex("No AI of .*KnightAiApp came back within 1 s"));
        Assert.AreSame(lancelot, await deleted.WaitAsync(Timeout));
        Assert.AreEqual(ObjectState.Deleted, lancelot.State);
    }

    [TestMethod]
    [DataRow("split")]
    [DataRow("nats")]
    public async Task KillingTheAiProcess_WithNoGrace_DeletesItsObjectsAtOnce(string mode)
    {
        await using var game = await Deployment.StartAsync(mode, "--StateServer:AiRestartGrace", "00:00:00");
        await using var ann = await LoggedInAsync(game);
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = Single(ann, "Lancelot");
        var deleted = ann.Of<Knight>().Deleted.FirstAsync().ToTask();

        game.Ai!.KillHard();

        Assert.AreSame(lancelot, await deleted.WaitAsync(Timeout));
        Assert.AreEqual(0, game.Server.CountLines(new Regex("stay in the world")), "Nothing was parked.");
        if (mode == "nats")
        {
            // No MD link dropped: the OTP's keeper noticed the missing heartbeats and routed the AI's post-remove.
            await game.Server.WaitForLineAsync(new Regex(@"Post-remove keeper: node \S+ sent no heartbeat for 00:00:01.5\d*; routing its 1 post-remove"));
        }
    }

    [TestMethod]
    public async Task ANewAiProcess_TakesBackTheObjectsOfTheKilledOne_AndItsHandlersServeThem_WhileTheClientSeesNothingLeave()
    {
        await using var game = await Deployment.StartAsync("split-secret");
        await using var ann = await LoggedInAsync(game);
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = Single(ann, "Lancelot");
        var left = ann.Of<Knight>().Deleted.Merge(ann.Of<Knight>().Disabled).FirstAsync().ToTask();

        game.Ai!.KillHard();
        await game.Server.WaitForLineAsync(new Regex(@"dropped: its \d+ object\(s\) stay in the world"));

        // A participant AI (the link secret, not the privileged one) of the same application: the objects become its own.
        await using var again = PastryProcess.StartDll(PastryProcess.PastryDll, new Dictionary<string, string> { ["PASTRY_Ai__Secret"] = Deployment.LinkSecret, ["PASTRY_Ai__ApplicationKey"] = Deployment.ApplicationKey }, "serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", game.MessageDirector!.ToString(), "--Ai:Application", nameof(KnightAiApp));
        await again.WaitForLineAsync(new Regex(@"took back \d+ object\(s\)"));
        await again.WaitForLineAsync(new Regex("AI application KnightAiApp started"));

        var shout = ann.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        ann.Call(lancelot, k => k.Wave("still there?"));
        Assert.AreEqual("echo still there?", (await shout.WaitAsync(Timeout)).Arguments[0]);
        Assert.IsFalse(left.IsCompleted, "The client saw no knight leave.");
        Assert.AreEqual(ObjectState.Live, lancelot.State);
    }

    [TestMethod]
    public async Task OverNats_AnAiThatStops_IsCleanedUpAtOnce_ByItsGoodbye_AndAProcessWithoutANatsServer_ExitsNamingNatsUrl()
    {
        await using var game = await Deployment.StartAsync("nats", "--StateServer:AiRestartGrace", "00:00:00");
        await using var ann = await LoggedInAsync(game);
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var deleted = ann.Of<Knight>().Deleted.FirstAsync().ToTask();

        game.Ai!.Terminate();

        await deleted.WaitAsync(Timeout);
        await game.Server.WaitForLineAsync(new Regex(@"Post-remove keeper: node \S+ said goodbye; routing its 1 post-remove"));
        Assert.AreEqual(0, await game.Ai.WaitForExitAsync(), game.Ai.Output);

        // The same AI with no nats-server where Nats:Url points: one line naming the key and the fix, exit 1.
        string url = $"nats://127.0.0.1:{game.Nats!.Port}";
        await game.Nats.DisposeAsync();
        await using var orphan = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Admin:Enabled", "false", "--MessageDirector:Backplane", "nats", "--Nats:Url", url, "--Nats:ConnectTimeout", "00:00:02");
        Assert.AreEqual(1, await orphan.WaitForExitAsync(), orphan.Output);
        StringAssert.Contains(orphan.Output, $"cannot reach the nats-server at {url} (Nats:Url)");
        StringAssert.Contains(orphan.Output, "Fix: start nats-server");
    }

    [TestMethod]
    public async Task TheAiProcess_ReconnectsAfterTheOtpRestarts_AndItsObjectsAndHandlersAreBack()
    {
        var (otp, _, director) = await PastryProcess.StartOtpAsync();
        await using var ai = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp));
        await ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"));

        // The OTP dies (kill -9) and comes back on the same Message Director port.
        otp.KillHard();
        await otp.DisposeAsync();
        await ai.WaitForLineAsync(new Regex("link to the Message Director dropped; reconnecting"));
        var (restarted, clients, _) = await PastryProcess.StartOtpAsync("--MessageDirector:Port", director.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var __ = restarted;
        await ai.WaitForLineAsync(new Regex(@"reconnected; 3 object\(s\) created again"));

        // A client of the new OTP sees the AI's knight, and the AI's handlers answer on the new link.
        await using var ann = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Deployment.Registry);
        await ann.CreateAccountAsync("ann", "a fine password");
        await ann.LoginAsync("ann", "a fine password");
        var lancelotSeen = ann.Of<Knight>().Created.FirstAsync(k => k.Name == "Lancelot").ToTask();
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = await lancelotSeen.WaitAsync(Timeout);
        var shout = ann.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        ann.Call(lancelot, k => k.Wave("still there?"));
        Assert.AreEqual("echo still there?", (await shout.WaitAsync(Timeout)).Arguments[0]);
    }

    private static async Task<PastryClient> LoggedInAsync(Deployment game)
    {
        var client = game.WebSocketUrl is { } url
            ? await PastryClient.ConnectAsync(url, Deployment.Registry)
            : await PastryClient.ConnectAsync(game.Clients.Address.ToString(), game.Clients.Port, Deployment.Registry);
        string user = $"knight{Interlocked.Increment(ref users)}";
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }

    private static Knight Single(PastryClient client, string name) => client.Objects.OfType<Knight>().Single(k => k.Name == name);

    /// <summary>Walks the avatar to <paramref name="x"/>; when the AI moves it to the next cell, interest follows (3x3 around it).</summary>
    private static async Task<Interest> WalkAsync(PastryClient client, Interest interest, Knight avatar, int x, uint expectedZone)
    {
        var moved = client.Of<Knight>().Moved.FirstAsync(k => k == avatar && k.Zone == expectedZone).ToTask();
        avatar.X = x;
        await moved.WaitAsync(Timeout);
        return await client.AlterInterestAsync(interest, KnightAiApp.Grid.Neighbourhood(avatar.Zone));
    }
}
