using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// Session resume on an in-process server (the raw-protocol cases of <see cref="ResumeTests"/>, which run against a
/// real process, here so that <c>ClientSession.Resume.cs</c> and <c>ClientAgent.Resume.cs</c> can be mutation-tested in
/// process): the replay of exactly what was missed with a spent token, the take-over of a live session (351), each
/// refused token with its typed status, and the end of the grace.
/// </summary>
[TestClass]
public sealed class ResumeOnOneServerTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static readonly ModelRegistry Registry = InProcessOtp.Registry;
    private static int users;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task ARawResume_ReplaysExactlyWhatWasMissed_IssuesANewToken_AndSpendsTheOldOne()
    {
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(logs: logs);
        var (ai, realm, knight) = await CamelotAsync(server);

        var first = await WatchingZoneOneAsync(server, realm);
        var token = first.ResumeToken ?? throw new AssertFailedException("A login sends a resume token.");
        Assert.AreEqual(56, token.Length, "8 bytes of server epoch, the 16-byte session id, 256 random bits.");

        long received = first.ReceivedBytes;
        await first.DisposeAsync();
        await logs.WaitForLineAsync(new Regex("parked for a resume")).WaitAsync(Timeout);
        for (int x = 1; x <= 3; x++)
        {
            knight.X = x;
            ai.Set(knight, nameof(Knight.X));
        }

        await ai.SyncAsync();
        await using var second = await RawClient.ConnectAsync(server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, token, received));
        var answer = ReadResumeResp(await second.ExpectAsync(MessageType.ResumeResp));
        Assert.AreEqual(ResumeStatus.Ok, answer.Status, answer.Reason);
        Assert.IsFalse(answer.Snapshot, "every byte sent before the drop was read, so the queue replays");
        for (int x = 1; x <= 3; x++)
        {
            Assert.AreEqual((knight.DoId, nameof(Knight.X), (object?)x), RawClient.ReadSetField(await second.ExpectAsync(MessageType.SetField), knight.Model));
        }

        Assert.IsNotNull(second.ResumeToken);
        Assert.IsFalse(second.ResumeToken.AsSpan().SequenceEqual(token), "a resume issues a new token");
        await using var reuse = await RawClient.ConnectAsync(server.ClientEndPoint);
        await reuse.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, token, received));
        Assert.AreEqual(ResumeStatus.SessionGone, ReadResumeResp(await reuse.ExpectAsync(MessageType.ResumeResp)).Status);
        knight.X = 4;
        ai.Set(knight, nameof(Knight.X));
        Assert.AreEqual(4, RawClient.ReadSetField(await second.ExpectAsync(MessageType.SetField), knight.Model).Value);
    }

    [TestMethod]
    public async Task AResume_AfterRelayedUpdatesTheClientRead_StillReplays()
    {
        // Updates to a location whose every object the client sees go out as the location's shared batch (one block
        // for every viewer, not a copy per session). Those bytes count as sent like any other, or the server's count
        // would disagree with the client's and every resume after a broadcast would cost a snapshot.
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(logs: logs);
        var (ai, realm, knight) = await CamelotAsync(server);

        var first = await WatchingZoneOneAsync(server, realm);

        for (int x = 1; x <= 3; x++)
        {
            knight.X = x;
            ai.Set(knight, nameof(Knight.X));
            Assert.AreEqual(x, RawClient.ReadSetField(await first.ExpectAsync(MessageType.SetField), knight.Model).Value);
        }

        long received = first.ReceivedBytes;
        await first.DisposeAsync();
        await logs.WaitForLineAsync(new Regex("parked for a resume")).WaitAsync(Timeout);
        knight.X = 4;
        ai.Set(knight, nameof(Knight.X));
        await ai.SyncAsync();

        await using var second = await RawClient.ConnectAsync(server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, first.ResumeToken!, received));
        var answer = ReadResumeResp(await second.ExpectAsync(MessageType.ResumeResp));
        Assert.AreEqual(ResumeStatus.Ok, answer.Status, answer.Reason);
        Assert.IsFalse(answer.Snapshot, "the client read every byte it was sent, the broadcasts included, so the queue replays");
        Assert.AreEqual((knight.DoId, nameof(Knight.X), (object?)4), RawClient.ReadSetField(await second.ExpectAsync(MessageType.SetField), knight.Model));
    }

    [TestMethod]
    public async Task AResumeThatMissedBytes_GetsASnapshot_InsteadOfAReplay()
    {
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(logs: logs);
        var (ai, realm, knight) = await CamelotAsync(server);
        var first = await WatchingZoneOneAsync(server, realm);

        long received = first.ReceivedBytes;
        await first.DisposeAsync();
        await logs.WaitForLineAsync(new Regex("parked for a resume")).WaitAsync(Timeout);
        knight.X = 9;
        ai.Set(knight, nameof(Knight.X));
        await ai.SyncAsync();

        // The client claims to have read fewer bytes than were sent: the queue cannot be replayed from there.
        await using var second = await RawClient.ConnectAsync(server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, first.ResumeToken!, received - 1));
        var answer = ReadResumeResp(await second.ExpectAsync(MessageType.ResumeResp));

        Assert.AreEqual(ResumeStatus.Ok, answer.Status, answer.Reason);
        Assert.IsTrue(answer.Snapshot, "a fresh snapshot of what is in view");
        var enter = RawClient.ReadEnter(await second.ExpectAsync(MessageType.EnterObject), Registry);
        Assert.AreEqual(9, enter.Values[nameof(Knight.X)], "the snapshot has the current value");
    }

    [TestMethod]
    public async Task AResumeWhileTheOldConnectionStillLives_TakesTheSessionOver_AndTheOldConnectionGets351()
    {
        await using var server = InProcessOtp.Start();
        await using var first = await RawClient.LoggedInAsync(server.ClientEndPoint, Registry, NextUser());

        await using var second = await RawClient.ConnectAsync(server.ClientEndPoint);
        await second.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, first.ResumeToken!, first.ReceivedBytes));
        var answer = ReadResumeResp(await second.ExpectAsync(MessageType.ResumeResp));

        Assert.AreEqual(ResumeStatus.Ok, answer.Status, answer.Reason);
        StringAssert.Contains(await first.ExpectEjectAsync(EjectCode.ResumedElsewhere), "resumed from another connection");
        await second.AddInterestAsync(1, DoId.Empty, 0);
        while ((await second.NextAsync()).Type != MessageType.InterestDone)
        {
        }
    }

    [TestMethod]
    public async Task AForgedToken_AWrongAccount_AMalformedToken_AndAnotherRunsToken_AreRefused_WithTypedStatuses()
    {
        await using var server = InProcessOtp.Start();
        await using var owner = await RawClient.LoggedInAsync(server.ClientEndPoint, Registry, NextUser());
        var token = owner.ResumeToken!;
        await using var forger = await RawClient.ConnectAsync(server.ClientEndPoint);

        var forged = (byte[])token.Clone();
        RandomNumberGenerator.Fill(forged.AsSpan(24));
        Assert.AreEqual(ResumeStatus.SessionGone, await ResumeAsync(forger, owner.AccountId, forged));
        Assert.AreEqual(ResumeStatus.SessionGone, await ResumeAsync(forger, DoId.NewId(), token), "the real token for another account");
        Assert.AreEqual(ResumeStatus.InvalidToken, await ResumeAsync(forger, owner.AccountId, new byte[7]));
        Assert.AreEqual(ResumeStatus.InvalidToken, await ResumeAsync(forger, owner.AccountId, new byte[57]));
        var otherRun = (byte[])token.Clone();
        otherRun[0] ^= 0xFF;
        Assert.AreEqual(ResumeStatus.ServerRestarted, await ResumeAsync(forger, owner.AccountId, otherRun));

        // The refused connection may still say Hello; the owner was never disturbed (the token for another account was not spent).
        await forger.HelloAsync(Registry.SchemaHash);
        await forger.ExpectAsync(MessageType.HelloResp);
        await using var rightful = await RawClient.ConnectAsync(server.ClientEndPoint);
        Assert.AreEqual(ResumeStatus.Ok, await ResumeAsync(rightful, owner.AccountId, token));
    }

    [TestMethod]
    public async Task AResumeFromAnotherRelease_Ejects124_AndNeitherSpendsTheTokenNorDisturbsTheSession()
    {
        // A Resume is checked as a Hello is: a client of another release (or schema) is ejected before its token is
        // looked at, so the rightful client can still resume with it.
        await using var server = InProcessOtp.Start();
        await using var owner = await RawClient.LoggedInAsync(server.ClientEndPoint, Registry, NextUser());
        var token = owner.ResumeToken!;

        await using var stale = await RawClient.ConnectAsync(server.ClientEndPoint);
        await stale.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "0.9.0", owner.AccountId, token, 0));
        StringAssert.Contains(await stale.ExpectEjectAsync(EjectCode.BadVersion), "the client is out of date");
        await using var otherModels = await RawClient.ConnectAsync(server.ClientEndPoint);
        await otherModels.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash ^ 1, "1.0.0", owner.AccountId, token, 0));
        await otherModels.ExpectEjectAsync(EjectCode.BadSchemaHash);

        // The token still works: the rightful resume takes the live session over (and its old connection gets 351).
        await using var rightful = await RawClient.ConnectAsync(server.ClientEndPoint);
        Assert.AreEqual(ResumeStatus.Ok, await ResumeAsync(rightful, owner.AccountId, token));
        await owner.ExpectEjectAsync(EjectCode.ResumedElsewhere);
    }

    [TestMethod]
    public async Task AfterTheGrace_TheSessionClosesAsALogoutWould_AndItsResumeIsRefused()
    {
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(options => options.ClientAgent.ResumeGrace = TimeSpan.FromMilliseconds(100), logs: logs);
        var ai = new TestAi(server.Router);
        server.Router.Subscribe(ai, Channel.SessionEvents);
        var first = await RawClient.LoggedInAsync(server.ClientEndPoint, Registry, NextUser());
        long received = first.ReceivedBytes;

        await first.DisposeAsync();

        var closed = await ai.ExpectAsync(InternalMessageType.SessionClosed);
        Assert.AreEqual(first.AccountId, closed.Subject);
        await logs.WaitForLineAsync(new Regex("was not resumed within")).WaitAsync(Timeout);
        await using var late = await RawClient.ConnectAsync(server.ClientEndPoint);
        Assert.AreEqual(ResumeStatus.SessionGone, await ResumeAsync(late, first.AccountId, first.ResumeToken!, received));
    }

    /// <summary>The realm Camelot with Kay (X = 0) in its zone 1, created by a new AI on <paramref name="server"/> and synced.</summary>
    private static async Task<(TestAi Ai, Realm Realm, Knight Kay)> CamelotAsync(Pastry.Otp.OtpServer server)
    {
        var ai = new TestAi(server.Router);
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        var kay = ai.Create(new Knight { Name = "Kay", X = 0 }, realm.DoId, 1);
        await ai.SyncAsync();
        return (ai, realm, kay);
    }

    /// <summary>A new user, logged in, with interest 1 in <paramref name="realm"/>'s zone 1, read up to its InterestDone.</summary>
    private static async Task<RawClient> WatchingZoneOneAsync(Pastry.Otp.OtpServer server, Realm realm)
    {
        var client = await RawClient.LoggedInAsync(server.ClientEndPoint, Registry, NextUser());
        await client.AddInterestAsync(1, realm.DoId, 1);
        while ((await client.NextAsync()).Type != MessageType.InterestDone)
        {
        }

        return client;
    }

    private static string NextUser() => $"inresumer{Interlocked.Increment(ref users)}";

    private static async Task<ResumeStatus> ResumeAsync(RawClient client, DoId account, byte[] token, long received = 0)
    {
        await client.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", account, token, received));
        return ReadResumeResp(await client.ExpectAsync(MessageType.ResumeResp)).Status;
    }

    private static (ResumeStatus Status, string Reason, bool Snapshot) ReadResumeResp(ReceivedFrame frame)
    {
        var reader = frame.Reader();
        var status = (ResumeStatus)reader.ReadByte();
        string reason = reader.ReadString();
        bool snapshot = reader.ReadByte() == 1;
        return (status, reason, snapshot);
    }
}
