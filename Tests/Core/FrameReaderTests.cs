using System.IO.Pipelines;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The one frame reader of every end (Client Agent sessions, both MD link ends, the client library): frames split in
/// any way arrive whole, limits end the read with the numbers the end's eject or log line names, and a stop leaves
/// the unread bytes for whoever takes the connection over.
/// </summary>
[TestClass]
public sealed class FrameReaderTests
{
    private static byte[] FrameBytes(MessageType type, params byte[] payload) => FrameTests.FrameBytes(type, payload);

    /// <summary>A reader over a stream that returns <paramref name="chunks"/> one read each, then ends.</summary>
    private static PipeReader Over(params byte[][] chunks) => FrameReader.Open(new ChunkedStream(chunks));

    [TestMethod]
    public async Task ReadAsync_FramesSplitAcrossReads_ArriveWholeInOrder_ThenClosed()
    {
        var bytes = FrameBytes(MessageType.Heartbeat).Concat(FrameBytes(MessageType.ClockSync, 1, 2, 3, 4, 5, 6, 7, 8)).ToArray();
        var handler = new Recorder();

        // One byte a read: every frame crosses reads, and the payload crosses pipe segments.
        var outcome = await FrameReader.ReadAsync(Over(bytes.Select(b => new[] { b }).ToArray()), 1024, handler, CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.Closed, outcome.End);
        CollectionAssert.AreEqual(new[] { (ushort)MessageType.Heartbeat, (ushort)MessageType.ClockSync }, handler.Types);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, handler.Payloads[1]);
        Assert.AreEqual(bytes.Length, handler.Bytes);
    }

    [TestMethod]
    public async Task ReadAsync_FrameLargerThanAPipeSegment_ArrivesWholeInOnePayload()
    {
        var payload = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        var bytes = FrameBytes(MessageType.SetField, payload);
        var chunks = bytes.Chunk(700).ToArray();
        var handler = new Recorder();

        var outcome = await FrameReader.ReadAsync(Over(chunks), 64 * 1024, handler, CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.Closed, outcome.End);
        CollectionAssert.AreEqual(payload, handler.Payloads.Single());
    }

    [TestMethod]
    public async Task ReadAsync_FrameOverTheLimit_EndsOversized_WithTheDeclaredLength()
    {
        var handler = new Recorder();
        var bytes = FrameBytes(MessageType.Heartbeat).Concat(FrameBytes(MessageType.ClockSync, new byte[100])).ToArray();

        var outcome = await FrameReader.ReadAsync(Over(bytes), 50, handler, CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.Oversized, outcome.End);
        Assert.AreEqual(102u, outcome.DeclaredLength);
        Assert.HasCount(1, handler.Types, "the frame before the oversized one is handled");
    }

    [TestMethod]
    public async Task ReadAsync_LengthTooSmallForAType_EndsMalformed()
    {
        var outcome = await FrameReader.ReadAsync(Over(new byte[] { 1, 0, 0, 0, 9 }), 1024, new Recorder(), CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.Malformed, outcome.End);
        Assert.AreEqual(1u, outcome.DeclaredLength);
    }

    [TestMethod]
    public async Task ReadAsync_PeerClosesInsideAFrame_EndsClosedMidFrame_WithTheBytesLeft()
    {
        var frame = FrameBytes(MessageType.ClockSync, 1, 2, 3, 4);

        var outcome = await FrameReader.ReadAsync(Over(frame.AsSpan(0, 7).ToArray()), 1024, new Recorder(), CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.ClosedMidFrame, outcome.End);
        Assert.AreEqual(7L, outcome.BytesLeft);
    }

    [TestMethod]
    public async Task ReadAsync_HandlerStops_LeavesTheNextFramesInTheReader()
    {
        var bytes = FrameBytes(MessageType.Resume, 7).Concat(FrameBytes(MessageType.Heartbeat)).ToArray();
        var reader = Over(bytes);
        var first = new Recorder { StopAfter = 1 };

        var stopped = await FrameReader.ReadAsync(reader, 1024, first, CancellationToken.None);
        var rest = new Recorder();
        var closed = await FrameReader.ReadAsync(reader, 1024, rest, CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.Stopped, stopped.End);
        CollectionAssert.AreEqual(new[] { (ushort)MessageType.Resume }, first.Types);
        Assert.AreEqual(FrameReadEnd.Closed, closed.End);
        CollectionAssert.AreEqual(new[] { (ushort)MessageType.Heartbeat }, rest.Types, "a resumed session reads on from the frame after Resume");
    }

    [TestMethod]
    public async Task ReadAsync_ReportsEachReadsBytesAndFrames_AndNothingForAReadThatCompletedNoFrame()
    {
        var heartbeat = FrameBytes(MessageType.Heartbeat);
        var sync = FrameBytes(MessageType.ClockSync, 1, 2, 3, 4);
        var bytes = heartbeat.Concat(heartbeat).Concat(sync).ToArray();
        int firstRead = (2 * heartbeat.Length) + 3;
        var handler = new Recorder();

        // Read 1: two whole frames and 3 bytes of the third; read 2: 2 more bytes (no frame done); read 3: the rest.
        var outcome = await FrameReader.ReadAsync(Over(bytes[..firstRead], bytes[firstRead..(firstRead + 2)], bytes[(firstRead + 2)..]), 1024, handler, CancellationToken.None);

        Assert.AreEqual(FrameReadEnd.Closed, outcome.End);
        CollectionAssert.AreEqual(new[] { ((long)(2 * heartbeat.Length), 2), ((long)sync.Length, 1) }, handler.Reads, "one report per read that completed frames, with its bytes and frame count");
    }

    [TestMethod]
    public async Task Open_LeavesTheStreamOpen_WhenTheReaderCompletes()
    {
        var stream = new MemoryStream(FrameBytes(MessageType.Heartbeat));
        var reader = FrameReader.Open(stream);
        await FrameReader.ReadAsync(reader, 1024, new Recorder(), CancellationToken.None);
        await reader.CompleteAsync();
        Assert.IsTrue(stream.CanRead, "the end owns its stream and closes it itself");
    }

    private sealed class Recorder : IFrameHandler
    {
        public List<(long Bytes, int Frames)> Reads { get; } = new();

        public List<ushort> Types { get; } = new();

        public List<byte[]> Payloads { get; } = new();

        public long Bytes { get; private set; }

        public int StopAfter { get; init; } = int.MaxValue;

        public bool OnFrame(ushort type, ReadOnlySpan<byte> payload)
        {
            Types.Add(type);
            Payloads.Add(payload.ToArray());
            return Types.Count < StopAfter;
        }

        public ValueTask OnReadAsync(long bytes, int frames, CancellationToken cancellation)
        {
            Bytes += bytes;
            Reads.Add((bytes, frames));
            return default;
        }
    }

    /// <summary>A read-only stream that hands out one chunk per read, as a socket does, then end of stream.</summary>
    private sealed class ChunkedStream(byte[][] chunks) : Stream
    {
        private int next;
        private int offsetInChunk;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (count == 0 || next == chunks.Length)
            {
                return 0;
            }

            // A chunk larger than the reader's buffer is handed out over several reads.
            var chunk = chunks[next];
            int copied = Math.Min(count, chunk.Length - offsetInChunk);
            Array.Copy(chunk, offsetInChunk, buffer, offset, copied);
            offsetInChunk += copied;
            if (offsetInChunk == chunk.Length)
            {
                next++;
                offsetInChunk = 0;
            }

            return copied;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
