using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Otp.Diagnostics;

namespace Pastry.Otp.UberDogs;

/// <summary>
/// Creates login accounts and checks logins against an <see cref="IAccountStore"/>. Plain logic without sockets:
/// the login UberDOG calls it and turns an <see cref="AccountStatus.Ok"/> into an established session.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The semaphore's wait handle is never used, so it holds nothing that needs disposing.")]
internal sealed class AccountService
{
    /// <summary>The one message a client sees for an unknown username or a wrong password.</summary>
    public const string LoginFailedMessage = "Unknown username or wrong password.";

    /// <summary>The message a client sees when the account store fails (a full disk, a read-only file).</summary>
    public const string UnavailableMessage = "The account service is unavailable right now; nothing was changed. Try again in a moment.";

    private static readonly byte[] DummyHash = new byte[PasswordHasher.HashSize];

    private readonly IAccountStore store;
    private readonly AccountOptions options;
    private readonly TimeProvider time;
    private readonly byte[] dummySalt = PasswordHasher.NewSalt();
    private readonly string invalidUsernameMessage;
    private readonly string invalidPasswordMessage;
    private readonly SemaphoreSlim hashing;
    private readonly LoginThrottle accountThrottle;
    private readonly LoginThrottle addressThrottle;
    private readonly FaultEpisode storeFaults;

    /// <summary>Runs inside the hashing lane, just before each hash (tests hold hashes here to count how many run at once).</summary>
    internal Action? HashStarting { get; set; }

    /// <summary>Creates the service.</summary>
    /// <param name="store">Where accounts live.</param>
    /// <param name="options">The rules; copied.</param>
    /// <param name="time">The clock of the login throttles.</param>
    /// <param name="logger">Where a failing store is reported, once per episode; none when null.</param>
    /// <exception cref="ArgumentException">A value in <paramref name="options"/> is out of range; the message names it.</exception>
    public AccountService(IAccountStore store, AccountOptions options, TimeProvider time, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        if (Problem(options) is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        this.store = store;
        this.time = time;
        storeFaults = new FaultEpisode(logger ?? NullLogger.Instance, "The account store", "account creations and logins are answered Unavailable");

        // Copy the options: a later change to the caller's object must not change rules mid-flight.
        this.options = new AccountOptions
        {
            MinUsernameLength = options.MinUsernameLength,
            MaxUsernameLength = options.MaxUsernameLength,
            MinPasswordLength = options.MinPasswordLength,
            MaxPasswordLength = options.MaxPasswordLength,
            Pbkdf2Iterations = options.Pbkdf2Iterations,
            MaxConcurrentHashes = options.MaxConcurrentHashes,
            FreeLoginFailuresPerAccount = options.FreeLoginFailuresPerAccount,
            FreeLoginFailuresPerAddress = options.FreeLoginFailuresPerAddress,
            FirstLoginBackOff = options.FirstLoginBackOff,
            MaxLoginBackOff = options.MaxLoginBackOff,
            LoginFailuresBeforeLockout = options.LoginFailuresBeforeLockout,
            LoginLockout = options.LoginLockout,
            MaxTrackedLoginKeys = options.MaxTrackedLoginKeys,
        };
        accountThrottle = new LoginThrottle(options.FreeLoginFailuresPerAccount, options.LoginFailuresBeforeLockout, this.options, time);
        addressThrottle = new LoginThrottle(options.FreeLoginFailuresPerAddress, options.LoginFailuresBeforeLockout * 4, this.options, time);
        hashing = new SemaphoreSlim(options.MaxConcurrentHashes, options.MaxConcurrentHashes);
        invalidUsernameMessage =
            $"Username must be {options.MinUsernameLength}-{options.MaxUsernameLength} characters: letters, digits, '_' or '-'.";
        invalidPasswordMessage = $"Password must be {options.MinPasswordLength}-{options.MaxPasswordLength} characters.";
    }

    /// <summary>
    /// Creates an account. Surrounding spaces in the username are ignored, and a username that differs from an
    /// existing one only in case is taken.
    /// </summary>
    /// <remarks>
    /// When the store fails (a full disk, a read-only file), the answer is <see cref="AccountStatus.Unavailable"/> and
    /// nothing was created; the failure is logged once per episode.
    /// </remarks>
    public async ValueTask<AccountResult> CreateAccountAsync(string username, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        try
        {
            return await CreateAccountCoreAsync(username, password, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex))
        {
            storeFaults.Failed(ex);
            return Fail(AccountStatus.Unavailable, UnavailableMessage);
        }
    }

    private async ValueTask<AccountResult> CreateAccountCoreAsync(string username, string password, CancellationToken cancellationToken)
    {
        username = username.Trim();
        if (!IsValidUsername(username))
        {
            return Fail(AccountStatus.InvalidUsername, invalidUsernameMessage);
        }

        if (password.Length < options.MinPasswordLength || password.Length > options.MaxPasswordLength)
        {
            return Fail(AccountStatus.InvalidPassword, invalidPasswordMessage);
        }

        // Cheap early answer that skips the hash; the store's atomic TryAdd below still decides races.
        if (await store.FindByUsernameAsync(username, cancellationToken) is not null)
        {
            return UsernameTaken();
        }

        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash;
        await hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            HashStarting?.Invoke();
            hash = PasswordHasher.ComputeHash(password, salt, options.Pbkdf2Iterations);
        }
        finally
        {
            hashing.Release();
        }

        var record = new AccountRecord(
            DoId.NewId(),
            username,
            salt,
            hash,
            options.Pbkdf2Iterations,
            PasswordHasher.Algorithm,
            time.GetUtcNow().UtcDateTime);
        bool added = await store.TryAddAsync(record, cancellationToken);
        storeFaults.Succeeded();
        if (!added)
        {
            return UsernameTaken();
        }

        return new AccountResult(AccountStatus.Ok, record.AccountId, "Account created.");
    }

