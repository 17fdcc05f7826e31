using Pastry.Otp.ClientAgent;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// A session's deadlines to the millisecond, and the checks that act on them, against an in-process OTP over real
/// loopback sockets. The sweep calls <see cref="ClientSession.CheckHeartbeat"/> with the clock; these tests call it
/// with chosen times (the session's own <see cref="ClientSession.NextCheckMs"/> and one millisecond before), so a
/// deadline that is off by one, armed early or armed at the wrong moment fails here instead of shifting an eject by up
/// to a sweep period. Written from mutation testing (TESTING.md).
/// </summary>
[TestClass]
public sealed class ClientSessionDeadlineTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task TheLoginDeadline_EjectsOneMillisecondPastIt_NotAtIt()
    {
        await using var world = OtpWorld.Start(o =>
        {
            o.ClientAgent.LoginTimeout = TimeSpan.FromSeconds(20);
            o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(40);
        });
        await using var client = await world.ConnectAsync();
        var session = await AnonymousSessionAsync(world, client);

        // Connected at c, the deadline is c + 20 000 ms and the session is due at c + 20 001: more than the limit.
        long due = session.NextCheckMs;
        session.CheckHeartbeat(due - 1);
        Assert.IsFalse(client.Closed.Task.IsCompleted, "exactly the login deadline is not past it");
        Assert.IsFalse(world.Server.ClientAgent.RecentEjects.Any(e => e.Session == session.Id), "no eject at the deadline itself");

        session.CheckHeartbeat(due);
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.NotAdmitted), "not logged in within the login deadline of 20 s");
    }

    [TestMethod]
    public async Task TheHeartbeatDeadline_ActsOneMillisecondPastIt_AndThe345SaysTheSilenceInSeconds()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(40));
        var agent = world.Server.ClientAgent;
        var client = await world.ClientAsync();
        var session = agent.SessionById(client.SessionId) ?? throw new AssertFailedException("the logged-in session is not open");

        // The client sends nothing more: its last message was the login, and the session is due 40 001 ms after it.
        long due = session.NextCheckMs;
        session.CheckHeartbeat(due - 1);
        Assert.IsFalse(agent.RecentEjects.Any(e => e.Session == session.Id), "40 000 ms of silence is the limit, not past it");
        Assert.AreEqual(0, agent.ParkedCount);

        session.CheckHeartbeat(due);
        string reason = await client.ExpectEjectAsync(EjectCode.HeartbeatTimeout);
        Assert.AreEqual("no message for 40.0 s (heartbeat timeout is 40 s)", reason);
        var record = agent.RecentEjects.First(e => e.Session == session.Id);
        Assert.AreEqual(((int)EjectCode.HeartbeatTimeout, reason), (record.Code, record.Reason));
        Assert.AreEqual(1, agent.ParkedCount, "a silent logged-in session parks for a resume");
    }

    [TestMethod]
    public async Task AParkedSession_IsDueAtTheEndOfItsGrace_AndASilenceCheckWithinTheGraceLeavesItParked()
    {
        await using var world = OtpWorld.Start(o =>
        {
            o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(40);
            o.ClientAgent.ResumeGrace = TimeSpan.FromSeconds(60);
        });
        var agent = world.Server.ClientAgent;
        var client = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, "parker");
        var session = agent.SessionById(client.SessionId) ?? throw new AssertFailedException("the logged-in session is not open");

        long dropped = Environment.TickCount64;
        await client.DisposeAsync();
        await TestWaits.UntilAsync(() => agent.ParkedCount == 1, () => "the dropped session did not park", Timeout);
        long parked = Environment.TickCount64;

        // Due once, at the end of the grace: not now (the sweep would then run every period for the whole grace), and
        // not in the past.
        long due = session.NextCheckMs;
        Assert.IsTrue(due >= dropped + 60_001 && due <= parked + 60_001, $"due {due - dropped} ms after the drop, not at the end of the 60 s grace");

        // 45 s on, the client has been silent past the heartbeat timeout, but a parked session has no heartbeat to
        // miss: only its grace counts, and it has 15 s left.
        session.CheckHeartbeat(parked + 45_000);
        Assert.AreEqual(1, agent.ParkedCount, "the session is still parked within its grace");
        Assert.IsFalse(agent.RecentEjects.Any(e => e.Session == session.Id), "no 345 for a parked session");

        session.CheckHeartbeat(due);
        await TestWaits.UntilAsync(() => agent.ParkedCount == 0 && agent.SessionCount == 0, () => "the session outlived its grace", Timeout);
    }

    [TestMethod]
    public async Task AnOperatorsEject_OfAParkedSession_IsRecorded_AndASecondEjectOfAClosingSessionIsRefused()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.ResumeGrace = TimeSpan.FromSeconds(60));
        var agent = world.Server.ClientAgent;
        var parkedClient = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, "parker");
        await parkedClient.DisposeAsync();
        await TestWaits.UntilAsync(() => agent.ParkedCount == 1, () => "the dropped session did not park", Timeout);

        Assert.IsTrue(agent.EjectByOperator(parkedClient.SessionId, "cleaning up"));
        var record = agent.RecentEjects[0];
        Assert.AreEqual((parkedClient.SessionId, parkedClient.AccountId, (int)EjectCode.OperatorEject, "cleaning up"), (record.Session, record.Account, record.Code, record.Reason));
        Assert.AreEqual(0, agent.ParkedCount);

        // An open session, ejected twice before it has gone: the second answer is "no such open session".
        var open = await world.ClientAsync();
        var session = agent.SessionById(open.SessionId) ?? throw new AssertFailedException("the logged-in session is not open");
        Assert.IsTrue(session.EjectByOperator("first"));
        Assert.IsFalse(session.EjectByOperator("second"), "a session already ejected is not ejected again");
        Assert.AreEqual(1, agent.RecentEjects.Count(e => e.Session == open.SessionId), "one eject, one record");
        Assert.AreEqual("first", await open.ExpectEjectAsync(EjectCode.OperatorEject));
    }

    [TestMethod]
    public async Task Establish_IsRefused_BeforeHello_AndAfterTheSessionClosed_SoALateLoginNeverKicksThePlayer()
    {
        await using var world = OtpWorld.Start();
        var agent = world.Server.ClientAgent;
        var player = await world.ClientAsync();
        Assert.AreEqual(1, agent.ClaimedAccounts);

        // A connection that has not said hello.
        await using var silent = await world.ConnectAsync();
        await TestWaits.UntilAsync(() => agent.SessionCount == 2, () => "the silent connection has no session", Timeout);
        var (_, page) = agent.Sessions(0, 10);
        var unsaid = agent.SessionById(page.Single(s => s.Id != player.SessionId).Id) ?? throw new AssertFailedException("no session for the silent connection");
        Assert.IsFalse(unsaid.Establish(player.AccountId), "a session that has not said hello cannot be logged in");

        // A session that closed while its login was being checked (its hash ran after the client hung up).
        var gone = await world.ConnectAsync();
        var closing = await AnonymousSessionAsync(world, gone);
        await gone.DisposeAsync();
        await TestWaits.UntilAsync(() => agent.SessionById(closing.Id) is null, () => "the closed session is still open", Timeout);
        Assert.IsFalse(closing.Establish(player.AccountId), "a closed session cannot be logged in");

        Assert.AreEqual(1, agent.ClaimedAccounts);
        Assert.IsFalse(agent.RecentEjects.Any(e => e.Session == player.SessionId), "the player was not kicked (100) by a login of another session");
        Assert.IsFalse(player.Closed.Task.IsCompleted);
    }

    [TestMethod]
    public async Task AServerThatStops_TellsEachClientWhy()
    {
        await using var world = OtpWorld.Start();
        var client = await world.ClientAsync();
        var stopping = world.Server.DisposeAsync().AsTask();
        Assert.AreEqual("the server is shutting down", await client.ExpectEjectAsync(EjectCode.ServerShutdown));
        await stopping;
    }

    [TestMethod]
    public async Task TheSendBuffersABigSync_Grew_AreGivenBack_OnceTheSessionIsIdle()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.SocketSendBufferBytes = 4096);
        const int zones = 3;
        for (uint zone = 1; zone <= zones; zone++)
        {
            // A realm's title is a stored field with no length limit: each of these enters is about 4 KB.
            for (int i = 0; i < 50; i++)
            {
                world.Ai.Create(new Realm { Title = new string('x', 4000) }, world.Realm.DoId, zone);
            }
        }

        await world.Ai.SyncAsync();
        var agent = world.Server.ClientAgent;
        await using var client = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, "reader", receiveBufferBytes: 4096);
        var session = agent.SessionById(client.SessionId) ?? throw new AssertFailedException("the logged-in session is not open");

        // Each sync is about 200 KB. The client does not read until most of it waits in the session's outbox, whose
        // buffers grow to hold it: far past what an idle session keeps. The first idle check after the sync still sees
        // its sends; the next one, with nothing sent in between, gives the memory back. The agent's own sweep (once a
        // second while sends happen) may get there first on a slow machine, so a burst whose buffers were already given
        // back is followed by another.
        long givenBack = 0;
        for (uint zone = 1; zone <= zones && givenBack == 0; zone++)
        {
            client.PauseReading();
            var sync = world.InterestAsync(client, zone, zone);
            await TestWaits.UntilAsync(() => session.OutboxRetainedBytes > 64 * 1024, () => $"the sync did not back up in the outbox ({session.OutboxRetainedBytes} bytes)", Timeout);
            client.ResumeReading();
            Assert.AreEqual(50, (await sync).Count);
            givenBack = session.TrimIdleBuffers();
            givenBack += session.TrimIdleBuffers();
        }

        Assert.IsTrue(givenBack > 0, $"an idle session still holds the buffers of its biggest burst ({session.OutboxRetainedBytes} bytes)");
        Assert.IsTrue(session.OutboxRetainedBytes <= 2 * Pastry.Wire.FrameOutbox.IdleRetainedBytes, $"{session.OutboxRetainedBytes} bytes kept");
    }

    /// <summary>Says hello on <paramref name="client"/> and returns its (anonymous) session.</summary>
    private static async Task<ClientSession> AnonymousSessionAsync(OtpWorld world, RawClient client)
    {
        await client.HelloAsync(world.Registry.SchemaHash);
        var hello = (await client.ExpectAsync(MessageType.HelloResp)).Reader();
        hello.ReadInt64();
        var id = hello.ReadDoId();
        return world.Server.ClientAgent.SessionById(id) ?? throw new AssertFailedException("the session that said hello is not open");
    }
}
