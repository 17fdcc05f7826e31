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
}
