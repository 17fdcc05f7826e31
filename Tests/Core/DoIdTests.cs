namespace Pastry.Tests.Core;

[TestClass]
public sealed class DoIdTests
{
    private const string Canonical = "0190a4b2-7c1e-7d3a-8f00-123456789abc";

    [TestMethod]
    public void NewId_IsAVersion7Uuid_WithTheRfcVariant()
    {
        for (int i = 0; i < 100; i++)
        {
            var id = DoId.NewId();

            Assert.AreEqual(7UL, (id.High >> 12) & 0xF, id.ToString());
            Assert.AreEqual(2UL, id.Low >> 62, id.ToString());
            Assert.AreEqual('7', id.ToString()[14]);
            Assert.IsFalse(id.IsEmpty);
        }
    }

    [TestMethod]
    public void NewId_IsStrictlyIncreasing_InOneThread()
    {
        var previous = DoId.NewId();
        for (int i = 0; i < 10_000; i++)
        {
            var next = DoId.NewId();

            Assert.IsTrue(next > previous, $"id {i}: {next} must be greater than {previous}");
            Assert.IsTrue(string.CompareOrdinal(next.ToString(), previous.ToString()) > 0, "The text form sorts the same way.");
            Assert.IsGreaterThanOrEqualTo(previous.UnixMilliseconds, next.UnixMilliseconds);
            previous = next;
        }
    }

    [TestMethod]
    public void ParseAndToString_RoundTrip()
    {
        var id = DoId.Parse(Canonical);

        Assert.AreEqual(Canonical, id.ToString());
        Assert.AreEqual(0x0190a4b27c1e7d3aUL, id.High);
        Assert.AreEqual(0x8f00123456789abcUL, id.Low);
        for (int i = 0; i < 100; i++)
        {
            var fresh = DoId.NewId();
            Assert.AreEqual(fresh, DoId.Parse(fresh.ToString()));
        }
    }

    [TestMethod]
    [DataRow("0190A4B2-7C1E-7D3A-8F00-123456789ABC", DisplayName = "upper case")]
    [DataRow("0190a4b27c1e7d3a8f00123456789abc", DisplayName = "no dashes")]
    public void Parse_AcceptsUpperCaseAndMissingDashes(string text)
    {
        Assert.AreEqual(DoId.Parse(Canonical), DoId.Parse(text));
    }

    [TestMethod]
    [DataRow(null, DisplayName = "null")]
    [DataRow("", DisplayName = "empty")]
    [DataRow("0190a4b2-7c1e-7d3a-8f00-123456789ab", DisplayName = "31 digits")]
    [DataRow("0190a4b2-7c1e-7d3a-8f00-123456789abcd", DisplayName = "33 digits")]
    [DataRow("0190a4b2-7c1e-7d3a-8f00-123456789abg", DisplayName = "not hex")]
    [DataRow("{0190a4b2-7c1e-7d3a-8f00-123456789abc}", DisplayName = "braces")]
    [DataRow(" 0190a4b2-7c1e-7d3a-8f00-123456789abc", DisplayName = "leading space")]
    [DataRow("0190a4b2-7c1e-7d3a-8f00-123456789abc\n", DisplayName = "trailing newline")]
    public void TryParse_RejectsBadText(string? text)
    {
        Assert.IsFalse(DoId.TryParse(text, out var id));
        Assert.AreEqual(DoId.Empty, id);
        if (text is not null)
        {
            var error = Assert.ThrowsExactly<FormatException>(() => DoId.Parse(text));
            StringAssert.Contains(error.Message, "32 hex digits");
        }
    }

    [TestMethod]
    public void Empty_IsAllZeros_AndTheDefault()
    {
        Assert.IsTrue(DoId.Empty.IsEmpty);
        Assert.AreEqual(default, DoId.Empty);
        Assert.AreEqual("00000000-0000-0000-0000-000000000000", DoId.Empty.ToString());
        Assert.AreEqual(DoId.Empty, DoId.Parse("00000000-0000-0000-0000-000000000000"));
        Assert.IsFalse(new DoId(0, 1).IsEmpty);
        Assert.IsTrue(DoId.Empty < new DoId(0, 1));
    }

    [TestMethod]
    public void ReadAndWrite_UseSixteenBigEndianBytes()
    {
        var id = DoId.Parse(Canonical);
        var bytes = id.ToByteArray();

        Assert.HasCount(DoId.Size, bytes);
        Assert.AreEqual("0190a4b27c1e7d3a8f00123456789abc", Wire.Hex.Format(bytes));
        Assert.AreEqual(id, DoId.Read(bytes));
    }

    [TestMethod]
    public void NewId_CarriesTheClocksMillisecond_EvenAfterManyIdsInOneMillisecond()
    {
        // Runs over several milliseconds of the clock, so that an id stuck on an old millisecond shows.
        long start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (int i = 0; i < 1_000 || DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - start < 5; i++)
        {
            long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var id = DoId.NewId();
            long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

            // The counter may borrow the next millisecond when it overflows within one, never more than that here.
            Assert.IsTrue(id.UnixMilliseconds >= before && id.UnixMilliseconds <= after + 1, $"id {i}: {id.UnixMilliseconds} outside [{before}, {after + 1}]");
        }
    }

    [TestMethod]
    public void AnIdComparedWithItself_IsNeitherLessNorGreater()
    {
        var id = new DoId(5, 6);
        var same = new DoId(5, 6);
        Assert.IsFalse(id < same);
        Assert.IsFalse(id > same);
        Assert.IsTrue(id <= same);
        Assert.IsTrue(id >= same);
        Assert.AreEqual(0, id.CompareTo(same));
    }

    [TestMethod]
    public void EqualityAndOrdering_FollowTheBytes()
    {
        var low = new DoId(1, ulong.MaxValue);
        var high = new DoId(2, 0);

        Assert.IsTrue(low < high && high > low && low <= high && high >= low && low != high);
        Assert.IsTrue(new DoId(1, 2) == new DoId(1, 2));
        Assert.AreEqual(new DoId(1, 2).GetHashCode(), new DoId(1, 2).GetHashCode());
        Assert.IsTrue(new DoId(1, 2).Equals((object)new DoId(1, 2)));
        Assert.AreEqual(-1, low.CompareTo(high));
    }
}
