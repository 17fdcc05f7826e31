using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.UberDogs;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// Hostile clients against a real <c>pastry serve --role otp</c> process over loopback (issue 12, RELIABILITY.md):
/// bounded work per connection, one answer for unknown users and wrong passwords, login back-off and lockout, one
/// session per account, per-address limits and the login deadline. Every flood is bounded in count and time, and a
/// bystander (from another loopback address) must still be served; its round trip is recorded, never asserted.
/// </summary>
[TestClass]
public sealed class HostileClientTests
{
    private const string Password = "correct horse battery";
    private static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);
    private static readonly IPAddress BystanderAddress = IPAddress.Parse("127.0.0.3");

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Login_WithAnOverlongUsername_IsEjected127_BeforeAnyWork_AndTheNameIsNotLogged()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var client = await HelloAsync(clients);
        string name = new('n', 10_000);

        await client.CallLoginAsync(Registry, nameof(LoginManager.Login), name, Password);

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.FieldConstraintViolated), "username");
        await otp.WaitForLineAsync(new Regex("with 127 FieldConstraintViolated"));
        Assert.IsFalse(otp.Output.Contains(new string('n', 100), StringComparison.Ordinal), "Nothing a client sent is logged at length.");
        Assert.IsFalse(otp.Output.Contains("login '", StringComparison.Ordinal), "The login never reached the account service.");
    }

    [TestMethod]
    public async Task TooManyPendingUberDogCalls_Eject347()
    {
        // About a second per hash, so the calls are certainly still pending when the fifth arrives.
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--Accounts:Pbkdf2Iterations", "2000000");
        await using var _ = otp;
        await using var client = await HelloAsync(clients);
        var login = Registry.GetModel<LoginManager>().GetMethod(nameof(LoginManager.Login));

        await client.SendAsync(w =>
        {
            for (int i = 0; i < 5; i++)
            {
                ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, login, new object?[] { $"user{i}", Password });
            }
        });

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.RateLimited), "UberDOG calls waiting");
    }

    [TestMethod]
    public async Task LoginsOfConnectionsThatHungUp_AreNotHashed_AndABystanderIsServed()
    {
        // 30 connections × 4 logins at a cost of tens of milliseconds per hash, then each hangs up at once.
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--Accounts:Pbkdf2Iterations", "300000", "--ClientAgent:MaxConnectionsPerAddress", "100", "--ClientAgent:MaxNewConnectionsPerSecondPerAddress", "100");
        await using var _ = otp;
        const int Connections = 30;
        const int LoginsEach = 4;
        var login = Registry.GetModel<LoginManager>().GetMethod(nameof(LoginManager.Login));
        var flood = Enumerable.Range(0, Connections).Select(async c =>
        {
            await using var hostile = await RawClient.ConnectAsync(clients);
            await hostile.SendAsync(w =>
            {
                ClientFrames.WriteHello(w, Registry.SchemaHash, "1.0.0");
                for (int i = 0; i < LoginsEach; i++)
                {
                    ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, login, new object?[] { $"flood{c}x{i}", Password });
                }
            });
            await hostile.ShutdownSendAsync();
        }).ToList();
        var bystander = BystanderAsync(clients, "bystander");
        await Task.WhenAll(flood);
        double roundTripMs = await bystander;

        int hashed = Regex.Count(otp.Output, "login 'flood");
        Record($"hung-up login flood: {Connections}x{LoginsEach} logins; {hashed} hashed; bystander create+login {roundTripMs:0} ms");
        Assert.IsTrue(hashed <= Connections, $"At most the login in progress is hashed per connection; {hashed} of {Connections * LoginsEach} were.");
    }

    [TestMethod]
    public async Task UnknownUser_AndWrongPassword_GetOneAnswer_PolicyErrorsOnlyOnCreateAccount()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var client = await HelloAsync(clients);
        var created = await CallAsync(client, nameof(LoginManager.CreateAccount), "ann", Password);
        Assert.AreEqual(AccountStatus.Ok, created.Status, created.Message);

        var timer = Stopwatch.StartNew();
        var wrong = await CallAsync(client, nameof(LoginManager.Login), "ann", "not the password");
        double wrongMs = timer.Elapsed.TotalMilliseconds;
        timer.Restart();
        var unknown = await CallAsync(client, nameof(LoginManager.Login), "nobody", "not the password");
        double unknownMs = timer.Elapsed.TotalMilliseconds;
        var shortPassword = await CallAsync(client, nameof(LoginManager.Login), "ann", "x");

        Assert.AreEqual(AccountStatus.LoginFailed, wrong.Status);
        Assert.AreEqual((wrong.Status, wrong.AccountId, wrong.Message), (unknown.Status, unknown.AccountId, unknown.Message));
        Assert.AreEqual((wrong.Status, wrong.Message), (shortPassword.Status, shortPassword.Message), "A password too short for today's policy is just a wrong password at login.");
        Record($"login answer time: wrong password {wrongMs:0.0} ms, unknown user {unknownMs:0.0} ms (both hash)");

        var policy = await CallAsync(client, nameof(LoginManager.CreateAccount), "bob", "x");
        Assert.AreEqual(AccountStatus.InvalidPassword, policy.Status);
        StringAssert.Contains(policy.Message, "Password must be");
    }

    [TestMethod]
    public async Task BruteForce_BacksOff_ThenLocksTheAccount_ForTheRightPasswordToo_WhileOthersLogIn()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync(
            "--Accounts:FreeLoginFailuresPerAccount", "2", "--Accounts:LoginFailuresBeforeLockout", "5",
            "--Accounts:FirstLoginBackOff", "00:00:00.001", "--Accounts:MaxLoginBackOff", "00:00:00.001");
        await using var _ = otp;
        await using var victim = await RawClient.LoggedInAsync(clients, Registry, "victim");
        await using var attacker = await HelloAsync(clients);

        int failures = 0;
        AccountResult answer = default;
        for (int attempt = 0; attempt < 100 && failures < 5; attempt++)
        {
            answer = await CallAsync(attacker, nameof(LoginManager.Login), "victim", $"guess {attempt}");
            if (answer.Status == AccountStatus.LoginFailed)
            {
                failures++;
            }
            else
            {
                Assert.AreEqual(AccountStatus.Throttled, answer.Status, answer.Message);
            }
        }

        Assert.AreEqual(5, failures);
        var locked = await CallAsync(attacker, nameof(LoginManager.Login), "victim", Password);
        Assert.AreEqual(AccountStatus.Throttled, locked.Status, "During the lockout even the right password is refused, unchecked.");
        var seconds = int.Parse(Regex.Match(locked.Message, @"try again in (\d+) s").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(seconds > 60, locked.Message);

        var timer = Stopwatch.StartNew();
        await using var other = await RawClient.LoggedInAsync(clients, Registry, "someone-else", localAddress: BystanderAddress);
        Record($"brute force: 5 failures then lockout ({locked.Message}); another user's create+login {timer.Elapsed.TotalMilliseconds:0} ms");
    }

    [TestMethod]
    public async Task SecondLogin_KicksTheFirst_With100_AndOnlyTheLastSessionSaysItClosed()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        await using var __ = link;
        var ai = new TestAi(link);
        link.Subscribe(ai, Channel.SessionEvents);
        await link.FlushAsync();

        var first = await RawClient.LoggedInAsync(clients, Registry, "twice");
        await using var second = await HelloAsync(clients);
        var login = await CallAsync(second, nameof(LoginManager.Login), "twice", Password);

        Assert.AreEqual(AccountStatus.Ok, login.Status, login.Message);
        Assert.AreEqual(first.AccountId, login.AccountId);
        StringAssert.Contains(await first.ExpectEjectAsync(EjectCode.LoggedInElsewhere), "logged in from another connection");
        await first.DisposeAsync();

        // The kicked session handed its account over: the AI hears SessionClosed only when the second one closes.
        await second.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Disconnect));
        var closed = await ai.ExpectAsync(InternalMessageType.SessionClosed);
        Assert.AreEqual(login.AccountId, closed.Subject);
        Assert.AreNotEqual(Channel.ForSession(first.SessionId), closed.Sender, "The kicked session must not make the AI clean up the account's objects.");
    }

    [TestMethod]
    public async Task SecondLogin_IsSentTheAccountsOwnedObjects_AndItsUpdates()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        await using var __ = link;
        var ai = new TestAi(link);
        var realm = ai.Create(new Realm { Title = "Home" }, DoId.Empty, 0);
        await using var first = await RawClient.LoggedInAsync(clients, Registry, "returning");
        var avatar = ai.Create(new Knight { Name = "Avatar", X = 3, Mood = 1 }, realm.DoId, 7, first.AccountId);
        await link.FlushAsync();
        Assert.AreEqual(avatar.DoId, RawClient.ReadEnter(await first.ExpectAsync(MessageType.EnterOwnedObject), Registry).Id);

        // The same player logs in from another connection (a new device, or after a crash before the old one timed out).
        await using var second = await HelloAsync(clients);
        await second.CallLoginAsync(Registry, nameof(LoginManager.Login), "returning", Password);
        var owned = await second.ExpectLoginAnswerAndOwnedObjectAsync(Registry);

        Assert.AreEqual((avatar.DoId, realm.DoId, 7u, first.AccountId), (owned.Id, owned.Parent, owned.Zone, owned.Owner), "The new session sees its avatar at once, where it is.");
        await first.ExpectEjectAsync(EjectCode.LoggedInElsewhere);

        // Updates of the avatar go to the new session.
        avatar.Mood = 9;
        ai.Set(avatar, nameof(Knight.Mood));
        await link.FlushAsync();
        Assert.AreEqual((avatar.DoId, "Mood", (object?)9), RawClient.ReadSetField(await second.ExpectAsync(MessageType.SetField), avatar.Model));
    }

    [TestMethod]
    public async Task OutOfFileDescriptors_TheReserveRefuses349_AndTheServerLivesThroughThreeFloods_ThenABystanderIsServed()
    {
        // The process runs with 512 file descriptors (ulimit -n in a bash wrapper); an idle server holds about 180 (the
        // runtime keeps each loaded assembly's file open). Before ClientAgent:FileDescriptorReserve, floods took the last
        // descriptor, and the runtime, which needs one to start a thread, died with "Out of memory." (1 run in 4 in CI).
        // No admin endpoint: it is not under test, and its web host would spend descriptors and a fixed port.
        var (otp, clients) = await PastryProcess.StartOtpWithFileLimitAsync(512, "--ClientAgent:MaxConnectionsPerAddress", "100000", "--ClientAgent:MaxNewConnectionsPerSecondPerAddress", "100000", "--Admin:Enabled", "false");
        await using var _ = otp;
        try
        {
            await FloodAsync(otp, clients, floods: 3);
        }
        catch (Exception ex)
        {
            throw new AssertFailedException($"{ex.GetType().Name}: {ex.Message}. The server's output:{Environment.NewLine}{otp.Output}", ex);
        }
    }

    private async Task FloodAsync(PastryProcess otp, IPEndPoint clients, int floods)
    {
        // Every bystander stays connected to the end, so each flood starts from more descriptors in use.
        var bystanders = new List<RawClient>();
        await using var closeBystanders = new AsyncCleanup(async () =>
        {
            foreach (var bystander in bystanders)
            {
                await bystander.DisposeAsync();
            }
        });
        bystanders.Add(await RawClient.LoggedInAsync(clients, Registry, "early", localAddress: BystanderAddress)); // loads a login's code paths first
        var refusing = new Regex("Refusing connections with 349 NotAdmitted: a new connection took descriptor");
        var admitting = new Regex("Admitting connections again after refusing");
        var roundTrips = new List<double>();
        var floodSizes = new List<int>();
        for (int episode = 1; episode <= floods; episode++)
        {
            var flood = new List<TcpClient>();
            var full = otp.WaitForLineCountAsync(refusing, otp.CountLines(refusing) + 1);
            while (!full.IsCompleted && flood.Count < 800)
            {
                for (int i = 0; i < 25; i++)
                {
                    var connection = new TcpClient();
                    await connection.ConnectAsync(clients.Address, clients.Port);
                    flood.Add(connection);
                }

                await Task.WhenAny(full, Task.Delay(50));
            }

            await full;

            // While full, every new connection is told why and closed; the server keeps its last descriptors.
            await using (var refused = await RawClient.ConnectAsync(clients))
            {
                StringAssert.Contains(await refused.ExpectEjectAsync(EjectCode.NotAdmitted), "file-descriptor limit 512");
            }

            floodSizes.Add(flood.Count);
            foreach (var connection in flood)
            {
                connection.Dispose();
            }

            // The server frees the flood's descriptors as it sees each connection close; until then a newcomer is told to
            // try again later (349), and does, as a client would.
            bystanders.Add(await LogInWhenAdmittedAsync(clients, $"after{episode}", roundTrips));
            await otp.WaitForLineCountAsync(admitting, episode);
        }

        // One line when refusing starts and one when a connection is admitted again, alternating: never a line per refusal.
        var episodeLines = otp.Output.Split('\n').Where(l => refusing.IsMatch(l) || admitting.IsMatch(l)).ToList();
        for (int i = 0; i < episodeLines.Count; i++)
        {
            Assert.AreEqual(i % 2 == 0, refusing.IsMatch(episodeLines[i]), $"Line {i} breaks the in/out alternation:{Environment.NewLine}{string.Join(Environment.NewLine, episodeLines)}");
        }

        Assert.AreEqual(0, otp.CountLines(new Regex("accept failed")), $"The reserve keeps the server off its descriptor limit, so accepts never fail:{Environment.NewLine}{otp.Output}");
        Assert.IsFalse(otp.Output.Contains("Out of memory", StringComparison.Ordinal), otp.Output);
        int refusals = Regex.Matches(otp.Output, "refusing (\\d+) at the file-descriptor reserve").Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Record($"file-descriptor reserve (ulimit -n 512, reserve 128): {floods} floods of {string.Join("/", floodSizes)} connections; {refusals} refused with 349 in {otp.CountLines(refusing)} warnings; bystander create+login after each flood {string.Join(", ", roundTrips.Select(t => t.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))} ms");
    }

    private static async Task<RawClient> LogInWhenAdmittedAsync(IPEndPoint clients, string user, List<double> roundTrips)
    {
        for (int attempt = 1; ; attempt++)
        {
            var timer = Stopwatch.StartNew();
            try
            {
                var client = await RawClient.LoggedInAsync(clients, Registry, user, localAddress: BystanderAddress);
                roundTrips.Add(timer.Elapsed.TotalMilliseconds);
                return client;
            }
            catch (AssertFailedException ex) when (ex.Message.Contains("file-descriptor limit", StringComparison.Ordinal) && attempt < 100)
            {
                await Task.Delay(100);
            }
        }
    }

    [TestMethod]
    public async Task ALoggedInConnection_CannotLogInAsAnotherAccount()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var other = await RawClient.LoggedInAsync(clients, Registry, "other");
        await using var client = await RawClient.LoggedInAsync(clients, Registry, "mine");

        var second = await CallAsync(client, nameof(LoginManager.Login), "other", Password);

        Assert.AreEqual(AccountStatus.AlreadyLoggedIn, second.Status, second.Message);
        Assert.AreEqual(DoId.Empty, second.AccountId);
        await other.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        Assert.IsFalse(other.Closed.Task.IsCompleted, "The other account's session was not kicked.");
    }

    [TestMethod]
    public async Task AnAnonymousSession_ThatNeverLogsIn_IsEjected349_AtTheLoginDeadline()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:LoginTimeout", "00:00:01");
        await using var _ = otp;
        await using var idler = await HelloAsync(clients);
        await idler.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));

        StringAssert.Contains(await idler.ExpectEjectAsync(EjectCode.NotAdmitted), "login deadline");
    }

    [TestMethod]
    public async Task ConnectionsPerAddress_AreCapped_AndAnotherAddressIsServed()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:MaxConnectionsPerAddress", "5", "--ClientAgent:MaxNewConnectionsPerSecondPerAddress", "1000");
        await using var _ = otp;
        var held = new List<RawClient>();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                held.Add(await HelloAsync(clients));
            }

            await using var refused = await RawClient.ConnectAsync(clients);
            StringAssert.Contains(await refused.ExpectEjectAsync(EjectCode.NotAdmitted), "already has 5 connections");
            Record($"connections per address: 6th refused; bystander create+login {await BystanderAsync(clients, "neighbour"):0} ms");
            await otp.WaitForLineAsync(new Regex("Refusing connections with 349 NotAdmitted: 127.0.0.1 already has 5"));
        }
        finally
        {
            foreach (var client in held)
            {
                await client.DisposeAsync();
            }
        }
    }

    [TestMethod]
    public async Task NewConnectionsPerSecondPerAddress_AreLimited_AndAnotherAddressIsServed()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:MaxNewConnectionsPerSecondPerAddress", "2");
        await using var _ = otp;

        // The bucket holds 4; of 40 connections opened back to back, only a few get HelloResp. A refused one gets
        // eject 349, or sees the close first when its Hello crossed the eject (the server does not read it).
        int refused = 0;
        for (int i = 0; i < 40; i++)
        {
            await using var client = await RawClient.ConnectAsync(clients);
            await client.HelloAsync(Registry.SchemaHash);
            try
            {
                if ((await client.NextAsync()).Type != MessageType.HelloResp)
                {
                    refused++;
                }
            }
            catch (AssertFailedException) when (client.Closed.Task.IsCompleted)
            {
                refused++;
            }
        }

        Assert.IsTrue(refused >= 20, $"Most of 40 back-to-back connections are refused ({refused} were).");
        await otp.WaitForLineAsync(new Regex("Refusing connections with 349 NotAdmitted: 127.0.0.1 opens connections faster than 2 per second"));
        Record($"new connections per second: {refused} of 40 refused; bystander create+login {await BystanderAsync(clients, "passer-by"):0} ms");
    }

    [TestMethod]
    public async Task ZonesAcrossInterests_AreCapped_Eject348()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:MaxZonesPerInterest", "64", "--ClientAgent:MaxZonesPerSession", "100");
        await using var _ = otp;
        await using var client = await RawClient.LoggedInAsync(clients, Registry, "greedy");
        var parent = DoId.Empty; // the root: public under the default interest policy

        await client.AddInterestAsync(1, parent, Enumerable.Range(0, 64).Select(z => (uint)z).ToArray());
        await client.ExpectAsync(MessageType.InterestDone);
        await client.AddInterestAsync(2, parent, Enumerable.Range(64, 64).Select(z => (uint)z).ToArray());

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TooManyInterests), "at most 100");
    }

    [TestMethod]
    public async Task InterestChurn_IsRateLimited347_WhileABystanderOpensInterest()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:MaxInterestChangesPerSecond", "5");
        await using var _ = otp;
        var parent = DoId.Empty; // the root: public under the default interest policy
        var churners = new List<RawClient>();
        for (int i = 0; i < 4; i++)
        {
            churners.Add(await RawClient.LoggedInAsync(clients, Registry, $"churner{i}"));
        }

        try
        {
            // Each churner sends 40 interest changes of 1,024 zones in one burst; the bucket holds 10.
            foreach (var churner in churners)
            {
                await churner.SendAsync(w =>
                {
                    for (int change = 0; change < 40; change++)
                    {
                        ClientFrames.WriteAddInterest(w, (uint)(change % 4), parent, Enumerable.Range(change * 8, 1024).Select(z => (uint)z).ToArray());
                    }
                });
            }

            await using var bystander = await RawClient.LoggedInAsync(clients, Registry, "calm", localAddress: BystanderAddress);
            var timer = Stopwatch.StartNew();
            await bystander.AddInterestAsync(1, parent, 1, 2, 3);
            await bystander.ExpectAsync(MessageType.InterestDone);
            Record($"interest churn: 4 sessions x 40 changes of 1024 zones; bystander AddInterest round trip {timer.Elapsed.TotalMilliseconds:0.0} ms");

            foreach (var churner in churners)
            {
                while (true)
                {
                    var frame = await churner.NextAsync();
                    if (frame.Type == MessageType.Eject)
                    {
                        var reader = frame.Reader();
                        Assert.AreEqual(EjectCode.RateLimited, (EjectCode)reader.ReadUInt16());
                        StringAssert.Contains(reader.ReadString(), "interest changes per second");
                        break;
                    }
                }
            }
        }
        finally
        {
            foreach (var churner in churners)
            {
                await churner.DisposeAsync();
            }
        }
    }

    private void Record(string line) => TestContext.WriteLine($"RELIABILITY: {line}");

    private static async Task<RawClient> HelloAsync(IPEndPoint clients, IPAddress? localAddress = null)
    {
        var client = await RawClient.ConnectAsync(clients, localAddress: localAddress);
        await client.HelloAsync(Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        return client;
    }

    /// <summary>A well-behaved player from another address creates an account and logs in; returns the round trip in ms.</summary>
    private static async Task<double> BystanderAsync(IPEndPoint clients, string user)
    {
        var timer = Stopwatch.StartNew();
        await using var bystander = await RawClient.LoggedInAsync(clients, Registry, user, localAddress: BystanderAddress);
        return timer.Elapsed.TotalMilliseconds;
    }

    private static async Task<AccountResult> CallAsync(RawClient client, string method, string user, string password)
    {
        await client.CallLoginAsync(Registry, method, user, password);
        var answer = await client.ExpectCallAsync(Registry);
        return new AccountResult((AccountStatus)(int)answer.Arguments[0]!, (DoId)answer.Arguments[1]!, (string)answer.Arguments[2]!);
    }

    /// <summary>Runs an async clean-up at the end of a scope (<c>await using</c>).</summary>
    private sealed class AsyncCleanup(Func<Task> cleanup) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await cleanup();
    }
}
