using System.Buffers;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>Frames are <c>uint32 length | uint16 msgtype | payload</c>, little-endian; length counts type and payload.</summary>
[TestClass]
public sealed class FrameTests
{
    private const int Max = Frame.DefaultMaxSize;

    internal static byte[] FrameBytes(MessageType type, params byte[] payload)
    {
        using var writer = new PooledBufferWriter();
        int start = writer.BeginFrame(type);
        writer.WriteRaw(payload);
        writer.EndFrame(start);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Splits <paramref name="bytes"/> into a sequence with one segment per chunk.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes, params int[] cuts)
    {
        var bounds = new[] { 0 }.Concat(cuts).Append(bytes.Length).ToArray();
        Segment? first = null;
        Segment? last = null;
        for (int i = 0; i + 1 < bounds.Length; i++)
        {
            var chunk = bytes.AsMemory(bounds[i], bounds[i + 1] - bounds[i]);
            if (first is null)
            {
                first = last = new Segment(chunk, 0);
            }
            else
            {
                last = last!.Append(chunk);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    [TestMethod]
    public void BeginFrameAndEndFrame_WriteTheLengthOfTypeAndPayload()
    {
        byte[] bytes = FrameBytes(MessageType.SetField, 0xAA, 0xBB, 0xCC);

        CollectionAssert.AreEqual(new byte[] { 5, 0, 0, 0, 120, 0, 0xAA, 0xBB, 0xCC }, bytes);
    }

    [TestMethod]
    public void BeginFrame_AfterOtherBytes_PatchesItsOwnLength()
    {
        using var writer = new PooledBufferWriter(16);
        writer.WriteRaw(new byte[] { 1, 2, 3 });
        int start = writer.BeginFrame(MessageType.Heartbeat);
        writer.WriteRaw(new byte[100]); // grows the buffer between Begin and End
        writer.EndFrame(start);

        Assert.AreEqual(3, start);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory.Slice(3));
        Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, Max, out ushort type, out var payload, out uint length));
        Assert.AreEqual((ushort)MessageType.Heartbeat, type);
        Assert.AreEqual(102u, length);
        Assert.AreEqual(100L, payload.Length);
    }

