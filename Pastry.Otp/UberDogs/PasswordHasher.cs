using System.Security.Cryptography;

namespace Pastry.Otp.UberDogs;

/// <summary>
/// Hashes and verifies account passwords with PBKDF2-HMAC-SHA256 and a per-account random salt. The algorithm name
/// and iteration count are stored with each hash (see <see cref="AccountRecord"/>), so the cost can be raised later
/// without breaking existing accounts.
/// </summary>
internal static class PasswordHasher
{
    /// <summary>The algorithm name stored with every hash this class produces.</summary>
    public const string Algorithm = "PBKDF2-HMAC-SHA256";

    /// <summary>Iterations used when nothing else is configured.</summary>
    public const int DefaultIterations = 100_000;

    /// <summary>Length of a salt in bytes.</summary>
    public const int SaltSize = 16;

    /// <summary>Length of a hash in bytes.</summary>
    public const int HashSize = 32;

    /// <summary>Creates a new random salt from the cryptographic random number generator.</summary>
    public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(SaltSize);

    /// <summary>Derives the <see cref="HashSize"/>-byte hash of <paramref name="password"/> with the given salt and cost.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="iterations"/> is less than 1.</exception>
    public static byte[] ComputeHash(string password, ReadOnlySpan<byte> salt, int iterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ThrowIfBadIterations(iterations);
        var hash = new byte[HashSize];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, hash, iterations, HashAlgorithmName.SHA256);
        return hash;
    }

    /// <summary>
    /// Whether <paramref name="password"/> matches a stored hash. The comparison takes the same time wherever the
    /// bytes differ, so response timing does not leak how much of a guess was right.
    /// </summary>
    /// <exception cref="NotSupportedException"><paramref name="algorithm"/> is not <see cref="Algorithm"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="iterations"/> is less than 1.</exception>
    public static bool Verify(string password, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> expectedHash, int iterations, string algorithm = Algorithm)
    {
        ArgumentNullException.ThrowIfNull(password);
        ThrowIfBadIterations(iterations);
        if (!string.Equals(algorithm, Algorithm, StringComparison.Ordinal))
        {
            // A stored hash we cannot check is a data error, not a wrong password: fail loudly.
            throw new NotSupportedException($"Password hash algorithm '{algorithm}' is not supported; expected '{Algorithm}'.");
        }

        Span<byte> actual = stackalloc byte[HashSize];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, actual, iterations, HashAlgorithmName.SHA256);

        // FixedTimeEquals returns false for a length mismatch, so a truncated or padded stored hash never matches.
        return CryptographicOperations.FixedTimeEquals(actual, expectedHash);
    }

    private static void ThrowIfBadIterations(int iterations)
    {
        if (iterations < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "PBKDF2 iterations must be at least 1.");
        }
    }
}