    /// <summary>
    /// Checks a login. An unknown username and a wrong password give the client the same
    /// <see cref="LoginFailedMessage"/> and cost the same time, so neither reveals which usernames exist; their
    /// <see cref="AccountStatus"/> values differ, for the server's logs.
    /// </summary>
    public ValueTask<AccountResult> LoginAsync(string username, string password, CancellationToken cancellationToken) =>
        LoginAsync(username, password, address: null, cancellationToken);

    /// <summary>
    /// Checks a login from <paramref name="address"/> (the client's IP address, or null when unknown). Failures are
    /// counted per username and per address: beyond the free ones each attempt waits an exponential back-off, and
    /// after <see cref="AccountOptions.LoginFailuresBeforeLockout"/> the username or address is locked for
    /// <see cref="AccountOptions.LoginLockout"/>. A refused attempt answers <see cref="AccountStatus.Throttled"/> at
    /// once, without a lookup or a hash, for known and unknown usernames alike. A cancelled token (the caller has
    /// gone) stops the work before the hash.
    /// </summary>
    public async ValueTask<AccountResult> LoginAsync(string username, string password, string? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        try
        {
            return await LoginCoreAsync(username, password, address, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex))
        {
            // Not counted as a failed login: the password was never checked.
            storeFaults.Failed(ex);
            return Fail(AccountStatus.Unavailable, UnavailableMessage);
        }
    }

    private async ValueTask<AccountResult> LoginCoreAsync(string username, string password, string? address, CancellationToken cancellationToken)
    {

        // Refuse over-long passwords before any lookup: this bounds the work per request and depends only on the
        // input, so it reveals nothing about accounts. The minimum length is not checked here, so that raising it
        // later does not lock out existing accounts.
        if (password.Length > options.MaxPasswordLength)
        {
            return Fail(AccountStatus.LoginFailed, LoginFailedMessage);
        }

        string accountKey = AccountRecord.NormalizeUsername(username);
        string? addressKey = address;
        var wait = accountThrottle.WaitFor(accountKey);
        if (addressKey is not null)
        {
            var addressWait = addressThrottle.WaitFor(addressKey);
            wait = addressWait > wait ? addressWait : wait;
        }

        if (wait > TimeSpan.Zero)
        {
            return Fail(AccountStatus.Throttled, $"Too many failed logins; try again in {Math.Ceiling(wait.TotalSeconds):0} s.");
        }

        var record = await store.FindByUsernameAsync(username, cancellationToken);
        storeFaults.Succeeded();
        bool matches;
        await hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The caller may have gone while this login waited for its turn: then nothing is hashed for it.
            cancellationToken.ThrowIfCancellationRequested();
            HashStarting?.Invoke();

            // An unknown username spends one PBKDF2 computation against a dummy salt anyway, so that it answers as
            // slowly as a wrong password and response timing does not reveal which usernames exist.
            if (record is null)
            {
                _ = PasswordHasher.Verify(password, dummySalt, DummyHash, options.Pbkdf2Iterations);
                matches = false;
            }
            else
            {
                matches = PasswordHasher.Verify(password, record.Salt, record.PasswordHash, record.Iterations, record.Algorithm);
            }
        }
        finally
        {
            hashing.Release();
        }