    [TestMethod]
    public void TryRead_CompleteFrame_ReturnsTypeAndPayload_AndAdvances()
    {
        var buffer = new ReadOnlySequence<byte>(FrameBytes(MessageType.Hello, 1, 2, 3, 4));

        var status = Frame.TryRead(ref buffer, Max, out ushort type, out var payload, out uint length);

        Assert.AreEqual(FrameStatus.Complete, status);
        Assert.AreEqual((ushort)MessageType.Hello, type);
        Assert.AreEqual(6u, length);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3, 4 }, payload.ToArray());
        Assert.IsTrue(buffer.IsEmpty);
    }

    [TestMethod]
    public void TryRead_FrameWithEmptyPayload_IsComplete()
    {
        var buffer = new ReadOnlySequence<byte>(FrameBytes(MessageType.Heartbeat));

        Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, Max, out ushort type, out var payload, out _));
        Assert.AreEqual((ushort)MessageType.Heartbeat, type);
        Assert.IsTrue(payload.IsEmpty);
    }

    [TestMethod]
    public void TryRead_EveryStrictPrefixOfAFrame_IsIncomplete_AndLeavesTheBuffer()
    {
        byte[] bytes = FrameBytes(MessageType.SetField, 9, 8, 7, 6, 5);
        for (int length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);

            Assert.AreEqual(FrameStatus.Incomplete, Frame.TryRead(ref buffer, Max, out _, out _, out _), $"{length} bytes");
            Assert.AreEqual(length, buffer.Length);
        }
    }

    [TestMethod]
    public void TryRead_LengthAboveTheMaximum_IsOversized_EvenBeforeThePayloadArrives()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0x01, 0x01, 0x00, 0x00, 0x05, 0x00 }); // 257

        Assert.AreEqual(FrameStatus.Oversized, Frame.TryRead(ref buffer, 256, out _, out _, out uint length));
        Assert.AreEqual(257u, length);
        Assert.AreEqual(6L, buffer.Length);

        var huge = new ReadOnlySequence<byte>(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF });
        Assert.AreEqual(FrameStatus.Oversized, Frame.TryRead(ref huge, int.MaxValue, out _, out _, out _));
    }

    [TestMethod]
    public void TryRead_LengthAtTheMaximum_IsAccepted()
    {
        byte[] bytes = FrameBytes(MessageType.SetField, new byte[254]);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, 256, out _, out var payload, out _));
        Assert.AreEqual(254L, payload.Length);
    }

    [TestMethod]
    [DataRow(0u)]
    [DataRow(1u)]
    public void TryRead_LengthTooSmallForAType_IsMalformed(uint declared)
    {
        var buffer = new ReadOnlySequence<byte>(BitConverter.GetBytes(declared).Concat(new byte[] { 7, 7 }).ToArray());

        Assert.AreEqual(FrameStatus.Malformed, Frame.TryRead(ref buffer, Max, out _, out _, out uint length));
        Assert.AreEqual(declared, length);
    }

    [TestMethod]
    public void TryRead_SeveralFramesInOneBuffer_ReadsThemInOrder()
    {
        byte[] bytes = FrameBytes(MessageType.Hello, 1)
            .Concat(FrameBytes(MessageType.Heartbeat))
            .Concat(FrameBytes(MessageType.SetField, 2, 3))
            .Concat(new byte[] { 9, 0 }) // the start of a fourth frame
            .ToArray();
        var buffer = new ReadOnlySequence<byte>(bytes);
        var read = new List<(ushort Type, byte[] Payload)>();

        while (Frame.TryRead(ref buffer, Max, out ushort type, out var payload, out _) == FrameStatus.Complete)
        {
            read.Add((type, payload.ToArray()));
        }

        Assert.HasCount(3, read);
        CollectionAssert.AreEqual(new ushort[] { 1, 5, 120 }, read.Select(r => r.Type).ToArray());
        CollectionAssert.AreEqual(new byte[] { 1 }, read[0].Payload);
        Assert.IsEmpty(read[1].Payload);
        CollectionAssert.AreEqual(new byte[] { 2, 3 }, read[2].Payload);
        CollectionAssert.AreEqual(new byte[] { 9, 0 }, buffer.ToArray());
    }

    [TestMethod]
    public void TryRead_FramesSplitAcrossSegments_AreReadWhole()
    {
        byte[] bytes = FrameBytes(MessageType.SetField, 10, 11, 12, 13).Concat(FrameBytes(MessageType.Location, 20, 21)).ToArray();

        // Every way of cutting the bytes into three segments: inside the length, the type, the payload, and between frames.
        for (int a = 1; a < bytes.Length - 1; a++)
        {
            for (int b = a + 1; b < bytes.Length; b++)
            {
                var buffer = Segmented(bytes, a, b);
                Assert.IsFalse(buffer.IsSingleSegment);

                Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, Max, out ushort first, out var firstPayload, out _), $"cuts {a},{b}");
                Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, Max, out ushort second, out var secondPayload, out _), $"cuts {a},{b}");

                Assert.AreEqual((ushort)MessageType.SetField, first);
                CollectionAssert.AreEqual(new byte[] { 10, 11, 12, 13 }, firstPayload.ToArray(), $"cuts {a},{b}");
                Assert.AreEqual((ushort)MessageType.Location, second);
                CollectionAssert.AreEqual(new byte[] { 20, 21 }, secondPayload.ToArray(), $"cuts {a},{b}");
                Assert.IsTrue(buffer.IsEmpty);
            }
        }
    }

    [TestMethod]
    public void PooledBufferWriter_Reset_ForgetsWhatWasWritten()
    {
        using var writer = new PooledBufferWriter();
        writer.WriteInt32(1);

        writer.Reset();
        writer.WriteByte(7);

        CollectionAssert.AreEqual(new byte[] { 7 }, writer.WrittenSpan.ToArray());
    }

    [TestMethod]
    public void PooledBufferWriter_Advance_PastTheBuffer_Throws()
    {
        using var writer = new PooledBufferWriter(16);
        int available = writer.GetSpan().Length;

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => writer.Advance(available + 1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => writer.Advance(-1));
        Assert.AreEqual(0, writer.WrittenCount);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
