namespace Pastry.Otp.UberDogs;

/// <summary>
/// A stored login account. The password is kept only as a salted PBKDF2 hash, together with the algorithm and
/// iteration count that produced it.
/// </summary>
/// <param name="AccountId">The account's id, made with <see cref="DoId.NewId"/> when the account is created.</param>
/// <param name="Username">The username as the player chose it (trimmed); lookups use <see cref="NormalizeUsername"/>.</param>
/// <param name="Salt">The account's random salt (<see cref="PasswordHasher.SaltSize"/> bytes).</param>
/// <param name="PasswordHash">The PBKDF2 hash of the password (<see cref="PasswordHasher.HashSize"/> bytes).</param>
/// <param name="Iterations">The PBKDF2 iteration count the hash was made with.</param>
/// <param name="Algorithm">The hash algorithm name, normally <see cref="PasswordHasher.Algorithm"/>.</param>
/// <param name="CreatedUtc">When the account was created, in UTC.</param>
public sealed record AccountRecord(
    DoId AccountId,
    string Username,
    byte[] Salt,
    byte[] PasswordHash,
    int Iterations,
    string Algorithm,
    DateTime CreatedUtc)
{
    /// <summary>
    /// The key that stores index usernames by, so that "Ann" and " ann" name the same account: trimmed, then
    /// lower-cased with the invariant culture.
    /// </summary>
    public static string NormalizeUsername(string username)
    {
        ArgumentNullException.ThrowIfNull(username);
        return username.Trim().ToLowerInvariant();
    }
}
