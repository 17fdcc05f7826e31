using System.Net;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Tests.Database;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// Sessions that survive (issue 18), against real <c>pastry serve --role otp</c> processes on loopback: a dropped
/// connection parks the session for the grace period, the client resumes it with its single-use token, and what it
/// missed is replayed (or a fresh snapshot is sent). A test AI on the Message Director link creates and changes
/// objects and hears SessionClosed. Nothing sleeps: every wait is a signal with a timeout (a log line, a frame, an event).
/// </summary>
[TestClass]
public sealed class ResumeTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(20));
    private static readonly ModelRegistry Registry = Deployment.Registry;
    private static readonly Regex Parked = new("parked for a resume");
    private static int users;

    [TestMethod]
    public async Task ResumeWithinGrace_AWatcherSeesNoLeaveOrEnter_AndTheResumerGetsTheUpdatesItMissed()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        link.Subscribe(ai, Channel.SessionEvents);
        await link.FlushAsync();

        await using var ann = await LoggedInAsync(clients);
        await using var bob = await LoggedInAsync(clients);
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        var avatar = ai.Create(new Knight { Name = "Percy", X = 0 }, realm.DoId, 1, owner: ann.AccountId);
        var annSees = ann.Of<Knight>().Created.FirstAsync(k => k.DoId == avatar.DoId).ToTask();
        await ai.SyncAsync();
        await ann.AddInterestAsync(realm.DoId, 1);
        await bob.AddInterestAsync(realm.DoId, 1);
        var annsPercy = await annSees.WaitAsync(Timeout);
        Assert.IsTrue(bob.TryGet<Knight>(avatar.DoId, out var bobsPercy));

        // The watcher records every enter and leave of the avatar; the resumer every value of X it is shown.
        var bobEvents = new List<string>();
        using var bobEnters = bob.Of<Knight>().Created.Where(k => k.DoId == avatar.DoId).Subscribe(_ => Record(bobEvents, "enter"));
        using var bobLeaves = bob.Of<Knight>().Disabled.Merge(bob.Of<Knight>().Deleted).Where(k => k.DoId == avatar.DoId).Subscribe(_ => Record(bobEvents, "leave"));
        var annValues = new List<int>();
        using var annUpdates = ann.Of<Knight>().Updated.Where(c => c.Target.DoId == avatar.DoId && c.Field.Name == nameof(Knight.X)).Subscribe(c => Record(annValues, (int)c.NewValue!));

        // The connection drops; the client holds its reconnect until the parked session has been sent 20 updates.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ann.BeforeReconnect = () => hold.Task;
        var reconnecting = ann.Reconnecting.FirstAsync().ToTask();
        var reconnected = ann.Reconnected.FirstAsync().ToTask();
        int parkedBefore = otp.CountLines(Parked);
        ann.DropConnectionForTesting();
        await reconnecting.WaitAsync(Timeout);
        await WaitForCountAsync(otp, Parked, parkedBefore + 1);

        var bobSawLast = bob.Of<Knight>().Updated.FirstAsync(c => c.Target.DoId == avatar.DoId && c.Field.Name == nameof(Knight.X) && (int)c.NewValue! == 20).ToTask();
        for (int x = 1; x <= 20; x++)
        {
            avatar.X = x;
            ai.Set(avatar, nameof(Knight.X));
        }

        // Bob saw the last one, so the same publish already reached the parked session (one in-process delivery loop).
        await bobSawLast.WaitAsync(Timeout);
        hold.SetResult();
        var resumed = await reconnected.WaitAsync(Timeout);

        await TestWaits.UntilAsync(() => annsPercy.X == 20, () => $"Ann's Percy.X is {annsPercy.X}, not 20, after the resume ({resumed})", Timeout);
        Assert.AreEqual(ObjectState.Live, annsPercy.State, "The resumer's own objects stayed in view.");
        lock (annValues)
        {
            Assert.IsTrue(annValues.SequenceEqual(annValues.Order()), $"Ann's X went back in time: {string.Join(", ", annValues)}");
            if (!resumed.Snapshot)
            {
                CollectionAssert.AreEqual(Enumerable.Range(1, 20).ToList(), annValues, "A replay gives exactly the updates missed, in order.");
            }
        }

        // Still one session: Ann's set of her own avatar reaches the AI, and the watcher never saw the avatar leave or come back.
        annsPercy.Mood = 3;
        await ai.ExpectAsync(InternalMessageType.ClientSetField);
        lock (bobEvents)
        {
            Assert.AreEqual(0, bobEvents.Count, $"The watcher saw: {string.Join(", ", bobEvents)}");
        }

        Assert.AreEqual(ObjectState.Live, bobsPercy.State);
        Assert.IsFalse(ai.TryTake(InternalMessageType.SessionClosed, out var closed), $"No session closed: {closed}");
    }

    [TestMethod]
    public async Task ARawResume_ReplaysExactlyWhatWasMissed_AndSpendsTheToken()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        await link.FlushAsync();
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        var knight = ai.Create(new Knight { Name = "Kay", X = 0 }, realm.DoId, 1);
        await ai.SyncAsync();

        var first = await RawClient.LoggedInAsync(clients, Registry, NextUser());
        var token = first.ResumeToken ?? throw new AssertFailedException("A login sends a resume token.");
        Assert.AreEqual(56, token.Length, "8 bytes of server epoch, the 16-byte session id, 256 random bits.");
        await first.AddInterestAsync(1, realm.DoId, 1);
        while ((await first.NextAsync()).Type != MessageType.InterestDone)
        {
        }

        long received = first.ReceivedBytes;
        int parkedBefore = otp.CountLines(Parked);
        await first.DisposeAsync();
        await WaitForCountAsync(otp, Parked, parkedBefore + 1);

        for (int x = 1; x <= 5; x++)
        {
            knight.X = x;
            ai.Set(knight, nameof(Knight.X));
        }

        // The parked session queues in order; a watcher that has seen X=5 proves the queue has it too.
        await using (var watcher = await RawClient.LoggedInAsync(clients, Registry, NextUser()))
        {
            await watcher.AddInterestAsync(1, realm.DoId, 1);
            var enter = RawClient.ReadEnter(await watcher.ExpectAsync(MessageType.EnterObject), Registry);
            Assert.AreEqual(5, enter.Values[nameof(Knight.X)]);
        }

        await using var second = await RawClient.ConnectAsync(clients);
        await second.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, token, received));
        var answer = ReadResumeResp(await second.ExpectAsync(MessageType.ResumeResp));
        Assert.AreEqual(ResumeStatus.Ok, answer.Status, answer.Reason);
        Assert.IsFalse(answer.Snapshot, "Every byte sent before the drop was read, so the queue replays.");
        for (int x = 1; x <= 5; x++)
        {
            var set = RawClient.ReadSetField(await second.ExpectAsync(MessageType.SetField), knight.Model);
            Assert.AreEqual((knight.DoId, nameof(Knight.X), (object?)x), set);
        }

        // The new token came between the answer and the replay (the raw client keeps it aside).
        Assert.IsNotNull(second.ResumeToken);
        Assert.IsFalse(second.ResumeToken.AsSpan().SequenceEqual(token), "A resume issues a new token.");

        // Reusing the spent token is refused with a typed reason, and the resumed session goes on.
        await using var reuse = await RawClient.ConnectAsync(clients);
        await reuse.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, token, received));
        Assert.AreEqual(ResumeStatus.SessionGone, ReadResumeResp(await reuse.ExpectAsync(MessageType.ResumeResp)).Status);
        knight.X = 6;
        ai.Set(knight, nameof(Knight.X));
        Assert.AreEqual(6, RawClient.ReadSetField(await second.ExpectAsync(MessageType.SetField), knight.Model).Value);
    }

    [TestMethod]
    public async Task AResumeWhileTheOldConnectionStillLives_TakesTheSessionOver_AndTheOldConnectionGets351()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var __ = otp;
        await using var first = await RawClient.LoggedInAsync(clients, Registry, NextUser());

        // The old connection is still open (the server has not noticed anything): the resume takes the session over.
        await using var second = await RawClient.ConnectAsync(clients);
        await second.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, first.ResumeToken!, first.ReceivedBytes));
        var answer = ReadResumeResp(await second.ExpectAsync(MessageType.ResumeResp));
        Assert.AreEqual(ResumeStatus.Ok, answer.Status, answer.Reason);
        StringAssert.Contains(await first.ExpectEjectAsync(EjectCode.ResumedElsewhere), "resumed from another connection");

        // The session lives on over the new connection.
        await second.AddInterestAsync(1, DoId.Empty, 0);
        while ((await second.NextAsync()).Type != MessageType.InterestDone)
        {
        }
    }

    [TestMethod]
    public async Task AForgedToken_AWrongAccount_AndAMalformedToken_AreRefused_WithTypedReasons_AndTheConnectionCanStillLogIn()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var __ = otp;
        await using var owner = await RawClient.LoggedInAsync(clients, Registry, NextUser());
        var token = owner.ResumeToken!;

        // The right session id and epoch with a guessed secret (the session is even connected): refused.
        var forged = (byte[])token.Clone();
        RandomNumberGenerator.Fill(forged.AsSpan(24));
        await using var forger = await RawClient.ConnectAsync(clients);
        await forger.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", owner.AccountId, forged, 0));
        Assert.AreEqual(ResumeStatus.SessionGone, ReadResumeResp(await forger.ExpectAsync(MessageType.ResumeResp)).Status);

        // The real token, claimed for another account: refused, and not spent.
        await forger.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", DoId.NewId(), token, 0));
        Assert.AreEqual(ResumeStatus.SessionGone, ReadResumeResp(await forger.ExpectAsync(MessageType.ResumeResp)).Status);

        await forger.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", owner.AccountId, new byte[7], 0));
        Assert.AreEqual(ResumeStatus.InvalidToken, ReadResumeResp(await forger.ExpectAsync(MessageType.ResumeResp)).Status);

        // A token of another server run (other epoch) says the server restarted.
        var otherRun = (byte[])token.Clone();
        otherRun[0] ^= 0xFF;
        await forger.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", owner.AccountId, otherRun, 0));
        Assert.AreEqual(ResumeStatus.ServerRestarted, ReadResumeResp(await forger.ExpectAsync(MessageType.ResumeResp)).Status);

        // The refused connection is still open and may say Hello; the owner was never disturbed.
        await forger.HelloAsync(Registry.SchemaHash);
        await forger.ExpectAsync(MessageType.HelloResp);
        await owner.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        Assert.IsFalse(owner.Closed.Task.IsCompleted, "The owner's session was not touched by the refused resumes.");
    }

    [TestMethod]
    public async Task ResumeAfterGrace_IsRefused_TheNormalCleanupRan_AndOneLoginBringsTheClientBack()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync("--ClientAgent:ResumeGrace", "00:00:01");
        await using var _ = otp;
        await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        link.Subscribe(ai, Channel.SessionEvents);
        await link.FlushAsync();

        string user = NextUser();
        await using var ann = await LoggedInAsync(clients, user);
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        ai.Create(new Knight { Name = "Percy" }, realm.DoId, 1, owner: ann.AccountId);
        await ai.SyncAsync();
        await ann.AddInterestAsync(realm.DoId, 1);
        var percy = ann.Objects.OfType<Knight>().Single();

        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ann.BeforeReconnect = () => hold.Task;
        var lost = ann.SessionLost.FirstAsync().ToTask();
        var disabled = ann.Of<Knight>().Disabled.FirstAsync().ToTask();
        var oldAccount = ann.AccountId;
        ann.DropConnectionForTesting();

        // The grace period ends: the session closes as a logout would, and the AI hears it.
        var closed = await ai.ExpectAsync(InternalMessageType.SessionClosed);
        Assert.AreEqual(oldAccount, closed.Subject);
        StringAssert.Contains(otp.Output, "was not resumed within");

        hold.SetResult();
        var why = await lost.WaitAsync(Timeout);
        Assert.AreEqual(ResumeStatus.SessionGone, why.Status, why.Reason);
        Assert.AreSame(percy, await disabled.WaitAsync(Timeout), "The old session's objects are disabled.");
        Assert.AreEqual(DoId.Empty, ann.AccountId);

        // One call logs the same client in again, on the connection it already has.
        Assert.AreEqual(oldAccount, await ann.LoginAsync(user, "a fine password"));
        await ann.AddInterestAsync(realm.DoId, 1);
        Assert.AreEqual("Percy", ann.Objects.OfType<Knight>().Single().Name);
    }

    [TestMethod]
    public async Task ALoginElsewhereDuringGrace_EndsTheParkedSession_AndItsObjectsPassOn()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        link.Subscribe(ai, Channel.SessionEvents);
        await link.FlushAsync();

        string user = NextUser();
        var first = await RawClient.LoggedInAsync(clients, Registry, user);
        var token = first.ResumeToken!;
        int parkedBefore = otp.CountLines(Parked);
        await first.DisposeAsync();
        await WaitForCountAsync(otp, Parked, parkedBefore + 1);

        await using var second = await RawClient.ConnectAsync(clients);
        await second.HelloAsync(Registry.SchemaHash);
        await second.ExpectAsync(MessageType.HelloResp);
        await second.CallLoginAsync(Registry, nameof(LoginManager.Login), user, "correct horse battery");
        await second.ExpectCallAsync(Registry);
        await WaitForCountAsync(otp, new Regex("parked\\) ends: the account logged in from"), 1);

        // The parked session ended without saying it closed (the account, and its objects, passed on), and its token is spent.
        Assert.IsFalse(ai.TryTake(InternalMessageType.SessionClosed, out var closed), $"Unexpected {closed}");
        await using var late = await RawClient.ConnectAsync(clients);
        await late.SendAsync(w => ClientFrames.WriteResume(w, Registry.SchemaHash, "1.0.0", first.AccountId, token, 0));
        Assert.AreEqual(ResumeStatus.SessionGone, ReadResumeResp(await late.ExpectAsync(MessageType.ResumeResp)).Status);
    }

    [TestMethod]
    public async Task MissedUpdatesPastTheBound_GiveAFreshSnapshot_ThatKeepsTheObjectsAndDropsWhatLeft()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync("--ClientAgent:ResumeQueueBytes", "1024");
        await using var _ = otp;
        await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        await link.FlushAsync();

        await using var ann = await LoggedInAsync(clients);
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        var kay = ai.Create(new Knight { Name = "Kay" }, realm.DoId, 1);
        var gareth = ai.Create(new Knight { Name = "Gareth" }, realm.DoId, 1);
        var percy = ai.Create(new Knight { Name = "Percy" }, realm.DoId, 50, owner: ann.AccountId);
        await ai.SyncAsync();
        await ann.AddInterestAsync(realm.DoId, 1);
        await TestWaits.UntilAsync(() => ann.Objects.OfType<Knight>().Count() == 3, () => $"{ann.Objects.Count} objects", Timeout);
        Assert.IsTrue(ann.TryGet<Knight>(kay.DoId, out var annsKay));
        Assert.IsTrue(ann.TryGet<Knight>(percy.DoId, out var annsPercy), "An owned object outside the interest is in view.");

        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ann.BeforeReconnect = () => hold.Task;
        var reconnected = ann.Reconnected.FirstAsync().ToTask();
        var garethLeaves = ann.Of<Knight>().Disabled.FirstAsync(k => k.DoId == gareth.DoId).ToTask();
        int parkedBefore = otp.CountLines(Parked);
        ann.DropConnectionForTesting();
        await WaitForCountAsync(otp, Parked, parkedBefore + 1);

        // More than 1 KiB of updates while parked, and Gareth walks out of the interest.
        for (int x = 1; x <= 100; x++)
        {
            kay.X = x;
            ai.Set(kay, nameof(Knight.X));
        }

        ai.Move(gareth.DoId, realm.DoId, 2);
        await using (var watcher = await RawClient.LoggedInAsync(clients, Registry, NextUser()))
        {
            await watcher.AddInterestAsync(1, realm.DoId, 1);
            Assert.AreEqual(100, RawClient.ReadEnter(await watcher.ExpectAsync(MessageType.EnterObject), Registry).Values[nameof(Knight.X)]);
        }

        hold.SetResult();
        var resumed = await reconnected.WaitAsync(Timeout);
        Assert.IsTrue(resumed.Snapshot, "Past the bound the client gets a fresh snapshot.");
        Assert.AreEqual(gareth.DoId, (await garethLeaves.WaitAsync(Timeout)).DoId, "An object that left while parked leaves at the end of the snapshot.");
        await TestWaits.UntilAsync(() => annsKay.X == 100, () => $"Kay.X is {annsKay.X}", Timeout);
        Assert.AreEqual(ObjectState.Live, annsKay.State, "An object still in view is the same object, updated in place.");
        Assert.AreEqual(ObjectState.Live, annsPercy.State, "The owned object outside the interest came back in the snapshot.");
    }

    [TestMethod]
    public async Task AnOtpRestart_IsSurfaced_AsServerRestarted_AndOneLoginBringsTheClientBack()
    {
        using var db = new TempDatabase();
        db.Migrate(Registry);
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path);
        string user = NextUser();
        PastryProcess? restarted = null;
        try
        {
            await using var ann = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Registry, new ClientOptions { ReconnectDelay = TimeSpan.FromMilliseconds(100), MaxReconnectDelay = TimeSpan.FromMilliseconds(500) });
            await ann.CreateAccountAsync(user, "a fine password");
            var account = await ann.LoginAsync(user, "a fine password");
            var reconnecting = ann.Reconnecting.FirstAsync().ToTask();
            var lost = ann.SessionLost.FirstAsync().ToTask();

            otp.KillHard();
            await otp.DisposeAsync();
            await reconnecting.WaitAsync(Timeout);
            (restarted, _, _) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path, "--ClientAgent:Port", clients.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

            var why = await lost.WaitAsync(Timeout);
            Assert.AreEqual(ResumeStatus.ServerRestarted, why.Status, why.Reason);
            Assert.AreEqual(account, await ann.LoginAsync(user, "a fine password"));
        }
        finally
        {
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Issue 18 item 7: sets race an AddInterest. The Enter holds the newest value, so whatever was queued during the
    /// sync about that object must not replay after it; the watcher's values never go down. The AI streams sets in
    /// batches of 40 and the interest opens while they flow; repeated, because the race shows in some trials only
    /// (2-4 of 5 before the fix).
    /// </summary>
    [TestMethod]
    public async Task SetsRacingAnAddInterest_NeverShowAnOlderValueAfterANewerOne()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        await link.FlushAsync();
        var realm = ai.Create(new Realm { Title = "Camelot" }, DoId.Empty, 0);
        await ai.SyncAsync();
        await using var watcher = await RawClient.LoggedInAsync(clients, Registry, NextUser());
        var jumps = new List<string>();
        const int Trials = 20;
        const int Sets = 400;
        for (int trial = 0; trial < Trials; trial++)
        {
            uint zone = (uint)(100 + trial);
            var knight = ai.Create(new Knight { Name = "Kay", Gold = 0 }, realm.DoId, zone);
            await ai.SyncAsync();
            await link.FlushAsync();
            var flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var racing = Task.Run(async () =>
            {
                for (int gold = 1; gold <= Sets; gold++)
                {
                    knight.Gold = gold;
                    ai.Set(knight, nameof(Knight.Gold));
                    if (gold % 40 == 0)
                    {
                        await link.FlushAsync();
                        flowing.TrySetResult();
                    }
                }
            });
            await flowing.Task.WaitAsync(Timeout);
            await watcher.AddInterestAsync((uint)(trial + 1), realm.DoId, zone);

            var seen = new List<int>();
            bool done = false;
            while (!done || seen.Count == 0 || seen[^1] != Sets)
            {
                var frame = await watcher.NextAsync(Timeout);
                done |= frame.Type == MessageType.InterestDone;
                if (frame.Type == MessageType.EnterObject)
                {
                    seen.Add((int)RawClient.ReadEnter(frame, Registry).Values[nameof(Knight.Gold)]!);
                }
                else if (frame.Type == MessageType.SetField)
                {
                    seen.Add((int)RawClient.ReadSetField(frame, knight.Model).Value!);
                }
            }

            await racing;
            if (!seen.SequenceEqual(seen.Order()))
            {
                int at = Enumerable.Range(1, seen.Count - 1).First(i => seen[i] < seen[i - 1]);
                jumps.Add($"trial {trial}: entered at {seen[0]}, then {seen[at - 1]} -> {seen[at]}");
            }

            await watcher.RemoveInterestAsync((uint)(trial + 1));
            await watcher.ExpectAsync(MessageType.LeaveObject);
        }

        Assert.AreEqual(0, jumps.Count, $"A watcher saw values go back in time in {jumps.Count} of {Trials} trials:\n" + string.Join("\n", jumps));
    }

    private static string NextUser() => $"resumer{Interlocked.Increment(ref users)}";

    private static async Task<PastryClient> LoggedInAsync(IPEndPoint clients, string? user = null)
    {
        user ??= NextUser();
        var client = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Registry);
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }

    private static (ResumeStatus Status, string Reason, bool Snapshot) ReadResumeResp(ReceivedFrame frame)
    {
        var reader = frame.Reader();
        var status = (ResumeStatus)reader.ReadByte();
        string reason = reader.ReadString();
        bool snapshot = reader.ReadByte() == 1;
        return (status, reason, snapshot);
    }

    private static void Record<T>(List<T> list, T item)
    {
        lock (list)
        {
            list.Add(item);
        }
    }

    private static async Task WaitForCountAsync(PastryProcess process, Regex pattern, int count)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (process.CountLines(pattern) < count)
        {
            Assert.IsTrue(DateTime.UtcNow < deadline, $"'{pattern}' did not appear {count} time(s):\n{process.Output}");
            await process.WaitForLineAsync(pattern, Timeout);
        }
    }
}
