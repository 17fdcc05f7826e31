using Dapper;
using Microsoft.Data.Sqlite;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.Database;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Database;

/// <summary><c>pastry backup</c>: an online copy of a database that a real server is writing to.</summary>
[TestClass]
public sealed class BackupTests
{
    private static readonly ModelRegistry AppRegistry = ModelRegistry.FromAssemblies(typeof(DbWallet).Assembly);
    private static readonly ModelInfo Wallet = AppRegistry.GetModel<DbWallet>();

    [TestMethod]
    public async Task BackupDuringWrites_HoldsEveryWriteAcknowledgedBeforeIt_AndPassesItsCheck_WhileTheServerKeepsWriting()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        string copy = Path.Combine(Path.GetDirectoryName(db.Path)!, "copy.db");
        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path);
        await using (otp)
        {
            await using var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
            var ai = new DbTestClient(link);

            // Create wallets w1, w2, ... with Gold = n and up to 64 in flight; count the acknowledged ones.
            using var stop = new CancellationTokenSource();
            using var window = new SemaphoreSlim(64);
            long acked = 0, sent = 0;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            long target = 500;
            var writing = Task.Run(async () =>
            {
                for (int n = 1; !stop.IsCancellationRequested; n++)
                {
                    try
                    {
                        await window.WaitAsync(stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    var wallet = new DbWallet { DoId = DoId.NewId(), Holder = $"w{n}", Gold = n };
                    Interlocked.Increment(ref sent);
                    var (reply, _) = await ai.SendAsync(c => DatabaseMessages.CreateObject(c, wallet, ai.Channel));
                    _ = reply.ContinueWith(
                        t =>
                        {
                            window.Release();
                            if (t.IsCompletedSuccessfully && DatabaseMessages.ReadReply(t.Result).Status == DatabaseStatus.Ok && Interlocked.Increment(ref acked) >= Volatile.Read(ref target))
                            {
                                reached.TrySetResult();
                            }
                        },
                        TaskScheduler.Default);
                }
            });

            await reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
            long ackedBefore = Interlocked.Read(ref acked);
            await using (var backup = PastryProcess.Start("backup", copy, "--db", db.Path))
            {
                Assert.AreEqual(0, await backup.WaitForExitAsync(), backup.Output);
                StringAssert.Contains(backup.Output, "integrity ok");
            }

            // The server kept acknowledging writes after the backup: it was never stopped or blocked for good.
            long ackedAfterBackup = Interlocked.Read(ref acked);
            var more = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            reached = more;
            Volatile.Write(ref target, ackedAfterBackup + 200);
            await more.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await stop.CancelAsync();
            await writing;

            using var connection = new SqliteConnection($"Data Source={copy};Mode=ReadOnly;Pooling=False");
            connection.Open();
            SqliteDatabase.RegisterCollations(connection);
            Assert.AreEqual("ok", connection.ExecuteScalar<string>("PRAGMA integrity_check"));
            Assert.AreEqual("delete", connection.ExecuteScalar<string>("PRAGMA journal_mode"), "A backup is one self-contained file.");
            var rows = connection.Query<(string Holder, long Gold)>("SELECT Holder, Gold FROM DbWallet").ToList();
            Assert.IsTrue(rows.Count >= ackedBefore, $"The backup holds {rows.Count} wallets, but {ackedBefore} were acknowledged before it began.");
            Assert.IsTrue(rows.Count <= Interlocked.Read(ref sent), $"The backup holds {rows.Count} wallets, more than were ever sent.");
            foreach (var (holder, gold) in rows)
            {
                Assert.AreEqual($"w{gold}", holder, "Every row in the copy is whole: its fields were written together.");
            }

            Assert.IsFalse(File.Exists(copy + ".partial"), "The partial file took the backup's name.");
        }
    }

    [TestMethod]
    public async Task Backup_OnPostgres_IsRefusedWithExit2_AndSaysToUsePgDump_WithTheCommand()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"pastry-pg-{Guid.NewGuid():N}.dump");
        await using var refused = PastryProcess.Start("backup", copy, "--provider", "postgres");

        Assert.AreEqual(2, await refused.WaitForExitAsync(), refused.Output);
        StringAssert.Contains(refused.Output, "on PostgreSQL use pg_dump");
        StringAssert.Contains(refused.Output, $"pg_dump --format=custom --file={copy}");
        StringAssert.Contains(refused.Output, "pg_restore");
        Assert.IsFalse(File.Exists(copy), "Nothing is written.");
    }

    [TestMethod]
    public async Task Backup_RefusesAnExistingFileWithoutForce_AndTheDatabaseItself_AndAMissingDatabase()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        string copy = Path.Combine(Path.GetDirectoryName(db.Path)!, "copy.db");
        await File.WriteAllTextAsync(copy, "not mine to replace");

        await using (var refused = PastryProcess.Start("backup", copy, "--db", db.Path))
        {
            Assert.AreEqual(2, await refused.WaitForExitAsync(), refused.Output);
            StringAssert.Contains(refused.Output, "already exists");
        }

        Assert.AreEqual("not mine to replace", await File.ReadAllTextAsync(copy), "A refused backup leaves the file alone.");

        await using (var forced = PastryProcess.Start("backup", copy, "--db", db.Path, "--force"))
        {
            Assert.AreEqual(0, await forced.WaitForExitAsync(), forced.Output);
        }

        using (var connection = new SqliteConnection($"Data Source={copy};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            Assert.AreEqual(1L, connection.ExecuteScalar<long>("SELECT count(*) FROM sqlite_master WHERE name = 'DbWallet'"));
        }

        var itself = Assert.ThrowsExactly<DatabaseException>(() => DatabaseBackup.Run(db.Path, db.Path, overwrite: true));
        Assert.AreEqual(DatabaseError.BackupFailed, itself.Error);
        StringAssert.Contains(itself.Message, "is the database itself");

        var missing = Assert.ThrowsExactly<DatabaseException>(() => DatabaseBackup.Run(db.Path + ".nope", copy, overwrite: true));
        Assert.AreEqual(DatabaseError.Missing, missing.Error);

        var noFolder = Assert.ThrowsExactly<DatabaseException>(() => DatabaseBackup.Run(db.Path, Path.Combine(Path.GetDirectoryName(db.Path)!, "no", "such", "copy.db"), overwrite: false));
        StringAssert.Contains(noFolder.Message, "does not exist");
    }
}
