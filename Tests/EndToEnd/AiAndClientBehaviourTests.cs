using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Pastry.Ai;
using Pastry.Client;
using Microsoft.Extensions.Time.Testing;

namespace Pastry.Tests.EndToEnd;

/// <summary>Behaviour of the AI and client libraries against an in-process OTP on loopback.</summary>
[TestClass]
public class AiAndClientBehaviourTests
{
    /// <summary>The transport the client library uses here; <see cref="AiAndClientBehaviourTestsOverWebSocket"/> runs these tests again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task AnEject_IsSurfacedToTheApp_AsAnEventAndTheDisconnectReason()
    {
        // 1 s: long enough for a first WebSocket upgrade (Kestrel's first request) and the Hello on a loaded machine.
        await using var server = InProcessOtp.Start(Transport, o => o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(1));
        await using var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry, new ClientOptions { HeartbeatInterval = TimeSpan.FromMinutes(1) });
        var ejected = client.Ejected.FirstAsync().ToTask();

        var reason = await client.Closed.WaitAsync(Timeout);

        Assert.AreEqual(345, reason.EjectCode);
        StringAssert.Contains(reason.Reason, "heartbeat");
        Assert.AreEqual(345, (await ejected.WaitAsync(Timeout)).EjectCode);
    }

    [TestMethod]
    public async Task ClientHeartbeats_KeepTheSessionAlive()
    {
        await using var server = InProcessOtp.Start(Transport, o => o.ClientAgent.HeartbeatTimeout = TimeSpan.FromMilliseconds(600));
        await using var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry, new ClientOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(100) });

        // Three silent clients in a row, each ejected for its silence: the server's heartbeat check has passed the
        // timeout three times over while the heartbeating client stayed connected.
        for (int i = 0; i < 3; i++)
        {
            await using var silent = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry, new ClientOptions { HeartbeatInterval = TimeSpan.FromMinutes(1) });
            Assert.AreEqual(345, (await silent.Closed.WaitAsync(Timeout)).EjectCode);
        }

        Assert.IsFalse(client.Closed.IsCompleted);
        await client.CreateAccountAsync("erin", "a fine password");
        Assert.IsFalse(client.Closed.IsCompleted);
    }

    [TestMethod]
    public async Task AiTimers_RunOnTheLogicLoop_AndStopWhenDisposed()
    {
        await using var server = InProcessOtp.Start(Transport);
        var time = new FakeTimeProvider();
        await using var ai = new AiRepository(server.Router, server.Registry, new AiOptions { Time = time });
        var loop = await OnLoopAsync(ai, () => SynchronizationContext.Current);
        var contexts = new List<SynchronizationContext?>();
        int everyTicks = 0;
        int onceTicks = 0;
        int cancelledTicks = 0;

        // Hold the logic loop busy: timers that fire now can only queue behind it.
        using var gate = new ManualResetEventSlim();
        var busy = ai.InvokeAsync(() => gate.Wait());
        var every = ai.Every(TimeSpan.FromSeconds(1), () => { everyTicks++; contexts.Add(SynchronizationContext.Current); });
        using var once = ai.Schedule(TimeSpan.FromSeconds(2), () => onceTicks++);
        var cancelled = ai.Schedule(TimeSpan.FromSeconds(2), () => cancelledTicks++);
        cancelled.Dispose();
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual((0, 0), (Volatile.Read(ref everyTicks), Volatile.Read(ref onceTicks)), "Due timers wait for the logic loop: none ran on the timer's thread.");

        gate.Set();
        await busy.WaitAsync(Timeout);
        Assert.AreEqual((3, 1, 0), await OnLoopAsync(ai, () => (everyTicks, onceTicks, cancelledTicks)), "Every ran once per period, Schedule once, a disposed Schedule never.");
        Assert.IsNotNull(loop);
        Assert.IsTrue(contexts.All(c => ReferenceEquals(c, loop)), "Timer callbacks run under the logic loop's context, as every AI callback does.");

        // Disposed: no tick after, however much time passes.
        every.Dispose();
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.AreEqual((3, 1), await OnLoopAsync(ai, () => (everyTicks, onceTicks)));
    }

    private static async Task<T> OnLoopAsync<T>(AiRepository ai, Func<T> read)
    {
        T value = default!;
        await ai.InvokeAsync(() => value = read()).WaitAsync(Timeout);
        return value;
    }

    [TestMethod]
    public async Task AiCreate_RunsFullClean_AndRefusesAnObjectMissingARequiredField()
    {
        await using var server = InProcessOtp.Start(Transport);
        await using var ai = new AiRepository(server.Router, server.Registry);

        var error = Assert.ThrowsExactly<ModelValidationException>(() => ai.Create(new Knight { X = 1 }, DoId.Empty, 0));

        Assert.IsTrue(error.Errors.ContainsKey(nameof(Knight.Name)));
        Assert.AreEqual(0, ai.Objects.Count);
    }

    [TestMethod]
    public async Task AClientsClassStreams_Complete_WhenItCloses_AndItsObjectsAreDisabled()
    {
        await using var server = InProcessOtp.Start(Transport);
        await using var ai = new AiRepository(server.Router, server.Registry);
        var realm = ai.Create(new Realm { Title = "R" }, DoId.Empty, 0);
        ai.Create(new Knight { Name = "Gawain" }, realm.DoId, 1);
        var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry);
        var knights = client.Of<Knight>();
        var created = knights.Created.ToList().ToTask();
        var updated = knights.Updated.ToList().ToTask();
        var disabled = knights.Disabled.ToList().ToTask();
        var calls = knights.Calls.ToList().ToTask();
        await client.CreateAccountAsync("gawain", "a fine password");
        await client.LoginAsync("gawain", "a fine password");
        await client.AddInterestAsync(realm.DoId, 1);
        var seen = client.Objects.OfType<Knight>().Single();
        Assert.AreEqual("Gawain", seen.Name);
        var changes = seen.Changes.ToList().ToTask();

        await client.DisposeAsync();

        // ToList completes only when its stream completes.
        Assert.AreSame(seen, (await created.WaitAsync(Timeout)).Single());
        Assert.IsEmpty(await updated.WaitAsync(Timeout));
        Assert.IsEmpty(await disabled.WaitAsync(Timeout), "closing is not a leave: the class completes instead");
        Assert.IsEmpty(await calls.WaitAsync(Timeout));
        await changes.WaitAsync(Timeout);
        Assert.AreEqual(ObjectState.Disabled, seen.State);
        Assert.IsTrue(await client.Of<Knight>().Created.IsEmpty().ToTask().WaitAsync(Timeout), "a stream asked for after the close is already complete");
    }

    [TestMethod]
    public async Task AiSeesWhoSentAClientSet_ThroughCurrentSender()
    {
        await using var server = InProcessOtp.Start(Transport);
        await using var ai = new AiRepository(server.Router, server.Registry);
        var realm = ai.Create(new Realm { Title = "R" }, DoId.Empty, 0);
        var knight = ai.Create(new Knight { Name = "Bors" }, realm.DoId, 1);
        await using var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry);
        await client.CreateAccountAsync("fred", "a fine password");
        var account = await client.LoginAsync("fred", "a fine password");
        await client.AddInterestAsync(realm.DoId, 1);
        var sender = ai.Of<Knight>().Updated.Where(c => c.Origin == ChangeOrigin.Remote).Select(_ => ai.CurrentSender).FirstAsync().ToTask();

        client.Objects.OfType<Knight>().Single().X = 9;

        Assert.AreEqual(account, await sender.WaitAsync(Timeout));
        Assert.AreEqual(9, knight.X, "The AI's own copy has the client's value.");
    }

    [TestMethod]
    public async Task WhenALoggedInSessionCloses_TheAiHearsItsAccount()
    {
        await using var server = InProcessOtp.Start(Transport);
        await using var ai = new AiRepository(server.Router, server.Registry);
        var closed = ai.SessionsClosed.FirstAsync().ToTask();
        var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry);
        await client.CreateAccountAsync("gwen", "a fine password");
        var account = await client.LoginAsync("gwen", "a fine password");

        await client.DisposeAsync();

        Assert.AreEqual(account, await closed.WaitAsync(Timeout));
    }
}

/// <summary>Every test of <see cref="AiAndClientBehaviourTests"/> with the client library over the WebSocket transport.</summary>
[TestClass]
public sealed class AiAndClientBehaviourTestsOverWebSocket : AiAndClientBehaviourTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
