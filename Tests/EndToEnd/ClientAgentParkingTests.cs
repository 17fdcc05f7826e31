using System.Text.RegularExpressions;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// A parked session's rarer ends, against an in-process OTP over real loopback sockets: its resume queue overflowing
/// (the resume then gets a fresh snapshot, not a replay) and its account logging in elsewhere (the parked session ends
/// and says so). Written from mutation testing (TESTING.md).
/// </summary>
[TestClass]
public sealed class ClientAgentParkingTests
{
    private const string Password = "correct horse battery";
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static int users;

    [TestMethod]
    public async Task PastResumeQueueBytes_AResumeThatMissedNothing_StillGetsAFreshSnapshot()
    {
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(o => o.ClientAgent.ResumeQueueBytes = 1024, logs: logs);
        var knight = world.SpawnKnight(1);
        var first = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, NextUser());
        await world.InterestAsync(first, 1, 1);
        long received = first.ReceivedBytes;
        await first.DisposeAsync();
        await logs.WaitForLineAsync(new Regex("parked for a resume")).WaitAsync(Timeout);

        // About 30 bytes a SetField: 100 of them are well past the 1024-byte queue.
        for (int x = 1; x <= 100; x++)
        {
            knight.X = x;
            world.Ai.Set(knight, nameof(Knight.X));
        }

        await world.Ai.SyncAsync();
        await using var second = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, world.Registry.SchemaHash, "1.0.0", first.AccountId, first.ResumeToken!, received));
        var answer = (await second.ExpectAsync(MessageType.ResumeResp)).Reader();

        Assert.AreEqual(ResumeStatus.Ok, (ResumeStatus)answer.ReadByte());
        Assert.AreEqual("resumed; a fresh snapshot follows", answer.ReadString());
        Assert.AreEqual(1, answer.ReadByte(), "The queue overflowed, so the client gets a snapshot even though it read every byte.");
        var enter = RawClient.ReadEnter(await second.ExpectAsync(MessageType.EnterObject), world.Registry);
        Assert.AreEqual((knight.DoId, (object?)100), (enter.Id, enter.Values[nameof(Knight.X)]));
    }

    [TestMethod]
    public async Task AParkedSession_WhoseAccountLogsInElsewhere_Ends_AndSaysWhere()
    {
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(logs: logs);
        string user = NextUser();
        var first = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, user);
        await first.DisposeAsync();
        await logs.WaitForLineAsync(new Regex("parked for a resume")).WaitAsync(Timeout);
        Assert.AreEqual(1, world.Server.ClientAgent.ParkedCount);

        await using var second = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
        await second.HelloAsync(world.Registry.SchemaHash);
        await second.ExpectAsync(MessageType.HelloResp);
        await second.CallLoginAsync(world.Registry, nameof(LoginManager.Login), user, Password);
        Assert.AreEqual(0, (int)(await second.ExpectCallAsync(world.Registry)).Arguments[0]!);

        string line = await logs.WaitForLineAsync(new Regex(@"parked\) ends")).WaitAsync(Timeout);
        StringAssert.Matches(line, new Regex($@"^session .* \(account {first.AccountId}, parked\) ends: the account logged in from 127\.0\.0\.1:\d+ \(100 semantics: its objects pass to that session\)$"));
        Assert.AreEqual(0, world.Server.ClientAgent.ParkedCount, "The parked session is no longer parked.");
        await using var late = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
        await late.SendAsync(w => ClientFrames.WriteResume(w, world.Registry.SchemaHash, "1.0.0", first.AccountId, first.ResumeToken!, first.ReceivedBytes));
        Assert.AreNotEqual(ResumeStatus.Ok, (ResumeStatus)(await late.ExpectAsync(MessageType.ResumeResp)).Reader().ReadByte());
    }

    [TestMethod]
    public async Task PastTheFreeResumeFailures_AnAddressIsThrottled_WithTheWaitInTheReason()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.FreeResumeFailuresPerAddress = 1);
        var first = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, NextUser());
        var forged = first.ResumeToken!.ToArray();
        forged[^1] ^= 0xFF;

        // Each refusal past the free one doubles the back-off from 1 s: however slow the machine, a later guess lands
        // inside one (the first that does ends the loop).
        var statuses = new List<(ResumeStatus Status, string Reason)>();
        while (statuses.Count < 8 && (statuses.Count == 0 || statuses[^1].Status != ResumeStatus.Throttled))
        {
            await using var guess = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
            await guess.SendAsync(w => ClientFrames.WriteResume(w, world.Registry.SchemaHash, "1.0.0", first.AccountId, forged, 0));
            var answer = (await guess.ExpectAsync(MessageType.ResumeResp)).Reader();
            statuses.Add(((ResumeStatus)answer.ReadByte(), answer.ReadString()));
        }

        Assert.AreNotEqual(ResumeStatus.Throttled, statuses[0].Status, "The first failure is free.");
        var throttled = statuses.Last();
        Assert.AreEqual(ResumeStatus.Throttled, throttled.Status, throttled.Reason);
        StringAssert.Matches(throttled.Reason, new Regex(@"^too many refused resumes from this address; try again in [1-9]\d* s or log in$"));
    }

    private static string NextUser() => $"parking{Interlocked.Increment(ref users)}";
}
