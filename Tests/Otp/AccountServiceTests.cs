using Pastry.Otp.UberDogs;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class AccountServiceTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 14, 15, 9, 26, TimeSpan.Zero);

    private InMemoryAccountStore store = null!;
    private AccountService service = null!;

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Token => TestContext.CancellationToken;

    [TestInitialize]
    public void Initialize()
    {
        store = new InMemoryAccountStore();
        service = new AccountService(store, new AccountOptions { Pbkdf2Iterations = 1_000 }, new FixedTimeProvider(Now));
    }

    [TestMethod]
    public async Task CreateAccount_ValidInput_StoresSaltedHash_NotThePassword()
    {
        var result = await service.CreateAccountAsync("Ann_the-Brave", "hunter22", Token);

        Assert.AreEqual(AccountStatus.Ok, result.Status);
        Assert.IsTrue(result.IsOk);
        Assert.IsFalse(result.AccountId.IsEmpty);
        Assert.IsFalse(string.IsNullOrEmpty(result.Message));

        var record = await store.FindByUsernameAsync("ann_the-brave", Token);
        Assert.IsNotNull(record);
        Assert.AreEqual(result.AccountId, record.AccountId);
        Assert.AreEqual("Ann_the-Brave", record.Username);
        Assert.AreEqual(PasswordHasher.Algorithm, record.Algorithm);
        Assert.AreEqual(1_000, record.Iterations);
        Assert.HasCount(PasswordHasher.SaltSize, record.Salt);
        Assert.HasCount(PasswordHasher.HashSize, record.PasswordHash);
        Assert.AreEqual(Now.UtcDateTime, record.CreatedUtc);
        Assert.AreEqual(DateTimeKind.Utc, record.CreatedUtc.Kind);
        Assert.IsTrue(PasswordHasher.Verify("hunter22", record.Salt, record.PasswordHash, record.Iterations, record.Algorithm));
    }

    [TestMethod]
    public async Task CreateAccount_SurroundingSpaces_AreTrimmed()
    {
        var result = await service.CreateAccountAsync("  Ann  ", "hunter22", Token);

        Assert.AreEqual(AccountStatus.Ok, result.Status);
        Assert.AreEqual("Ann", (await store.FindByUsernameAsync("ann", Token))!.Username);
    }

    [TestMethod]
    [DataRow("ann")]
    [DataRow("ANN")]
    [DataRow(" Ann ")]
    public async Task CreateAccount_DuplicateUsername_AnyCase_IsUsernameTaken(string second)
    {
        var first = await service.CreateAccountAsync("Ann", "hunter22", Token);
        var duplicate = await service.CreateAccountAsync(second, "different-password", Token);

        Assert.AreEqual(AccountStatus.Ok, first.Status);
        Assert.AreEqual(AccountStatus.UsernameTaken, duplicate.Status);
        Assert.AreEqual(DoId.Empty, duplicate.AccountId);
        Assert.IsFalse(string.IsNullOrEmpty(duplicate.Message));
        Assert.AreEqual(1, store.Count);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("ab")]
    [DataRow("abcdefghijklmnopqrstuvwxy")]
    [DataRow("ann smith")]
    [DataRow("ann!")]
    [DataRow("ann.smith")]
    [DataRow("änn")]
    public async Task CreateAccount_InvalidUsername_Fails_WithTheRule(string username)
    {
        var result = await service.CreateAccountAsync(username, "hunter22", Token);

        Assert.AreEqual(AccountStatus.InvalidUsername, result.Status);
        Assert.AreEqual(DoId.Empty, result.AccountId);
        Assert.AreEqual("Username must be 3-24 characters: letters, digits, '_' or '-'.", result.Message);
        Assert.AreEqual(0, store.Count);
    }

    [TestMethod]
    [DataRow("abc")]
    [DataRow("abcdefghijklmnopqrstuvwx")]
    [DataRow("A-1_z")]
    public async Task CreateAccount_UsernameAtTheLimits_Succeeds(string username)
    {
        Assert.AreEqual(AccountStatus.Ok, (await service.CreateAccountAsync(username, "hunter22", Token)).Status);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(7)]
    [DataRow(129)]
    public async Task CreateAccount_InvalidPasswordLength_Fails_WithTheRule(int length)
    {
        var result = await service.CreateAccountAsync("Ann", new string('x', length), Token);

        Assert.AreEqual(AccountStatus.InvalidPassword, result.Status);
        Assert.AreEqual("Password must be 8-128 characters.", result.Message);
        Assert.AreEqual(0, store.Count);
    }

    [TestMethod]
    [DataRow(8)]
    [DataRow(128)]
    public async Task CreateAccount_PasswordAtTheLimits_Succeeds(int length)
    {
        Assert.AreEqual(AccountStatus.Ok, (await service.CreateAccountAsync("Ann", new string('x', length), Token)).Status);
    }

    [TestMethod]
    public async Task Login_RightPassword_ReturnsTheCreatedAccountId()
    {
        var created = await service.CreateAccountAsync("Ann", "hunter22", Token);

        var login = await service.LoginAsync("Ann", "hunter22", Token);

        Assert.AreEqual(AccountStatus.Ok, login.Status);
        Assert.AreEqual(created.AccountId, login.AccountId);
        Assert.IsFalse(string.IsNullOrEmpty(login.Message));
    }

    [TestMethod]
    public async Task Login_UsernameInOtherCase_Succeeds()
    {
        var created = await service.CreateAccountAsync("Ann", "hunter22", Token);

        var login = await service.LoginAsync(" aNN ", "hunter22", Token);

        Assert.AreEqual(AccountStatus.Ok, login.Status);
        Assert.AreEqual(created.AccountId, login.AccountId);
    }

    [TestMethod]
    public async Task Login_WrongPassword_Fails_WithGenericMessage()
    {
        await service.CreateAccountAsync("Ann", "hunter22", Token);

        var login = await service.LoginAsync("Ann", "hunter23", Token);

        Assert.AreEqual(AccountStatus.WrongPassword, login.Status);
        Assert.AreEqual(DoId.Empty, login.AccountId);
        Assert.AreEqual(AccountService.LoginFailedMessage, login.Message);
    }

    [TestMethod]
    public async Task Login_UnknownUser_Fails_WithTheSameMessageAsWrongPassword()
    {
        await service.CreateAccountAsync("Ann", "hunter22", Token);

        var unknown = await service.LoginAsync("Bob", "hunter22", Token);
        var wrong = await service.LoginAsync("Ann", "hunter23", Token);

        Assert.AreEqual(AccountStatus.UnknownAccount, unknown.Status);
        Assert.AreEqual(DoId.Empty, unknown.AccountId);
        Assert.AreEqual(wrong.Message, unknown.Message);
        Assert.AreNotEqual(wrong.Status, unknown.Status, "The log tells them apart");
        Assert.AreEqual(wrong.ClientStatus, unknown.ClientStatus, "the client cannot");
    }

    [TestMethod]
    public async Task Login_OverlongPassword_Fails_WithGenericMessage()
    {
        await service.CreateAccountAsync("Ann", "hunter22", Token);

        var login = await service.LoginAsync("Ann", new string('x', 129), Token);

        Assert.AreEqual(AccountStatus.LoginFailed, login.Status);
        Assert.AreEqual(AccountService.LoginFailedMessage, login.Message);
    }

    [TestMethod]
    public async Task Login_AfterIterationsAreRaised_StillAcceptsOldHashes()
    {
        var created = await service.CreateAccountAsync("Ann", "hunter22", Token);
        var raised = new AccountService(store, new AccountOptions { Pbkdf2Iterations = 2_000 }, TimeProvider.System);

        var login = await raised.LoginAsync("Ann", "hunter22", Token);

        Assert.AreEqual(AccountStatus.Ok, login.Status);
        Assert.AreEqual(created.AccountId, login.AccountId);
    }

    [TestMethod]
    public async Task CreateAccount_SameUsernameFromManyTasks_ExactlyOneSucceeds()
    {
        const int Attempts = 32;
        var results = await Task.WhenAll(Enumerable.Range(0, Attempts).Select(i => Task.Run(
            async () => await service.CreateAccountAsync(i % 2 == 0 ? "Racer" : "racer", $"password-{i}", Token),
            Token)));

        Assert.AreEqual(1, results.Count(r => r.Status == AccountStatus.Ok));
        Assert.AreEqual(Attempts - 1, results.Count(r => r.Status == AccountStatus.UsernameTaken));
        Assert.AreEqual(1, store.Count);

        var winner = results.Single(r => r.IsOk);
        Assert.AreEqual(winner.AccountId, (await store.FindByUsernameAsync("RACER", Token))!.AccountId);
    }

    [TestMethod]
    public async Task Store_TryAdd_SameUsernameConcurrently_ExactlyOneWins()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(
            async () => await store.TryAddAsync(Record(i % 2 == 0 ? "Racer" : " RACER"), Token),
            Token)));

        Assert.AreEqual(1, results.Count(added => added));
        Assert.AreEqual(1, store.Count);
    }

    [TestMethod]
    public async Task Store_Find_UnknownUsername_ReturnsNull()
    {
        Assert.IsNull(await store.FindByUsernameAsync("nobody", Token));
    }

    [TestMethod]
    public async Task Store_CancelledToken_Throws()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(async () => await store.TryAddAsync(Record("Ann"), cancelled.Token));
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await service.LoginAsync("Ann", "hunter22", cancelled.Token));
    }

    [TestMethod]
    public void AccountOptions_Defaults_MatchTheDocumentedRules()
    {
        var options = new AccountOptions();

        Assert.AreEqual((3, 24, 8, 128, 100_000), (options.MinUsernameLength, options.MaxUsernameLength, options.MinPasswordLength, options.MaxPasswordLength, options.Pbkdf2Iterations));
    }

    [TestMethod]
    [DataRow(0, 24, 8, 128, 1000, "MinUsernameLength")]
    [DataRow(5, 4, 8, 128, 1000, "MaxUsernameLength")]
    [DataRow(3, 24, 0, 128, 1000, "MinPasswordLength")]
    [DataRow(3, 24, 8, 7, 1000, "MaxPasswordLength")]
    [DataRow(3, 24, 8, 128, 0, "Pbkdf2Iterations")]
    public void Constructor_BadOptions_ThrowsNamingTheKey(int minUser, int maxUser, int minPassword, int maxPassword, int iterations, string key)
    {
        var options = new AccountOptions
        {
            MinUsernameLength = minUser,
            MaxUsernameLength = maxUser,
            MinPasswordLength = minPassword,
            MaxPasswordLength = maxPassword,
            Pbkdf2Iterations = iterations,
        };

        var error = Assert.ThrowsExactly<ArgumentException>(() => new AccountService(store, options, TimeProvider.System));
        StringAssert.Contains(error.Message, "AccountOptions." + key);
    }

    [TestMethod]
    public void Constructor_NoConcurrentHashes_ThrowsNamingTheKey()
    {
        var options = new AccountOptions { MaxConcurrentHashes = 0 };

        var error = Assert.ThrowsExactly<ArgumentException>(() => new AccountService(store, options, TimeProvider.System));
        StringAssert.Contains(error.Message, "AccountOptions.MaxConcurrentHashes");
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public async Task Login_ManyAtOnce_RunAtMostMaxConcurrentHashes_AtOnce_AndAllSucceed(int lanes)
    {
        const int Logins = 6;
        var limited = new AccountService(store, new AccountOptions { Pbkdf2Iterations = 1_000, MaxConcurrentHashes = lanes }, TimeProvider.System);
        for (int i = 0; i < Logins; i++)
        {
            Assert.AreEqual(AccountStatus.Ok, (await limited.CreateAccountAsync($"user{i}", "hunter22", Token)).Status);
        }

        // Each hash waits inside the lane until the test lets one go, so the hashes that are running pile up here.
        int inside = 0;
        int peak = 0;
        using var release = new SemaphoreSlim(0);
        var entered = System.Threading.Channels.Channel.CreateUnbounded<int>();
        limited.HashStarting = () =>
        {
            int now = Interlocked.Increment(ref inside);
            InterlockedMax(ref peak, now);
            entered.Writer.TryWrite(now);
            release.Wait(Token);
            Interlocked.Decrement(ref inside);
        };

        var logins = Enumerable.Range(0, Logins).Select(i => Task.Run(async () => await limited.LoginAsync($"user{i}", "hunter22", Token), Token)).ToArray();
        for (int i = 0; i < lanes; i++)
        {
            await entered.Reader.ReadAsync(Token).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Token);
        }

        // Let the hashes finish one at a time: each one that leaves lets exactly one waiting login in.
        for (int i = 0; i < Logins; i++)
        {
            release.Release();
            if (i + lanes < Logins)
            {
                await entered.Reader.ReadAsync(Token).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Token);
            }
        }

        var results = await Task.WhenAll(logins).WaitAsync(TimeSpan.FromSeconds(30), Token);
        Assert.AreEqual(lanes, peak, $"At most {lanes} hash(es) ran at once, and the lane was full while logins waited.");
        Assert.IsTrue(results.All(r => r.Status == AccountStatus.Ok));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static AccountRecord Record(string username) =>
        new(DoId.NewId(), username, PasswordHasher.NewSalt(), new byte[PasswordHasher.HashSize], 1, PasswordHasher.Algorithm, DateTime.UtcNow);

    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
