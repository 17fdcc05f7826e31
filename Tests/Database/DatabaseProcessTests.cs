using Dapper;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.Database;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary>The Database role inside a real <c>pastry serve --role otp</c> process, reached over the Message Director link.</summary>
[TestClass]
public sealed class DatabaseProcessTests
{
    private static readonly ModelRegistry AppRegistry = ModelRegistry.FromAssemblies(typeof(DbWallet).Assembly);
    private static readonly ModelInfo Wallet = AppRegistry.GetModel<DbWallet>();

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task CreateActivateUpdateReactivate_ThroughTheRealOtp_AndAfterARestart(string provider)
    {
        using var db = new TempDatabase(provider);
        db.Migrate(AppRegistry);
        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "ann", Gold = 100 };
        var gold = (FieldDescriptor<int>)Wallet.GetField(nameof(DbWallet.Gold));

        var (otp, _, director) = await PastryProcess.StartOtpAsync(db.ServeSettings);
        await using (otp)
        {
            var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
            await using var _ = link;
            var ai = new DbTestClient(link);

            Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, ai.Channel))).Status);
            var active = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.Ok, active.Status, active.Reason);
            Assert.AreEqual("ann", active.Values["Holder"]);
            Assert.AreEqual(100, active.Values["Gold"]);

            var twice = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.AlreadyExists, twice.Status);

            // Now it is a RAM object: a set through the State Server is written through to the database.
            wallet.Gold = 250;
            link.Publish(InternalMessages.SetField(wallet, gold, ai.Channel), Channel.StateServer);
            link.Publish(InternalMessages.DeleteObject(wallet.DoId, ai.Channel), Channel.StateServer);
            var again = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.Ok, again.Status, again.Reason);
            Assert.AreEqual(250, again.Values["Gold"], "Reactivation reads the written-through value.");

            var unknown = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, DoId.NewId(), DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.NotFound, unknown.Status);
            StringAssert.Contains(unknown.Reason, "no stored DbWallet");

            await link.FlushAsync();
            otp.Terminate();
            Assert.AreEqual(0, await otp.WaitForExitAsync(), otp.Output);
        }

        var (restarted, _, director2) = await PastryProcess.StartOtpAsync(db.ServeSettings);
        await using (restarted)
        {
            var link = await RemoteMessageRouter.ConnectAsync(director2.Address.ToString(), director2.Port);
            await using var _ = link;
            var ai = new DbTestClient(link);
            var loaded = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.Ok, loaded.Status, loaded.Reason);
            Assert.AreEqual(250, loaded.Values["Gold"]);
        }
    }

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("postgres")]
    public async Task SigkillMidStream_LosesNoAcknowledgedWrite_AndARestartServesTheLastCommittedValue(string provider)
    {
        using var db = new TempDatabase(provider);
        await using (var migrate = PastryProcess.Start(["migrate", .. db.MigrateArguments, "--app", typeof(DbWallet).Assembly.Location]))
        {
            Assert.AreEqual(0, await migrate.WaitForExitAsync(), migrate.Output);
        }

        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "stream" };
        var counter = Wallet.GetField(nameof(DbWallet.Counter));
        long maxAcked = 0, maxSent = 0;
        var (otp, _, director) = await PastryProcess.StartOtpAsync(db.ServeSettings);
        await using (otp)
        {
            var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
            var ai = new DbTestClient(link);
            Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, ai.Channel))).Status);

            // Live under this link: a link that is not privileged writes only the stored rows of its own live objects.
            Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet)).Status);

            // Stream increasing values with up to 256 in flight; note the highest acknowledged one.
            using var stop = new CancellationTokenSource();
            using var window = new SemaphoreSlim(256);
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var streaming = Task.Run(async () =>
            {
                for (long value = 1; !stop.IsCancellationRequested; value++)
                {
                    try
                    {
                        await window.WaitAsync(stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    long sent = value;
                    Volatile.Write(ref maxSent, sent);
                    var (reply, _) = await ai.SendAsync(c => DatabaseMessages.SetFields(c, Wallet, wallet.DoId, ai.Channel, (counter, sent)));
                    _ = reply.ContinueWith(
                        t =>
                        {
                            if (t.IsCompletedSuccessfully && DatabaseMessages.ReadReply(t.Result).Status == DatabaseStatus.Ok)
                            {
                                long seen;
                                while ((seen = Volatile.Read(ref maxAcked)) < sent && Interlocked.CompareExchange(ref maxAcked, sent, seen) != seen)
                                {
                                }

                                window.Release();
                                if (sent >= 3000)
                                {
                                    enough.TrySetResult();
                                }
                            }
                        },
                        TaskScheduler.Default);
                }
            });

            await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
            otp.KillHard(); // SIGKILL while the stream is still flowing
            long ackedAtKill = Volatile.Read(ref maxAcked);
            stop.Cancel();
            await streaming;
            await otp.WaitForExitAsync();
            Assert.IsTrue(ackedAtKill >= 3000);
            try
            {
                await link.DisposeAsync();
            }
            catch (IOException)
            {
                // The other end is gone.
            }
        }

        long acked = Volatile.Read(ref maxAcked);
        long stored;
        using (var connection = db.Connect())
        {
            stored = connection.ExecuteScalar<long>("SELECT \"Counter\" FROM \"DbWallet\" WHERE doid = @id", new { id = wallet.DoId.ToByteArray() });
        }

        Assert.IsTrue(stored >= acked, $"The database holds {stored}, but {acked} was acknowledged.");
        Assert.IsTrue(stored <= Volatile.Read(ref maxSent), $"The database holds {stored}, which was never sent (last sent {maxSent}).");

        var (restarted, _, director2) = await PastryProcess.StartOtpAsync(db.ServeSettings);
        await using (restarted)
        {
            var link = await RemoteMessageRouter.ConnectAsync(director2.Address.ToString(), director2.Port);
            await using var _ = link;
            var ai = new DbTestClient(link);
            var loaded = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
            Assert.AreEqual(DatabaseStatus.Ok, loaded.Status, loaded.Reason);
            Assert.AreEqual(stored, loaded.Values["Counter"], "A restart serves the last committed value.");
        }
    }
}
