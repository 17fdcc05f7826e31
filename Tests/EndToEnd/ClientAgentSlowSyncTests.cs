using System.Text.RegularExpressions;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// A client that does not read while its interest sync sends it far more than its outbox holds, against an in-process
/// OTP over real loopback sockets: the objects entering its view go through the session's own append (not the shared
/// relay batches <see cref="ClientAgentRobustnessTests"/> fill), which drops it as a slow consumer (346) with the bound
/// in the reason. Written from mutation testing (TESTING.md).
/// </summary>
[TestClass]
public sealed class ClientAgentSlowSyncTests
{
    [TestMethod]
    public async Task AnInterestSyncLargerThanMaxOutgoingBytes_ToAClientThatDoesNotRead_Ejects346()
    {
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(
            o =>
            {
                o.ClientAgent.MaxOutgoingBytes = 4096;
                o.ClientAgent.SocketSendBufferBytes = 4096;
            },
            logs: logs);

        await SpawnBanneredKnightsAsync(world);
        var slow = await world.ClientAsync(receiveBufferBytes: 4096);
        var dropped = logs.WaitForLineAsync(new Regex("dropped as a slow consumer"));
        slow.PauseReading();

        await slow.AddInterestAsync(1, world.Realm.DoId, 1);

        StringAssert.Matches(await dropped.WaitAsync(RawClient.Timeout), new Regex(@"^session .*: dropped as a slow consumer \(346\): more than 4096 bytes waiting to be sent$"));
        slow.ResumeReading();
        ReceivedFrame frame;
        while ((frame = await slow.NextAsync()).Type == MessageType.EnterObject)
        {
        }

        var eject = frame.Reader();
        Assert.AreEqual(MessageType.Eject, frame.Type);
        Assert.AreEqual(EjectCode.SlowConsumer, (EjectCode)eject.ReadUInt16());
        Assert.AreEqual("slow consumer: more than 4096 bytes waiting to be sent; read faster or ask for less interest", eject.ReadString());
    }

    [TestMethod]
    [DataRow(false, DisplayName = "the client never reads again (the final flush times out)")]
    [DataRow(true, DisplayName = "the client resets its connection with the flush in flight (the final flush fails)")]
    public async Task AfterA346_ToAClientThatStopsReading_TheServerStillClosesTheSocket_AndFreesTheAddresssSlot(bool reset)
    {
        // One connection per address: a slot that is not given back refuses every later connection from it.
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(
            o =>
            {
                o.ClientAgent.MaxOutgoingBytes = 4096;
                o.ClientAgent.SocketSendBufferBytes = 4096;
                o.ClientAgent.MaxConnectionsPerAddress = 1;
            },
            logs: logs);
        await SpawnBanneredKnightsAsync(world);
        var agent = world.Server.ClientAgent;
        var slow = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, "slow", receiveBufferBytes: 4096);
        var dropped = logs.WaitForLineAsync(new Regex("dropped as a slow consumer"));
        slow.PauseReading();
        await slow.AddInterestAsync(1, world.Realm.DoId, 1);
        await dropped.WaitAsync(RawClient.Timeout);
        if (reset)
        {
            // Closing a socket with unread data in its receive buffer sends a reset: the server's pending write fails.
            await slow.DisposeAsync();
        }

        // The eject cannot be delivered; the server waits for it a bounded time (2 s), then gives up on the client.
        await TestWaits.UntilAsync(() => agent.SessionCount == 0, () => "the slow client's session never ended", TestWaits.Cap(TimeSpan.FromSeconds(15)));
        await using var next = await world.ConnectAsync();
        await next.HelloAsync(world.Registry.SchemaHash);
        var frame = await next.NextAsync();
        Assert.AreEqual(MessageType.HelloResp, frame.Type, frame.Type == MessageType.Eject ? $"refused: {frame.Reader().ReadUInt16()} {ReadReason(frame)}" : "");
        if (!reset)
        {
            await slow.DisposeAsync();
        }
    }

    /// <summary>
    /// 100 knights in zone 1 with 4000-byte banners. A banner is broadcast but not stored, so the enters do not carry it;
    /// still, 100 enters are more than a 4 KB outbox holds.
    /// </summary>
    private static async Task SpawnBanneredKnightsAsync(OtpWorld world)
    {
        for (int i = 0; i < 100; i++)
        {
            var knight = world.SpawnKnight(1);
            knight.Banner = new byte[4000];
            world.Ai.Set(knight, nameof(Knight.Banner));
        }

        await world.Ai.SyncAsync();
    }

    private static string ReadReason(ReceivedFrame frame)
    {
        var reader = frame.Reader();
        reader.ReadUInt16();
        return reader.ReadString();
    }
}
