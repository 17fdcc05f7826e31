using System.Text.RegularExpressions;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The Client Agent's two clocks, against an in-process OTP over real loopback sockets: the login deadline (349 for a
/// connection that never logs in, hello or not) and the heartbeat timeout (345; an established session parks for a
/// resume, or, with no room to park, just ends). Written from mutation testing (TESTING.md): only process tests
/// reached these paths, so no in-process test noticed a dropped eject, reason, log line or park.
/// Deadlines are small and every wait is a signal with a generous timeout: a slow machine only makes them later.
/// </summary>
[TestClass]
public sealed class ClientAgentDeadlineTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static int users;

    [TestMethod]
    public async Task AConnectionThatSaysNothing_IsEjected349_AtTheLoginDeadline_AndTheEjectIsRecorded()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.LoginTimeout = TimeSpan.FromMilliseconds(200));
        await using var silent = await world.ConnectAsync();

        string reason = await silent.ExpectEjectAsync(EjectCode.NotAdmitted);

        Assert.AreEqual("not logged in within the login deadline of 0.2 s", reason);
        var record = world.Server.ClientAgent.RecentEjects.Single();
        Assert.AreEqual(((int)EjectCode.NotAdmitted, reason), (record.Code, record.Reason));
        Assert.AreEqual(1, world.Server.Metrics.Totals().Ejects);
    }

    [TestMethod]
    public async Task AHelloWithoutALogin_DoesNotKeepTheSession_PastTheLoginDeadline()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.LoginTimeout = TimeSpan.FromMilliseconds(300));
        await using var anonymous = await world.ConnectAsync();
        await anonymous.HelloAsync(world.Registry.SchemaHash);
        await anonymous.ExpectAsync(MessageType.HelloResp);

        // Heartbeats keep a session's heartbeat clock fresh, not its login clock.
        await anonymous.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));

        Assert.AreEqual("not logged in within the login deadline of 0.3 s", await anonymous.ExpectEjectAsync(EjectCode.NotAdmitted));
    }

    [TestMethod]
    public async Task ALoggedInSession_OutlivesTheLoginDeadline()
    {
        // The deadline is long enough for a login on a loaded machine; a connection opened after the login and
        // ejected at its own deadline proves the first one's deadline has passed too.
        await using var world = OtpWorld.Start(o => o.ClientAgent.LoginTimeout = TimeSpan.FromSeconds(3));
        var client = await world.ClientAsync();
        await using var late = await world.ConnectAsync();

        Assert.AreEqual("not logged in within the login deadline of 3 s", await late.ExpectEjectAsync(EjectCode.NotAdmitted));
        await world.InterestAsync(client, 1, 1);
        Assert.IsFalse(client.Closed.Task.IsCompleted, "An established session has no login deadline.");
    }

    [TestMethod]
    public async Task ASilentLoggedInSession_Gets345_IsParked_AndResumes()
    {
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(o => o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(2), logs: logs);
        var first = await RawClient.LoggedInAsync(server.ClientEndPoint, server.Registry, NextUser());
        var token = first.ResumeToken ?? throw new AssertFailedException("A login sends a resume token.");

        string reason = await first.ExpectEjectAsync(EjectCode.HeartbeatTimeout);

        StringAssert.Matches(reason, new Regex(@"^no message for \d+\.\d s \(heartbeat timeout is 2 s\)$"));
        string line = await logs.WaitForLineAsync(new Regex("HeartbeatTimeout.*parked for a resume$")).WaitAsync(Timeout);
        StringAssert.Matches(line, Exactly(first, $"345 HeartbeatTimeout: {reason}; parked for a resume"));
        var record = server.ClientAgent.RecentEjects.Single();
        Assert.AreEqual(((int)EjectCode.HeartbeatTimeout, reason, first.AccountId), (record.Code, record.Reason, record.Account));
        Assert.AreEqual(1, server.Metrics.Totals().Ejects);
        Assert.AreEqual(1, server.ClientAgent.ParkedCount);

        await using var second = await RawClient.ConnectAsync(server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, server.Registry.SchemaHash, "1.0.0", first.AccountId, token, first.ReceivedBytes));
        var answer = (await second.ExpectAsync(MessageType.ResumeResp)).Reader();
        Assert.AreEqual(ResumeStatus.Ok, (ResumeStatus)answer.ReadByte(), answer.ReadString());
        Assert.AreEqual(0, server.ClientAgent.ParkedCount, "A resumed session is no longer parked.");
    }

    [TestMethod]
    public async Task ASilentLoggedInSession_WithNoRoomToPark_Gets345_AndEnds()
    {
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(
            o =>
            {
                o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(2);
                o.ClientAgent.MaxParkedSessions = 0;
            },
            logs: logs);
        var first = await RawClient.LoggedInAsync(server.ClientEndPoint, server.Registry, NextUser());
        var token = first.ResumeToken ?? throw new AssertFailedException("A login sends a resume token.");

        StringAssert.Matches(await first.ExpectEjectAsync(EjectCode.HeartbeatTimeout), new Regex(@"\(heartbeat timeout is 2 s\)$"));

        string line = await logs.WaitForLineAsync(new Regex("not parked")).WaitAsync(Timeout);
        StringAssert.Matches(line, Exactly(first, "not parked, 0 sessions are parked already (ClientAgent:MaxParkedSessions)"));
        Assert.AreEqual(0, server.ClientAgent.ParkedCount);
        Assert.AreEqual(0, logs.LinesMatching(new Regex("parked for a resume")).Count, "Nothing parked, so nothing says so.");
        await using var second = await RawClient.ConnectAsync(server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, server.Registry.SchemaHash, "1.0.0", first.AccountId, token, first.ReceivedBytes));
        var answer = (await second.ExpectAsync(MessageType.ResumeResp)).Reader();
        Assert.AreNotEqual(ResumeStatus.Ok, (ResumeStatus)answer.ReadByte(), "An unparked session cannot be resumed.");
    }

    /// <summary>A session's log line, whole: "session ID (ADDRESS) (account ACCOUNT): TEXT".</summary>
    private static Regex Exactly(RawClient client, string text) =>
        new($"^{Regex.Escape($"session {client.SessionId} (")}[^)]+\\) {Regex.Escape($"(account {client.AccountId}): {text}")}$");

    private static string NextUser() => $"deadline{Interlocked.Increment(ref users)}";
}
