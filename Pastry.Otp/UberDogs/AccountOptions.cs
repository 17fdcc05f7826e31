namespace Pastry.Otp.UberDogs;

/// <summary>Rules for usernames and passwords, and the password hashing cost. Bound from <c>pastry.json</c>.</summary>
public sealed class AccountOptions
{
    /// <summary>Shortest allowed username. Usernames may use letters, digits, '_' and '-'.</summary>
    public int MinUsernameLength { get; set; } = 3;

    /// <summary>Longest allowed username.</summary>
    public int MaxUsernameLength { get; set; } = 24;

    /// <summary>Shortest allowed password.</summary>
    public int MinPasswordLength { get; set; } = 8;

    /// <summary>Longest allowed password; also bounds the work a login request can cause.</summary>
    public int MaxPasswordLength { get; set; } = 128;

    /// <summary>PBKDF2 iterations for new hashes. Existing accounts keep the count they were hashed with.</summary>
    public int Pbkdf2Iterations { get; set; } = PasswordHasher.DefaultIterations;

    /// <summary>
    /// Password hashes computed at once; further logins wait their turn. Half the cores by default, so that a burst of
    /// logins (tens of milliseconds each at the default cost) leaves the rest of the server threads and CPU.
    /// </summary>
    public int MaxConcurrentHashes { get; set; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>
    /// Failed logins for one username that are answered at once; after that each further attempt must wait a back-off
    /// that doubles with every failure, from <see cref="FirstLoginBackOff"/> up to <see cref="MaxLoginBackOff"/>. Default: 5.
    /// </summary>
    public int FreeLoginFailuresPerAccount { get; set; } = 5;

    /// <summary>
    /// Failed logins from one IP address (any usernames) before the same back-off applies to the address. Higher than
    /// the per-account count because players behind one NAT share an address. Default: 20.
    /// </summary>
    public int FreeLoginFailuresPerAddress { get; set; } = 20;

    /// <summary>The wait after the first failure beyond the free ones; it doubles with each further failure. Default: 1 s.</summary>
    public TimeSpan FirstLoginBackOff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest back-off between two attempts before the lockout. Default: 60 s.</summary>
    public TimeSpan MaxLoginBackOff { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Failed logins (for one username, or from one address: four times this) that lock it for
    /// <see cref="LoginLockout"/>; a lock refuses every attempt without checking the password. Default: 20.
    /// </summary>
    public int LoginFailuresBeforeLockout { get; set; } = 20;

    /// <summary>
    /// How long a lockout lasts, and how long a username or address must stay quiet before its failures are
    /// forgotten. Default: 15 minutes.
    /// </summary>
    public TimeSpan LoginLockout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Usernames and addresses whose failures are remembered at once; beyond it the quietest are forgotten first, so
    /// that a spray of made-up usernames costs bounded memory. Default: 100000.
    /// </summary>
    public int MaxTrackedLoginKeys { get; set; } = 100_000;
}