        if (record is null || !matches)
        {
            accountThrottle.Failed(accountKey);
            if (addressKey is not null)
            {
                addressThrottle.Failed(addressKey);
            }

            return Fail(record is null ? AccountStatus.UnknownAccount : AccountStatus.WrongPassword, LoginFailedMessage);
        }

        // A success forgets the username's failures; the address's stay, so that one good account behind an address
        // does not reset a spray of guesses at others.
        accountThrottle.Succeeded(accountKey);
        return new AccountResult(AccountStatus.Ok, record.AccountId, "Logged in.");
    }

    private bool IsValidUsername(string username)
    {
        if (username.Length < options.MinUsernameLength || username.Length > options.MaxUsernameLength)
        {
            return false;
        }

        foreach (char c in username)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    private static AccountResult Fail(AccountStatus status, string message) => new(status, DoId.Empty, message);

    /// <summary>
    /// Whether <paramref name="ex"/> is the store failing (SQLite and other ADO.NET errors, I/O, a damaged file), as
    /// opposed to a cancelled caller or a bug, which propagate.
    /// </summary>
    private static bool IsStoreFailure(Exception ex) =>
        ex is System.Data.Common.DbException or IOException or UnauthorizedAccessException or TimeoutException or Database.DatabaseException;

    private static AccountResult UsernameTaken() => Fail(AccountStatus.UsernameTaken, "That username is already taken.");

    /// <summary>What is wrong with the options, naming the key; null when nothing is.</summary>
    private static string? Problem(AccountOptions options) =>
        BelowMinimum(options.MinUsernameLength, 1, nameof(AccountOptions.MinUsernameLength))
        ?? BelowMinimum(options.MaxUsernameLength, options.MinUsernameLength, nameof(AccountOptions.MaxUsernameLength))
        ?? BelowMinimum(options.MinPasswordLength, 1, nameof(AccountOptions.MinPasswordLength))
        ?? BelowMinimum(options.MaxPasswordLength, options.MinPasswordLength, nameof(AccountOptions.MaxPasswordLength))
        ?? BelowMinimum(options.Pbkdf2Iterations, 1, nameof(AccountOptions.Pbkdf2Iterations))
        ?? BelowMinimum(options.MaxConcurrentHashes, 1, nameof(AccountOptions.MaxConcurrentHashes))
        ?? AboveMaximum(options.MaxUsernameLength, LoginManager.MaxUsernameLength, nameof(AccountOptions.MaxUsernameLength))
        ?? AboveMaximum(options.MaxPasswordLength, LoginManager.MaxPasswordLength, nameof(AccountOptions.MaxPasswordLength))
        ?? BelowMinimum(options.FreeLoginFailuresPerAccount, 0, nameof(AccountOptions.FreeLoginFailuresPerAccount))
        ?? BelowMinimum(options.FreeLoginFailuresPerAddress, 0, nameof(AccountOptions.FreeLoginFailuresPerAddress))
        ?? BelowMinimum(options.LoginFailuresBeforeLockout, 1, nameof(AccountOptions.LoginFailuresBeforeLockout))
        ?? BelowMinimum(options.MaxTrackedLoginKeys, 16, nameof(AccountOptions.MaxTrackedLoginKeys))
        ?? (options.FirstLoginBackOff <= TimeSpan.Zero || options.MaxLoginBackOff < options.FirstLoginBackOff || options.LoginLockout < options.MaxLoginBackOff
            ? "AccountOptions.FirstLoginBackOff must be positive, MaxLoginBackOff at least FirstLoginBackOff, and LoginLockout at least MaxLoginBackOff."
            : null);

    private static string? AboveMaximum(int value, int maximum, string key) =>
        value > maximum ? $"AccountOptions.{key} must be at most {maximum}, the longest the login protocol carries (was {value})." : null;

    private static string? BelowMinimum(int value, int minimum, string key) =>
        value < minimum ? $"AccountOptions.{key} must be at least {minimum} (was {value})." : null;
}
