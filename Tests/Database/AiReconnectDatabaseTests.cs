using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Dapper;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>An AI's stored objects after the OTP process restarts: put back, they are still written through.</summary>
[TestClass]
public sealed class AiReconnectDatabaseTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(60));
    private static readonly ModelRegistry AppRegistry = ModelRegistry.FromAssemblies(typeof(DbWallet).Assembly);

    [TestMethod]
    public async Task AnActivatedObject_PutBackAfterAnOtpRestart_StillWritesItsDbFieldsThrough()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path);
        await using var ai = await AiRepository.ConnectAsync("127.0.0.1", director.Port, AppRegistry);
        var stored = await ai.CreateInDatabaseAsync(new DbWallet { Holder = "ann", Gold = 10 }).WaitAsync(Timeout);
        var wallet = await ai.ActivateAsync<DbWallet>(stored.DoId, DoId.Empty, 1).WaitAsync(Timeout);
        Assert.IsNotNull(wallet);

        // The OTP dies (kill -9) and comes back on the same Message Director port, over the same file.
        otp.KillHard();
        await otp.WaitForExitAsync();
        await otp.DisposeAsync();
        var (restarted, clients, _) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path, "--MessageDirector:Port", director.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using (restarted)
        {
            // A client of the new OTP sees the wallet once the AI has reconnected and put it back.
            await using var ann = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, AppRegistry);
            await ann.CreateAccountAsync("ann", "a fine password");
            await ann.LoginAsync("ann", "a fine password");
            var back = ann.Of<DbWallet>().Created.FirstAsync(w => w.DoId == stored.DoId).ToTask();
            await ann.AddInterestAsync(DoId.Empty, 1);
            await back.WaitAsync(Timeout);

            // A set after the restart reaches the viewer and, written through, the database.
            var renamed = ann.Of<DbWallet>().Updated.FirstAsync(c => c.Field.Name == nameof(DbWallet.Holder)).ToTask();
            await ai.InvokeAsync(() => wallet.Holder = "ann the second").WaitAsync(Timeout);
            await renamed.WaitAsync(Timeout);

            // A graceful stop commits what the Database role has queued.
            restarted.Terminate();
            Assert.AreEqual(0, await restarted.WaitForExitAsync(), restarted.Output);
        }

        using var connection = db.Open();
        Assert.AreEqual("ann the second", connection.ExecuteScalar<string>("SELECT Holder FROM DbWallet WHERE doid = @id", new { id = stored.DoId.ToByteArray() }), "The stored object put back after the restart is still written through.");
    }
}
