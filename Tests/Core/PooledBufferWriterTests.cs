using System.Buffers.Binary;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The pooled writer every frame is built in: its capacity rules (what it rents, when it grows, what it keeps after a
/// huge message), its bounds checks, and the frame helpers that patch a length or a header afterwards.
/// </summary>
[TestClass]
public sealed class PooledBufferWriterTests
{
    [TestMethod]
    public void ItRentsAtLeastTheInitialCapacity_AndNeverLessThan16()
    {
        using var large = new PooledBufferWriter(1000);
        Assert.IsGreaterThanOrEqualTo(1000, large.Capacity);
        using var tiny = new PooledBufferWriter(1);
        Assert.IsGreaterThanOrEqualTo(16, tiny.Capacity);
    }

    [TestMethod]
    public void ItGrowsOnlyWhenTheHintDoesNotFit_AndKeepsWhatWasWritten()
    {
        using var writer = new PooledBufferWriter(256);
        int capacity = writer.Capacity;
        writer.GetSpan(capacity - 6).Slice(0, capacity - 6).Fill(7);
        writer.Advance(capacity - 6);
        Assert.IsGreaterThanOrEqualTo(6, writer.GetSpan(6).Length);
        Assert.AreEqual(capacity, writer.Capacity, "exactly the bytes asked for are left: no growth");

        writer.GetSpan(6)[..6].Fill(8);
        writer.Advance(6);
        Assert.AreEqual(capacity, writer.WrittenCount);
        Assert.IsGreaterThanOrEqualTo(1, writer.GetSpan(0).Length, "a hint of 0 still gives at least one byte");
        Assert.IsGreaterThan(capacity, writer.Capacity);
        Assert.IsGreaterThanOrEqualTo(1, writer.GetMemory(-5).Length, "a negative hint counts as 1");
        Assert.AreEqual(capacity, writer.WrittenCount);
        Assert.IsTrue(writer.WrittenSpan[..(capacity - 6)].ToArray().All(b => b == 7) && writer.WrittenSpan[(capacity - 6)..].ToArray().All(b => b == 8), "the bytes survive the growth");
    }

    [TestMethod]
    public void Advance_RefusesANegativeCountOrOnePastTheBuffer_ButAcceptsZero()
    {
        using var writer = new PooledBufferWriter(16);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => writer.Advance(-1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => writer.Advance(writer.Capacity + 1));
        writer.Advance(0);
        writer.Advance(writer.Capacity);
        Assert.AreEqual(writer.Capacity, writer.WrittenCount);
    }

    [TestMethod]
    public void Rewind_TakesBackTheTail_AndRefusesACountOutsideWhatWasWritten()
    {
        using var writer = new PooledBufferWriter();
        new byte[] { 1, 2, 3, 4 }.CopyTo(writer.GetSpan(4));
        writer.Advance(4);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => writer.Rewind(-1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => writer.Rewind(5));
        writer.Rewind(4);
        Assert.AreEqual(4, writer.WrittenCount);
        writer.Rewind(2);
        CollectionAssert.AreEqual(new byte[] { 1, 2 }, writer.WrittenSpan.ToArray());
    }

    [TestMethod]
    public void Reset_KeepsABufferOfExactlyTheRetainedSize_AndGivesBackALargerOne()
    {
        using var writer = new PooledBufferWriter();
        writer.GetSpan(PooledBufferWriter.MaxRetainedBytes);
        Assert.AreEqual(PooledBufferWriter.MaxRetainedBytes, writer.Capacity);
        writer.Advance(10);
        writer.Reset();
        Assert.AreEqual(0, writer.WrittenCount);
        Assert.AreEqual(PooledBufferWriter.MaxRetainedBytes, writer.Capacity, "a buffer of exactly MaxRetainedBytes is kept");

        writer.GetSpan(PooledBufferWriter.MaxRetainedBytes + 1);
        writer.Reset();
        Assert.IsLessThanOrEqualTo(256, writer.Capacity, "a buffer past MaxRetainedBytes is given back");
    }

    [TestMethod]
    public void Shrink_LetsGoOfALargeBufferOnlyWhenNothingIsWritten_AndOnlyWhenItIsLargerThanTheLimit()
    {
        using var writer = new PooledBufferWriter(4096);
        int large = writer.Capacity;
        writer.Advance(1);
        Assert.IsFalse(writer.Shrink(256), "something is written");
        Assert.AreEqual(large, writer.Capacity);
        writer.Reset();
        Assert.IsFalse(writer.Shrink(large), "not larger than the limit");
        Assert.AreEqual(large, writer.Capacity);
        Assert.IsTrue(writer.Shrink(large - 1));
        Assert.IsLessThanOrEqualTo(256, writer.Capacity);
        Assert.IsFalse(writer.Shrink(large - 1), "already small");
    }

    [TestMethod]
    public void Frames_GetTheirLengthAfterTheBody_AndPatchesOverwriteWhatWasWritten()
    {
        using var writer = new PooledBufferWriter(16);
        int first = writer.BeginFrame(MessageType.Heartbeat);
        writer.GetSpan(3)[..3].Fill(9);
        writer.Advance(3);
        writer.EndFrame(first);
        int second = writer.BeginFrameRaw();
        Assert.AreEqual(first + Frame.HeaderSize + 3, second);
        BinaryPrimitives.WriteUInt16LittleEndian(writer.GetSpan(2), 0xBEEF);
        writer.Advance(2);
        writer.EndFrame(second);

        var bytes = writer.WrittenSpan.ToArray();
        Assert.AreEqual((uint)(Frame.HeaderSize - Frame.LengthSize + 3), BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.AreEqual((ushort)MessageType.Heartbeat, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(Frame.LengthSize)));
        Assert.AreEqual(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(second)));
        Assert.AreEqual(second + Frame.LengthSize + 2, writer.WrittenCount);

        writer.PatchUInt32(second + Frame.LengthSize - 2, 0x01020304);
        CollectionAssert.AreEqual(new byte[] { 4, 3, 2, 1 }, writer.WrittenSpan.Slice(second + Frame.LengthSize - 2, 4).ToArray());
        writer.Patch(0, 0xAA);
        Assert.AreEqual(0xAA, writer.WrittenSpan[0]);
    }

    [TestMethod]
    public void Dispose_CanBeCalledTwice_AndLeavesNothingWritten()
    {
        var writer = new PooledBufferWriter();
        writer.Advance(5);
        writer.Dispose();
        Assert.AreEqual(0, writer.WrittenCount);
        Assert.AreEqual(0, writer.Capacity);
        writer.Dispose();
    }
}
