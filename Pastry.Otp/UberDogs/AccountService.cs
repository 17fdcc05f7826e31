namespace Pastry.Otp.UberDogs;

/// <summary>
/// Creates login accounts and checks logins against an <see cref="IAccountStore"/>. Plain logic without sockets:
/// the login UberDOG calls it and turns an <see cref="AccountStatus.Ok"/> into an established session.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The semaphore's wait handle is never used, so it holds nothing that needs disposing.")]
public sealed class AccountService
{
    /// <summary>The one message a client sees for an unknown username or a wrong password.</summary>
    public const string LoginFailedMessage = "Unknown username or wrong password.";

    private static readonly byte[] DummyHash = new byte[PasswordHasher.HashSize];

    private readonly IAccountStore store;
    private readonly AccountOptions options;
    private readonly TimeProvider time;
    private readonly byte[] dummySalt = PasswordHasher.NewSalt();
    private readonly string invalidUsernameMessage;
    private readonly string invalidPasswordMessage;
    private readonly SemaphoreSlim hashing;

    /// <summary>Runs inside the hashing lane, just before each hash (tests hold hashes here to count how many run at once).</summary>
    internal Action? HashStarting { get; set; }

    /// <summary>Creates the service.</summary>
    /// <exception cref="ArgumentException">A value in <paramref name="options"/> is out of range; the message names it.</exception>
    public AccountService(IAccountStore store, AccountOptions options, TimeProvider time)
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

        // Copy the options: a later change to the caller's object must not change rules mid-flight.
        this.options = new AccountOptions
        {
            MinUsernameLength = options.MinUsernameLength,
            MaxUsernameLength = options.MaxUsernameLength,
            MinPasswordLength = options.MinPasswordLength,
            MaxPasswordLength = options.MaxPasswordLength,
            Pbkdf2Iterations = options.Pbkdf2Iterations,
            MaxConcurrentHashes = options.MaxConcurrentHashes,
        };
        hashing = new SemaphoreSlim(options.MaxConcurrentHashes, options.MaxConcurrentHashes);
        invalidUsernameMessage =
            $"Username must be {options.MinUsernameLength}-{options.MaxUsernameLength} characters: letters, digits, '_' or '-'.";
        invalidPasswordMessage = $"Password must be {options.MinPasswordLength}-{options.MaxPasswordLength} characters.";
    }

    /// <summary>
    /// Creates an account. Surrounding spaces in the username are ignored, and a username that differs from an
    /// existing one only in case is taken.
    /// </summary>
    public async ValueTask<AccountResult> CreateAccountAsync(string username, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
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
        if (!await store.TryAddAsync(record, cancellationToken))
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
    public async ValueTask<AccountResult> LoginAsync(string username, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);

        // Refuse over-long passwords before any lookup: this bounds the work per request and depends only on the
        // input, so it reveals nothing about accounts. The minimum length is not checked here, so that raising it
        // later does not lock out existing accounts.
        if (password.Length > options.MaxPasswordLength)
        {
            return Fail(AccountStatus.InvalidPassword, LoginFailedMessage);
        }

        var record = await store.FindByUsernameAsync(username, cancellationToken);
        bool matches;
        await hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
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

        if (record is null)
        {
            return Fail(AccountStatus.UnknownAccount, LoginFailedMessage);
        }

        if (!matches)
        {
            return Fail(AccountStatus.WrongPassword, LoginFailedMessage);
        }

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

    private static AccountResult UsernameTaken() => Fail(AccountStatus.UsernameTaken, "That username is already taken.");

    /// <summary>What is wrong with the options, naming the key; null when nothing is.</summary>
    private static string? Problem(AccountOptions options) =>
        BelowMinimum(options.MinUsernameLength, 1, nameof(AccountOptions.MinUsernameLength))
        ?? BelowMinimum(options.MaxUsernameLength, options.MinUsernameLength, nameof(AccountOptions.MaxUsernameLength))
        ?? BelowMinimum(options.MinPasswordLength, 1, nameof(AccountOptions.MinPasswordLength))
        ?? BelowMinimum(options.MaxPasswordLength, options.MinPasswordLength, nameof(AccountOptions.MaxPasswordLength))
        ?? BelowMinimum(options.Pbkdf2Iterations, 1, nameof(AccountOptions.Pbkdf2Iterations))
        ?? BelowMinimum(options.MaxConcurrentHashes, 1, nameof(AccountOptions.MaxConcurrentHashes));

    private static string? BelowMinimum(int value, int minimum, string key) =>
        value < minimum ? $"AccountOptions.{key} must be at least {minimum} (was {value})." : null;
}
