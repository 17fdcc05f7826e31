using System.Diagnostics;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Dapper;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>
/// The Database role under a fault like a full disk, in a real <c>pastry serve --role otp</c>: a file-size limit set on
/// the running process (<c>prlimit --fsize</c>, with SIGXFSZ ignored) makes every write to the SQLite files fail with
/// EFBIG, and lifting it clears the fault. No root, no mount, reliable in CI.
/// </summary>
[TestClass]
public sealed class DatabaseFaultTests
{
    private static readonly ModelRegistry AppRegistry = ModelRegistry.FromAssemblies(typeof(DbWallet).Assembly);
    private static readonly ModelInfo Wallet = AppRegistry.GetModel<DbWallet>();

    [TestMethod]
    public async Task FullDisk_AnswersEveryRequestWithAClearError_KeepsServingRam_LogsOnce_AndRecoversLosingNothing()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        var gold = (FieldDescriptor<int>)Wallet.GetField(nameof(DbWallet.Gold));
        var mood = (FieldDescriptor<int>)Wallet.GetField(nameof(DbWallet.Mood));
        var stored = new DbWallet { DoId = DoId.NewId(), Holder = "ann", Gold = 100 };
        var created = new DbWallet { DoId = DoId.NewId(), Holder = "bob", Gold = 5 };

        await using (var otp = PastryProcess.StartWithFileSizeFaults(
            "serve", "--role", "otp", "--app", typeof(Knight).Assembly.Location, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0",
            "--Accounts:Pbkdf2Iterations", "1000", "--Admin:Port", "0", "--Database:Path", db.Path))
        {
            var (clients, director) = await otp.WaitForListenersAsync();
            var admin = new Uri((await otp.WaitForLineAsync(new Regex(@"Admin endpoint listening on (\S+?) "))).Groups[1].Value);
            using var http = new HttpClient { BaseAddress = admin };
            Assert.AreEqual(System.Net.HttpStatusCode.OK, (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
            await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
            var ai = new DbTestClient(link);
            Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, stored, ai.Channel))).Status);
            var active = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, stored.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.Ok, active.Status, active.Reason);

            await using var client = await PastryClient.ConnectAsync("127.0.0.1", clients.Port, AppRegistry);
            await client.CreateAccountAsync("ann", "password1");
            await client.LoginAsync("ann", "password1");
            await client.AddInterestAsync(DoId.Empty, 1);
            Assert.IsTrue(client.TryGet<DbWallet>(stored.DoId, out _), "The client sees the active wallet.");

            SetFileSizeLimit(otp.Id, "1");

            // Account creation: a typed, prompt refusal instead of no answer at all.
            var refused = await Assert.ThrowsExactlyAsync<LoginFailedException>(() => client.CreateAccountAsync("carl", "password1").WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.AreEqual(AccountStatus.Unavailable, refused.AccountStatus, refused.Message);

            // Acknowledged writes: a Failed answer that says why, and nothing half-done.
            var create = await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, created, ai.Channel));
            Assert.AreEqual(DatabaseStatus.Failed, create.Status);
            StringAssert.Contains(create.Reason, "the database failed");
            var purchase = await ai.RequestAsync(c => DatabaseMessages.SetFieldsIfEquals(c, Wallet, stored.DoId, ai.Channel, (gold, 100, 90)));
            Assert.AreEqual(DatabaseStatus.Failed, purchase.Status, "A compare-and-swap on a failing database is refused, not answered NotEqual.");

            // RAM traffic goes on: a broadcast field set through the State Server reaches the watcher. Gold is a Db field
            // of an active object, so its write-through set is held for the database's recovery.
            var seen = client.Of<DbWallet>().Updated.Where(change => change.Field.Name == nameof(DbWallet.Mood)).FirstAsync().ToTask();
            stored.Mood = 7;
            link.Publish(InternalMessages.SetField(stored, mood, ai.Channel), Channel.StateServer);
            stored.Gold = 250;
            link.Publish(InternalMessages.SetField(stored, gold, ai.Channel), Channel.StateServer);
            await seen.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.AreEqual(7, client.TryGet<DbWallet>(stored.DoId, out var watched) ? watched.Mood : -1);

            // One more failure in the same episode: still one error line.
            Assert.AreEqual(DatabaseStatus.Failed, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, created, ai.Channel))).Status);
            Assert.AreEqual(1, otp.CountLines(new Regex("The database is failing")), otp.Output);
            Assert.AreEqual(1, otp.CountLines(new Regex("The account store is failing")), otp.Output);
            using (var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative)))
            {
                Assert.AreEqual(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode, "A failing database makes the server not ready.");
                StringAssert.Contains(await ready.Content.ReadAsStringAsync(), "the database is failing");
            }

            SetFileSizeLimit(otp.Id, "unlimited");

            // It recovers by itself: the next requests succeed, and the held write-through set is committed.
            await otp.WaitForLineAsync(new Regex("The database recovered after"), TimeSpan.FromSeconds(30));
            Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, created, ai.Channel))).Status);
            var account = await client.CreateAccountAsync("carl", "password1").WaitAsync(TimeSpan.FromSeconds(30));
            Assert.IsFalse(account.IsEmpty);
            Assert.AreEqual(System.Net.HttpStatusCode.OK, (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);

            otp.KillHard();
            await otp.WaitForExitAsync();
        }

        // Nothing acknowledged was lost, the refused writes left no trace, and the held set reached the file.
        using var connection = db.Open();
        Assert.AreEqual(250, connection.ExecuteScalar<int>("SELECT Gold FROM DbWallet WHERE doid = @id", new { id = stored.DoId.ToByteArray() }), "The write-through set made during the fault was committed after it.");
        Assert.AreEqual(5, connection.ExecuteScalar<int>("SELECT Gold FROM DbWallet WHERE doid = @id", new { id = created.DoId.ToByteArray() }));
        Assert.AreEqual(2L, connection.ExecuteScalar<long>("SELECT count(*) FROM pastry_accounts"));
        Assert.AreEqual("ok", connection.ExecuteScalar<string>("PRAGMA integrity_check"));
    }

    /// <summary>Sets the soft RLIMIT_FSIZE of a running process with util-linux's prlimit (no privilege needed).</summary>
    private static void SetFileSizeLimit(int pid, string limit)
    {
        using var prlimit = Process.Start(new ProcessStartInfo("prlimit", $"--pid {pid} --fsize={limit}:") { RedirectStandardError = true, UseShellExecute = false })!;
        prlimit.WaitForExit();
        Assert.AreEqual(0, prlimit.ExitCode, prlimit.StandardError.ReadToEnd());
    }
}
