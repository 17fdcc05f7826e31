using Pastry.Otp.Database;
using Pastry.Otp.UberDogs;

namespace Pastry.Tests.Database;

[TestClass]
public sealed class DatabaseAccountStoreTests
{
    [TestMethod]
    public async Task Accounts_AreStoredInSqlite_SurviveReopening_AndUsernamesStayUnique()
    {
        using var db = new TempDatabase();
        db.Migrate(TempDatabase.Registry());
        var options = new AccountOptions { Pbkdf2Iterations = 1_000 };
        using (var store = new DatabaseAccountStore(new DatabaseOptions { Path = db.Path }))
        {
            var accounts = new AccountService(store, options, TimeProvider.System);
            Assert.AreEqual(AccountStatus.Ok, (await accounts.CreateAccountAsync("Ann", "password1", CancellationToken.None)).Status);
            Assert.AreEqual(AccountStatus.UsernameTaken, (await accounts.CreateAccountAsync(" ann ", "password2", CancellationToken.None)).Status);

            // Concurrent creates of one name: exactly one wins (the UNIQUE column decides).
            var racers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () => (await accounts.CreateAccountAsync("Bob", "password1", CancellationToken.None)).Status)));
            Assert.AreEqual(1, racers.Count(s => s == AccountStatus.Ok));
        }

        using (var reopened = new DatabaseAccountStore(new DatabaseOptions { Path = db.Path }))
        {
            var accounts = new AccountService(reopened, options, TimeProvider.System);
            Assert.AreEqual(AccountStatus.Ok, (await accounts.LoginAsync("ANN", "password1", CancellationToken.None)).Status);
            Assert.AreEqual(AccountStatus.WrongPassword, (await accounts.LoginAsync("ann", "password2", CancellationToken.None)).Status);
            var record = await reopened.FindByUsernameAsync("ann", CancellationToken.None);
            Assert.AreEqual("Ann", record!.Username);
            Assert.AreEqual(DateTimeKind.Utc, record.CreatedUtc.Kind);
        }
    }
}
