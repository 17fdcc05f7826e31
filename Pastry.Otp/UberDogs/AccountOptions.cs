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
}
