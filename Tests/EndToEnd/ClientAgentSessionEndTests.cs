using Pastry.Otp.MessageDirector;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// What a session leaves behind when it ends (<c>ClientSession.cs</c>, <c>ClientAgent.cs</c>): nothing. A client that
/// connects, logs in, adds interests and leaves, over and over, must not grow the router's channel table (nor make every
/// later broadcast visit a dead session) or the Client Agent's table of sessions by id.
/// </summary>
[TestClass]
public sealed class ClientAgentSessionEndTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static int users;

    [TestMethod]
    public async Task AnEndedSession_LeavesNothingInTheRouter_OrInTheAgentsSessionTable()
    {
        await using var server = InProcessOtp.Start(o => o.ClientAgent.ResumeGrace = TimeSpan.Zero);
        var router = (InProcessRouter)server.Router;
        var ai = new TestAi(server.Router);
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        await ai.SyncAsync();
        int before = router.ChannelCount;

        for (int round = 0; round < 3; round++)
        {
            var client = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, $"session-end{Interlocked.Increment(ref users)}");
            await client.AddInterestAsync(1, realm.DoId, (uint)(10 + round));
            while ((await client.NextAsync()).Type != MessageType.InterestDone)
            {
            }

            Assert.IsGreaterThan(before, router.ChannelCount, "a live session listens on its own channels");
            await client.DisposeAsync();
            var agent = server.ClientAgent;
            await TestWaits.UntilAsync(
                () => agent.SessionCount == 0 && agent.ParkedCount == 0 && agent.SessionIdCount == 0,
                () => $"{agent.SessionCount} sessions open, {agent.SessionIdCount} findable by id, after the client left",
                Timeout);

            Assert.AreEqual(before, router.ChannelCount, $"round {round}: the ended session's channels are gone");
        }
    }
}
