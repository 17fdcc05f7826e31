using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Nats;
using Pastry.Otp.Database;
using Pastry.Tests.Database;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The two gaps of the first NATS backplane, over real processes and a real nats-server: an AI process that starts
/// before any OTP waits for one (its creates were lost), and an AI notices an OTP restart (it did not: its objects
/// stayed missing from the new State Server until the AI restarted). Inconclusive without nats-server unless
/// TESTS_REQUIRE_NATS=1.
/// </summary>
[TestClass]
public sealed class NatsBackplaneProcessTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(20));

    [TestMethod]
    public async Task AnAiStartedBeforeAnyOtp_WaitsForOneWithALogLine_ThenItsObjectsReachTheOtpThatCame()
    {
        await using var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
        await using var ai = StartAi(nats);
        await ai.WaitForLineAsync(new Regex("no OTP process is on the backplane yet .* waiting for one before the AI starts"), Timeout);
        Assert.AreEqual(0, ai.CountLines(new Regex("AI application KnightAiApp started")), "The AI waits: its creates would be lost.");

        var (otp, clients, _) = await PastryProcess.StartOtpAsync(Deployment.NatsSettings(nats));
        await using var _ = otp;
        await ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"), Timeout);

        await using var ann = await LoggedInAsync(clients, "early");
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        Assert.IsTrue(ann.Objects.OfType<Knight>().Any(k => k.Name == "Lancelot"), "The AI's first creates reached the State Server.");
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task TheAiNoticesAnOtpRestart_AndItsObjectsAndHandlersAreBackOnTheNewOtp(bool killed)
    {
        await using var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
        var (otp, _, _) = await PastryProcess.StartOtpAsync(Deployment.NatsSettings(nats));
        await using var ai = StartAi(nats);
        await ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"), Timeout);

        // The OTP dies (kill -9: the AI hears no more heartbeats) or stops (SIGTERM: its goodbye), and a new one starts.
        if (killed)
        {
            otp.KillHard();
        }
        else
        {
            otp.Terminate();
            Assert.AreEqual(0, await otp.WaitForExitAsync(), otp.Output);
        }

        await otp.DisposeAsync();
        await ai.WaitForLineAsync(new Regex(killed ? "OTP node \\S+ sent no heartbeat" : "OTP node \\S+ said goodbye"), Timeout);
        var (restarted, clients, _) = await PastryProcess.StartOtpAsync(Deployment.NatsSettings(nats));
        await using var __ = restarted;
        await ai.WaitForLineAsync(new Regex(@"3 object\(s\) created again"), Timeout);

        // A client of the new OTP sees the AI's knight, and the AI's handlers answer through the backplane.
        await using var ann = await LoggedInAsync(clients, killed ? "after-kill" : "after-stop");
        await ann.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = ann.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
        var shout = ann.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        ann.Call(lancelot, k => k.Wave("still there?"));
        Assert.AreEqual("echo still there?", (await shout.WaitAsync(Timeout)).Arguments[0]);
    }

    [TestMethod]
    public async Task ASecondOtpWithSqlite_RefusesToJoinTheBackplane_NamingTheFix_AndWithItsOwnPrefixItStarts()
    {
        await using var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
        var (first, _, _) = await PastryProcess.StartOtpAsync(Deployment.NatsSettings(nats));
        await using var _ = first;
        await first.WaitForLineAsync(new Regex("NATS backplane connected"), Timeout);

        // Several OTP nodes share one world only with one database they all reach: a SQLite file is this node's alone.
        var folder = Directory.CreateTempSubdirectory("pastry-second-");
        string file = Path.Combine(folder.FullName, "second.db");
        await using var second = PastryProcess.Start(["serve", "--role", "otp", "--app", typeof(Knight).Assembly.Location, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0", "--Database:Path", file, "--Database:AutoMigrate", "true", .. Deployment.NatsSettings(nats)]);
        Assert.AreEqual(1, await second.WaitForExitAsync(Timeout), second.Output);
        StringAssert.Contains(second.Output, "Another OTP process already serves the NATS backplane");
        StringAssert.Contains(second.Output, "Fix: give every OTP node of this world the same PostgreSQL");
        Assert.AreEqual(0, second.CountLines(new Regex("Client Agent listening")), "It refused before its roles started.");

        // Another world on the same nats-server: its own prefix, and it starts.
        var (other, _, _) = await PastryProcess.StartOtpAsync([.. Deployment.NatsSettings(nats), "--Nats:SubjectPrefix", "otherworld"]);
        await using var __ = other;
        Assert.AreEqual(0, first.CountLines(new Regex("OTP node \\S+ is on the backplane")), "Neither the refused node (never ready) nor the other world is a node of this one.");
        folder.Delete(recursive: true);
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public async Task ADbWriteThroughTheBackplane_LandsInPostgres_AndSurvivesARestartOfEveryProcess(int otpNodes)
    {
        using var db = new TempDatabase(DatabaseOptions.PostgresProvider);
        await using var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
        var registry = ModelRegistry.FromAssemblies(typeof(DbWallet).Assembly);
        db.Migrate(registry);
        var walletModel = registry.GetModel<DbWallet>();
        var gold = (FieldDescriptor<int>)walletModel.GetField(nameof(DbWallet.Gold));
        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "ann", Gold = 100 };
        var options = new NatsBackplaneOptions { Url = nats.Url };

        // With two OTP nodes on the one PostgreSQL, the wallet lives on the node the mapping gives it, and its Db
        // fields are written by that node's Database role.
        var otps = await StartOtpNodesAsync(nats, db, otpNodes);
        try
        {
            // This test's process is another node of the backplane (as an AI process is): it reaches the OTPs'
            // Database and State Server roles only through the nats-server.
            await using var node = await NodeSeeingAsync(options, otpNodes);
            var ai = new DbTestClient(node);
            Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, ai.Channel))).Status);
            var active = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, walletModel, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), walletModel);
            Assert.AreEqual(DatabaseStatus.Ok, active.Status, active.Reason);

            // A set through the State Server is written through to PostgreSQL; the delete drops only the RAM copy.
            wallet.Gold = 250;
            node.Publish(InternalMessages.SetField(wallet, gold, ai.Channel), Channel.StateServer);
            node.Publish(InternalMessages.DeleteObject(wallet.DoId, ai.Channel), Channel.StateServer);
            var again = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, walletModel, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), walletModel);
            Assert.AreEqual(250, again.Values["Gold"], "Reactivation reads the written-through value.");
            await node.FlushAsync();
            foreach (var otp in otps)
            {
                otp.Terminate();
                Assert.AreEqual(0, await otp.WaitForExitAsync(), otp.Output);
            }
        }
        finally
        {
            foreach (var otp in otps)
            {
                await otp.DisposeAsync();
            }
        }

        // Every process is new: the OTPs, and this node (a new connection, a new node id).
        otps = await StartOtpNodesAsync(nats, db, otpNodes);
        try
        {
            await using var node = await NodeSeeingAsync(options, otpNodes);
            var ai = new DbTestClient(node);
            var loaded = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, walletModel, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), walletModel);
            Assert.AreEqual(DatabaseStatus.Ok, loaded.Status, loaded.Reason);
            Assert.AreEqual(250, loaded.Values["Gold"]);
        }
        finally
        {
            foreach (var otp in otps)
            {
                await otp.DisposeAsync();
            }
        }
    }

    private static async Task<List<PastryProcess>> StartOtpNodesAsync(global::Pastry.Tests.Nats.NatsServer nats, TempDatabase db, int count)
    {
        var otps = new List<PastryProcess>();
        for (int i = 0; i < count; i++)
        {
            var (otp, _, _) = await PastryProcess.StartOtpAsync([.. Deployment.NatsSettings(nats), "--Admin:Port", "0", .. db.ServeSettings]);
            otps.Add(otp);
        }

        return otps;
    }

    /// <summary>A backplane node of this test's process, once it sees <paramref name="otpNodes"/> ready OTP nodes.</summary>
    private static async Task<NatsMessageRouter> NodeSeeingAsync(NatsBackplaneOptions options, int otpNodes)
    {
        var node = new NatsMessageRouter(options);
        await node.StartAsync();
        await node.WaitForKeeperAsync().WaitAsync(Timeout);
        var deadline = DateTime.UtcNow + Timeout;
        while (node.LiveOtpNodes.Length < otpNodes)
        {
            Assert.IsTrue(DateTime.UtcNow < deadline, $"The node sees {node.LiveOtpNodes.Length} of {otpNodes} OTP nodes.");
            await Task.Delay(50);
        }

        return node;
    }

    private static PastryProcess StartAi(global::Pastry.Tests.Nats.NatsServer nats) =>
        PastryProcess.Start(["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Admin:Enabled", "false", .. Deployment.NatsSettings(nats)]);

    private static async Task<PastryClient> LoggedInAsync(System.Net.IPEndPoint clients, string user)
    {
        var client = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, Deployment.Registry);
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }
}
