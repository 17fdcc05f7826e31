using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
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
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private static int users;

    [TestMethod]
    [DataRow("split")]
    [DataRow("all")]
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
        await using (var cheat = await RawClient.LoggedInAsync(game.Clients, Deployment.Registry, $"cheat{Interlocked.Increment(ref users)}"))
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
    public async Task KillingTheAiProcess_DeletesItsObjects_ForEveryClient()
    {
        await using var game = await Deployment.StartAsync("split");
        await using var ann = await LoggedInAsync(game);
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = Single(ann, "Lancelot");
        var deleted = ann.Of<Knight>().Deleted.FirstAsync().ToTask();

        game.Ai!.KillHard();

        Assert.AreSame(lancelot, await deleted.WaitAsync(Timeout));
        Assert.AreEqual(ObjectState.Deleted, lancelot.State);
    }

    [TestMethod]
    public async Task ClockSync_FindsTheTrueOffset_WhenTheClientClockIsShifted_AndServerTimeNeverGoesBack()
    {
        await using var server = InProcessOtp.Start();
        var shifted = new ShiftedTime(TimeSpan.FromHours(1));
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, server.Registry, new ClientOptions { Time = shifted, ClockSyncInterval = TimeSpan.FromMilliseconds(50) });

        var synced = Observable.Interval(TimeSpan.FromMilliseconds(20)).Select(_ => client.Clock.SampleCount).FirstAsync(n => n >= 4).ToTask();
        await synced.WaitAsync(Timeout);

        // NTP's bound: with the best sample's round trip r, the offset is wrong by at most r/2 (plus clock granularity).
        var error = (client.Clock.Offset - TimeSpan.FromHours(-1)).Duration();
        var bound = TimeSpan.FromTicks(client.Clock.RoundTrip.Ticks / 2) + TimeSpan.FromMilliseconds(2);
        Assert.IsTrue(error <= bound, $"Offset {client.Clock.Offset} is {error.TotalMilliseconds} ms from the true -1 h (bound {bound.TotalMilliseconds} ms).");
        var first = client.ServerTime;
        Assert.IsTrue((first - DateTime.UtcNow).Duration() < TimeSpan.FromSeconds(1), "ServerTime is the server's clock, not the shifted local one.");
        shifted.Shift -= TimeSpan.FromSeconds(30);
        Assert.IsTrue(client.ServerTime >= first, "ServerTime never goes backwards, even when the local clock does.");
    }

    [TestMethod]
    public async Task ClientWithWrongSchema_IsRefusedAtConnect_WithCode125()
    {
        await using var server = InProcessOtp.Start();
        var other = ModelRegistry.FromTypes(new[] { typeof(Knight) });
        var error = await Assert.ThrowsExactlyAsync<ClientEjectedException>(() => PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, other));
        Assert.AreEqual(125, error.Code);
    }

    [TestMethod]
    public async Task Login_WithAWrongPassword_ThrowsLoginFailed()
    {
        await using var server = InProcessOtp.Start();
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, server.Registry);
        await client.CreateAccountAsync("carol", "a fine password");
        var error = await Assert.ThrowsExactlyAsync<LoginFailedException>(() => client.LoginAsync("carol", "wrong password!"));
        Assert.AreNotEqual(0, error.Status);
    }

    [TestMethod]
    public async Task AnInvalidLocalSet_ThrowsBeforeAnythingIsSent()
    {
        await using var server = InProcessOtp.Start();
        var ai = new Pastry.Ai.AiRepository(server.Router, server.Registry, logger: NullLogger.Instance);
        await using var _ = ai;
        var realm = ai.Create(new Realm { Title = "R" }, DoId.Empty, 0);
        ai.Create(new Knight { Name = "Kay" }, realm.DoId, 1);
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, server.Registry);
        await client.CreateAccountAsync("dave", "a fine password");
        await client.LoginAsync("dave", "a fine password");
        await client.AddInterestAsync(realm.DoId, 1);
        var kay = client.Objects.OfType<Knight>().Single();

        Assert.ThrowsExactly<ModelValidationException>(() => kay.X = 101);
        Assert.AreEqual(0, kay.X, "The value is unchanged.");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => kay.Gold = 1).Message, "[Ai]");

        // The session is still alive: a valid set goes through to the AI.
        var heard = ai.Of<Knight>().Updated.FirstAsync(c => c.Origin == ChangeOrigin.Remote).ToTask();
        kay.X = 3;
        Assert.AreEqual(3, (await heard.WaitAsync(Timeout)).NewValue);
    }

    private static async Task<PastryClient> LoggedInAsync(Deployment game)
    {
        var client = await PastryClient.ConnectAsync(game.Clients.Address.ToString(), game.Clients.Port, Deployment.Registry);
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

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public TimeSpan Shift { get; set; } = shift;

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Shift;
    }
}
