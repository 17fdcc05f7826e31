using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// The Client Agent's one sweep (heartbeat and login deadlines, resume grace, idle send buffers) is armed only for the
/// earliest deadline of any session (issue 17 item 9): a server with no session arms nothing, and a heartbeat only
/// stamps the time, so idle sessions do not make the server tick every period. That the deadlines still eject on time
/// is what the heartbeat, login-deadline and resume tests check (AiAndClientBehaviourTests, HostileClientTests,
/// ResumeTests).
/// </summary>
[TestClass]
public sealed class ClientAgentSweepTests
{
    [TestMethod]
    public async Task NoSession_NoSweepIsArmed_EvenAfterASweep()
    {
        await using var world = OtpWorld.Start();
        var agent = world.Server.ClientAgent;

        Assert.IsNull(agent.SweepDueMs, "a server nobody connected to arms no sweep");
        agent.Sweep();
        Assert.IsNull(agent.SweepDueMs, "a sweep over no session arms no next one");
    }

    [TestMethod]
    public async Task ALaterDeadline_NeverPostponesTheArmedSweep_AndAnEarlierOneBringsItForward()
    {
        // Each new connection asks for a sweep by its own login deadline. Were a later request to replace the armed one,
        // a trickle of connections that never say hello would push the sweep back forever, and no login or heartbeat
        // deadline would be enforced.
        await using var world = OtpWorld.Start(o => o.ClientAgent.LoginTimeout = TimeSpan.FromSeconds(20));
        var agent = world.Server.ClientAgent;
        await using var silent = await world.ConnectAsync();
        await TestWaits.UntilAsync(() => agent.SweepDueMs is not null, () => "a connection armed no sweep", TimeSpan.FromSeconds(15));

        long armed = agent.SweepDueMs ?? throw new AssertFailedException("no sweep armed");
        agent.SweepBy(armed + 5_000);
        Assert.AreEqual(armed, agent.SweepDueMs, "a later deadline leaves the armed sweep where it is");
        agent.SweepBy(armed - 5_000);
        Assert.AreEqual(armed - 5_000, agent.SweepDueMs, "an earlier deadline brings the sweep forward");
    }

    [TestMethod]
    public async Task AnIdleSession_ArmsTheSweepForItsLoginDeadline_AndAHeartbeatDoesNotMoveIt()
    {
        await using var world = OtpWorld.Start(o =>
        {
            o.ClientAgent.HeartbeatTimeout = TimeSpan.FromSeconds(40);
            o.ClientAgent.LoginTimeout = TimeSpan.FromSeconds(20);
        });
        var agent = world.Server.ClientAgent;
        var helloRespNoted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        agent.FlushNoted += () => helloRespNoted.TrySetResult();
        long connecting = Environment.TickCount64;
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        long connected = Environment.TickCount64;

        // The HelloResp's write returns (and is noted for the sweep) after the client may already have read it: wait
        // for the note, or a sweep below could see it late and arm one period ahead instead of at the deadline.
        await helloRespNoted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The HelloResp was a send: the sweep after it runs within a period (idle buffers), the next one only at the
        // anonymous session's login deadline, 20 s after it connected (not every period, 1 s here).
        agent.Sweep();
        agent.Sweep();
        Assert.IsNotNull(agent.SweepDueMs);
        long due = agent.SweepDueMs.Value;
        Assert.IsTrue(due > connecting + 20_000 && due <= connected + 20_001, $"armed {due - connected} ms after the hello, not at the login deadline");

        await client.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        await client.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        agent.Sweep();
        Assert.AreEqual(due, agent.SweepDueMs, "heartbeats do not arm the sweep; the login deadline stays the earliest");
        Assert.IsFalse(client.Closed.Task.IsCompleted);
    }
}
