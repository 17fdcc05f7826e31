using Pastry.Otp.UberDogs;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class PasswordHasherTests
{
    private const int Iterations = 1_000;

    [TestMethod]
    public void Verify_RightPassword_Succeeds()
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash("correct horse", salt, Iterations);

        Assert.IsTrue(PasswordHasher.Verify("correct horse", salt, hash, Iterations));
    }

    [TestMethod]
    public void Verify_WrongPassword_Fails()
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash("correct horse", salt, Iterations);

        Assert.IsFalse(PasswordHasher.Verify("correct horsf", salt, hash, Iterations));
        Assert.IsFalse(PasswordHasher.Verify("Correct horse", salt, hash, Iterations));
    }

    [TestMethod]
    public void Verify_WithOtherIterationCount_Fails()
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash("correct horse", salt, Iterations);

        Assert.IsFalse(PasswordHasher.Verify("correct horse", salt, hash, Iterations + 1));
    }

    [TestMethod]
    public void ComputeHash_HasFixedSizes()
    {
        byte[] salt = PasswordHasher.NewSalt();

        Assert.HasCount(16, salt);
        Assert.HasCount(32, PasswordHasher.ComputeHash("pw", salt, Iterations));
    }

    [TestMethod]
    public void SamePassword_WithFreshSalts_GivesDifferentSaltsAndHashes()
    {
        byte[] salt1 = PasswordHasher.NewSalt();
        byte[] salt2 = PasswordHasher.NewSalt();
        byte[] hash1 = PasswordHasher.ComputeHash("same password", salt1, Iterations);
        byte[] hash2 = PasswordHasher.ComputeHash("same password", salt2, Iterations);

        CollectionAssert.AreNotEqual(salt1, salt2);
        CollectionAssert.AreNotEqual(hash1, hash2);
    }

    [TestMethod]
    public void SamePassword_SameSalt_GivesSameHash()
    {
        byte[] salt = PasswordHasher.NewSalt();

        CollectionAssert.AreEqual(
            PasswordHasher.ComputeHash("same password", salt, Iterations),
            PasswordHasher.ComputeHash("same password", salt, Iterations));
    }

    [TestMethod]
    public void Verify_TamperedHash_Fails()
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash("correct horse", salt, Iterations);

        byte[] flipped = (byte[])hash.Clone();
        flipped[^1] ^= 0x01;
        Assert.IsFalse(PasswordHasher.Verify("correct horse", salt, flipped, Iterations));

        Assert.IsFalse(PasswordHasher.Verify("correct horse", salt, hash.AsSpan(0, hash.Length - 1), Iterations), "truncated hash");
        Assert.IsFalse(PasswordHasher.Verify("correct horse", salt, [.. hash, 0], Iterations), "padded hash");
    }

    [TestMethod]
    public void Verify_TamperedSalt_Fails()
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash("correct horse", salt, Iterations);
        salt[0] ^= 0x80;

        Assert.IsFalse(PasswordHasher.Verify("correct horse", salt, hash, Iterations));
    }

    [TestMethod]
    public void Verify_UnknownAlgorithm_ThrowsNamingIt()
    {
        byte[] salt = PasswordHasher.NewSalt();
        byte[] hash = PasswordHasher.ComputeHash("correct horse", salt, Iterations);

        var error = Assert.ThrowsExactly<NotSupportedException>(
            () => PasswordHasher.Verify("correct horse", salt, hash, Iterations, "MD5"));
        StringAssert.Contains(error.Message, "MD5");
    }

    [TestMethod]
    public void ComputeHash_ZeroIterations_Throws()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => PasswordHasher.ComputeHash("pw", PasswordHasher.NewSalt(), 0));
    }
}
