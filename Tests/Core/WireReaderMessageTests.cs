using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// Each way hostile bytes fail names what was wrong, with the numbers: the message becomes the reason of the 109 eject
/// ("malformed X: ..."), so a client developer can find the bug. Also the count bound for items that take no bytes.
/// Written from mutation testing: every message could be emptied, and its numbers changed, with all tests green.
/// </summary>
[TestClass]
public sealed class WireReaderMessageTests
{
    [TestMethod]
    public void TrailingBytes_SayHowMany()
    {
        var error = Fail([1, 2, 3], static (ref WireReader r) => { r.ReadByte(); r.EnsureAtEnd(); });

        Assert.AreEqual((WireError.TrailingBytes, "2 unexpected byte(s) after the end of the message."), (error.Error, error.Message));
    }

    [TestMethod]
    public void ATruncatedRead_SaysWhatWasNeededWhere()
    {
        var error = Fail([1, 2, 3], static (ref WireReader r) => { r.ReadByte(); r.ReadInt32(); });

        Assert.AreEqual((WireError.Truncated, "Needed 4 byte(s) at offset 1, but only 2 are left."), (error.Error, error.Message));
    }

    [TestMethod]
    public void ABadBool_SaysTheByte()
    {
        var error = Fail([2], static (ref WireReader r) => r.ReadBool());

        Assert.AreEqual((WireError.InvalidValue, "A bool must be 0 or 1, got 2."), (error.Error, error.Message));
    }

    [TestMethod]
    public void DateTimeTicksOutOfRange_SayTheTicks()
    {
        var error = Fail(BitConverter.GetBytes(-1L), static (ref WireReader r) => r.ReadDateTime());

        Assert.AreEqual((WireError.InvalidValue, "DateTime ticks -1 are out of range."), (error.Error, error.Message));
    }

    [TestMethod]
    public void AVarintPast32Bits_SaysSo()
    {
        var error = Fail([0xFF, 0xFF, 0xFF, 0xFF, 0x10], static (ref WireReader r) => r.ReadVarUInt32());

        Assert.AreEqual((WireError.InvalidValue, "A varint does not fit in 32 bits."), (error.Error, error.Message));
    }

    [TestMethod]
    public void AHostileCount_SaysWhatItNeedsAndWhatIsLeft()
    {
        var error = Fail([3, 0, 0], static (ref WireReader r) => r.ReadCount(4));

        Assert.AreEqual((WireError.LengthOutOfRange, "A count of 3 needs at least 12 bytes, but only 2 are left."), (error.Error, error.Message));
    }

    [TestMethod]
    public void InvalidUtf8_SaysHowLongTheString()
    {
        var error = Fail([2, 0xC3, 0x28], static (ref WireReader r) => r.ReadString());

        Assert.AreEqual((WireError.InvalidUtf8, "A string of 2 bytes is not valid UTF-8."), (error.Error, error.Message));
    }

    [TestMethod]
    public void ACountOfItemsThatTakeNoBytes_IsBoundedByInt32MaxValue()
    {
        // 0x7FFFFFFF and 0x80000000 as varints.
        var largest = new WireReader([0xFF, 0xFF, 0xFF, 0xFF, 0x07]);
        Assert.AreEqual(int.MaxValue, largest.ReadCount(0));

        var error = Fail([0x80, 0x80, 0x80, 0x80, 0x08], static (ref WireReader r) => r.ReadCount(0));
        Assert.AreEqual(WireError.LengthOutOfRange, error.Error);
    }

    private delegate void Read(ref WireReader reader);

    private static WireFormatException Fail(byte[] input, Read read) =>
        Assert.ThrowsExactly<WireFormatException>(() =>
        {
            var reader = new WireReader(input);
            read(ref reader);
        });
}
