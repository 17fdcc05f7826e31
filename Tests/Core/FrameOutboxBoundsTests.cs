using System.Net;
using System.Net.Sockets;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The outbox's rules that <see cref="FrameOutboxTests"/> does not reach: what a refused append costs (nothing), when a
/// final frame or a shared block wakes the send loop, what closing, cancelling and disposing do to a loop and to the
/// buffers, which buffers <see cref="FrameOutbox.RetainedBytes"/> counts and <see cref="FrameOutbox.TrimIfIdle"/> gives
/// back (never during a write, never right after a send), that every batch is flushed, that frames after the last shared
/// block keep their place and are sent once, and how a scheduler with no interval or disposed behaves.
/// </summary>
[TestClass]
public sealed class FrameOutboxBoundsTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    [TestMethod]
    public void TheBound_MustBeAtLeastOneByte_AndOneByteIsABound()
    {
        var refused = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new FrameOutbox(0));
        Assert.AreEqual("maxBytes", refused.ParamName);
        Assert.AreEqual(0, refused.ActualValue);
        StringAssert.StartsWith(refused.Message, "The outbox must hold at least one byte.");

        using var tiny = new FrameOutbox(1);
        Assert.IsFalse(tiny.TryAppend(new byte[2]));
        Assert.IsTrue(tiny.TryAppend(new byte[1]));
        Assert.AreEqual(1, tiny.MaxBytes);
    }

    [TestMethod]
    public void ARefusedAppend_CostsNoMemory()
    {
        // A peer that asks for a huge frame must not make the outbox grow its buffer before the refusal.
        using var outbox = new FrameOutbox(1024);
        int before = outbox.RetainedBytes;

        Assert.IsFalse(outbox.TryAppend(new byte[1 << 20]));

        Assert.AreEqual(before, outbox.RetainedBytes);
        Assert.AreEqual(0, outbox.PendingBytes);
    }

    [TestMethod]
    public async Task HasQueued_FromAnAppendOrAComplete_UntilTheLoopTakesIt()
    {
        var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1024, scheduler);
        Assert.IsFalse(outbox.HasQueued);
        Assert.IsTrue(outbox.TryAppend(new byte[] { 1 }));
        Assert.IsTrue(outbox.HasQueued, "a frame waits for the round");
        var loop = outbox.RunAsync(stream, CancellationToken.None);
        scheduler.Dispose();
        await stream.WaitForBytesAsync(1).WaitAsync(Timeout);

        using var closing = new FrameOutbox(1024);
        closing.Complete();
        Assert.IsTrue(closing.HasQueued, "nothing queued, but the loop's last wake is");
        await closing.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);
        Assert.IsFalse(closing.HasQueued);

        closing.Complete();
        Assert.IsFalse(closing.HasQueued, "completing a completed outbox schedules nothing");
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    [TestMethod]
    public void ASharedBlock_IsReferencedFromExactlyTheMinimumSize_AndASmallerOneIsCopied()
    {
        using var outbox = new FrameOutbox(1 << 20);
        int before = outbox.RetainedBytes;

        Assert.IsTrue(outbox.TryAppendShared(new byte[FrameOutbox.SharedBlockMinBytes], frames: 1));
        Assert.AreEqual(before, outbox.RetainedBytes, "referenced: the outbox's own buffer did not grow");
        Assert.IsTrue(outbox.TryAppendShared(new byte[64 * 1024], frames: 1));
        Assert.AreEqual(before, outbox.RetainedBytes);

        Assert.IsTrue(outbox.TryAppendShared(new byte[FrameOutbox.SharedBlockMinBytes - 1], frames: 1));
        Assert.IsGreaterThan(before, outbox.RetainedBytes, "copied: the outbox's own buffer grew");
        Assert.IsGreaterThanOrEqualTo(FrameOutbox.SharedBlockMinBytes - 1, outbox.RetainedBytes);
        Assert.AreEqual(FrameOutbox.SharedBlockMinBytes + (64 * 1024) + FrameOutbox.SharedBlockMinBytes - 1, outbox.PendingBytes);
    }

    [TestMethod]
    public void ASharedBlock_ThatFillsTheBoundExactly_IsTaken_AndNoneIsTakenOnceClosed()
    {
        var block = new byte[FrameOutbox.SharedBlockMinBytes];
        using var outbox = new FrameOutbox(FrameOutbox.SharedBlockMinBytes + 10);
        Assert.IsTrue(outbox.TryAppend(new byte[10]));
        Assert.IsTrue(outbox.TryAppendShared(block, frames: 1), "10 + 1024 is exactly the bound");

        using var completed = new FrameOutbox(1 << 20);
        completed.Complete();
        Assert.IsFalse(completed.TryAppendShared(block, frames: 1));

        var disposed = new FrameOutbox(1 << 20);
        disposed.Dispose();
        Assert.IsFalse(disposed.TryAppendShared(block, frames: 1));
        Assert.AreEqual(0, disposed.PendingBytes);
    }

    [TestMethod]
    public async Task ASharedBlockAlone_WakesAnIdleLoop()
    {
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1 << 20);
        var loop = outbox.RunAsync(stream, CancellationToken.None);
        var block = Block(4, FrameOutbox.SharedBlockMinBytes);

        Assert.IsTrue(outbox.TryAppendShared(block, frames: 1));

        await stream.WaitForBytesAsync(block.Length).WaitAsync(Timeout);
        CollectionAssert.AreEqual(block, stream.Written);
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task AFinalFrameAlone_WakesAnIdleLoop_WhichEndsAfterSendingIt_AndNothingFollowsIt()
    {
        var stream = new GateStream();
        using var outbox = new FrameOutbox(64);
        var loop = outbox.RunAsync(stream, CancellationToken.None);

        Assert.IsTrue(outbox.AppendFinal(new byte[] { 1, 2 }));
        await loop.WaitAsync(Timeout);

        CollectionAssert.AreEqual(new byte[] { 1, 2 }, stream.Written);
        Assert.IsFalse(outbox.AppendFinal(new byte[] { 3 }), "one final frame");
        Assert.IsFalse(outbox.ReplaceWithFinal(new byte[] { 3 }));
        Assert.IsFalse(outbox.TryAppend(new byte[] { 3 }));
    }

    [TestMethod]
    public async Task AReplacementFinalFrame_WakesAnIdleLoop_WhichEndsAfterSendingIt_AndClosesTheOutbox()
    {
        var stream = new GateStream();
        using var outbox = new FrameOutbox(64);
        var loop = outbox.RunAsync(stream, CancellationToken.None);

        Assert.IsTrue(outbox.ReplaceWithFinal(new byte[] { 3, 4, 6 }));
        Assert.IsTrue(outbox.IsClosed);
        Assert.IsFalse(outbox.TryAppend(new byte[] { 5 }));
        Assert.IsFalse(outbox.ReplaceWithFinal(new byte[] { 5 }));
        Assert.IsFalse(outbox.AppendFinal(new byte[] { 5 }));
        await loop.WaitAsync(Timeout);

        CollectionAssert.AreEqual(new byte[] { 3, 4, 6 }, stream.Written);
    }

    [TestMethod]
    public async Task CancellingAnIdleLoop_EndsItWithOperationCanceled()
    {
        using var outbox = new FrameOutbox(64);
        using var stop = new CancellationTokenSource();
        var loop = outbox.RunAsync(new GateStream(), stop.Token);

        stop.Cancel();

        await Assert.ThrowsAsync<OperationCanceledException>(() => loop.WaitAsync(Timeout));
    }

    [TestMethod]
    public async Task AnEmptyLastBatch_WritesNothing_AndReportsNoFlush()
    {
        int flushes = 0;
        using var scheduler = new FlushScheduler(TimeSpan.Zero, (_, _, _) => Interlocked.Increment(ref flushes));
        var stream = new GateStream();
        using var outbox = new FrameOutbox(64, scheduler);
        outbox.Complete();

        await outbox.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);

        Assert.AreEqual(0, stream.Writes);
        Assert.AreEqual(0, stream.Flushes);
        Assert.AreEqual(0, Volatile.Read(ref flushes));
    }

    [TestMethod]
    public async Task Dispose_EndsAnIdleLoop_ClosesTheOutbox_AndGivesEveryBufferBack()
    {
        using var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        var outbox = new FrameOutbox(1 << 20, scheduler);
        var loop = outbox.RunAsync(new GateStream(), CancellationToken.None);
        Assert.IsTrue(outbox.TryAppend(new byte[100_000]), "queued, not sent: its round never comes");
        Assert.IsGreaterThanOrEqualTo(100_000, outbox.RetainedBytes);

        outbox.Dispose();
        await loop.WaitAsync(Timeout);

        Assert.IsTrue(loop.IsCompletedSuccessfully);
        Assert.IsTrue(outbox.IsClosed);
        Assert.AreEqual(0, outbox.PendingBytes);
        Assert.AreEqual(0, outbox.RetainedBytes);
        Assert.IsFalse(outbox.TryAppend(new byte[] { 1 }));
        Assert.IsFalse(outbox.TrimIfIdle(), "a disposed outbox has nothing to trim");
        outbox.Dispose();
    }

    [TestMethod]
    public async Task Dispose_DuringAWrite_KeepsTheBatchsBuffer_UntilTheWriteReturns()
    {
        var stream = new GateStream();
        var outbox = new FrameOutbox(1 << 20);
        var frame = Enumerable.Range(0, 50_000).Select(i => (byte)i).ToArray();
        stream.HoldNextWrite();
        var loop = outbox.RunAsync(stream, CancellationToken.None);
        Assert.IsTrue(outbox.TryAppend(frame));
        outbox.Complete();
        await stream.WriteHeld.WaitAsync(Timeout);

        outbox.Dispose();
        Assert.IsTrue(outbox.IsClosed);
        Assert.IsGreaterThanOrEqualTo(frame.Length, outbox.RetainedBytes, "the pooled buffer the stream is reading is not given back under it");

        stream.Release();
        await loop.WaitAsync(Timeout);
        CollectionAssert.AreEqual(frame, stream.Written);
        Assert.AreEqual(0, outbox.RetainedBytes, "given back once the write returned");
        outbox.Dispose();
        Assert.AreEqual(0, outbox.RetainedBytes);
    }

    [TestMethod]
    public async Task TheFlattenBuffer_OfASharedBatchOverAStream_IsRetained_ThenTrimmed_ButNotByADisposedOutbox()
    {
        var shared = Block(5, 64 * 1024);
        var stream = new GateStream();
        var outbox = new FrameOutbox(1 << 20);
        Assert.IsTrue(outbox.TryAppend(new byte[] { 1 }));
        Assert.IsTrue(outbox.TryAppendShared(shared, frames: 1));
        outbox.Complete();
        await outbox.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);
        Assert.AreEqual(1, stream.Writes);
        Assert.IsGreaterThanOrEqualTo(shared.Length, outbox.RetainedBytes, "the copy a stream's single write was made from");

        Assert.IsFalse(outbox.TrimIfIdle(), "the first sweep after a send only notes it");
        Assert.IsTrue(outbox.TrimIfIdle(), "the flatten buffer is given back, though the outbox's own buffers are small");
        Assert.IsLessThanOrEqualTo(2 * 512, outbox.RetainedBytes);

        var disposed = new FrameOutbox(1 << 20);
        Assert.IsTrue(disposed.TryAppendShared(shared, frames: 1));
        disposed.Complete();
        await disposed.RunAsync(new GateStream(), CancellationToken.None).WaitAsync(Timeout);
        disposed.Dispose();
        Assert.IsFalse(disposed.TrimIfIdle());
        Assert.IsFalse(disposed.TrimIfIdle());
        outbox.Dispose();
    }

    [TestMethod]
    public async Task CopiedFrames_GoStraightFromTheOutboxsBuffer_WithNoFlattenCopy()
    {
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1 << 20);
        Assert.IsTrue(outbox.TryAppend(new byte[100_000]));
        outbox.Complete();

        await outbox.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);

        Assert.AreEqual(100_000, stream.Written.Length);
        Assert.IsLessThan(200_000, outbox.RetainedBytes, "one buffer of the frames (pool-rounded), not a second copy");
    }

    [TestMethod]
    public async Task AHugeSharedBatchOverAStream_DoesNotPinItsFlattenBuffer()
    {
        var stream = new GateStream();
        using var outbox = new FrameOutbox(4 << 20);
        var block = Block(6, (PooledBufferWriter.MaxRetainedBytes / 2) + 1);
        Assert.IsTrue(outbox.TryAppendShared(block, frames: 1));
        Assert.IsTrue(outbox.TryAppendShared(block, frames: 1));
        outbox.Complete();

        await outbox.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);

        Assert.AreEqual(2 * block.Length, stream.Written.Length);
        Assert.IsLessThan(PooledBufferWriter.MaxRetainedBytes, outbox.RetainedBytes, "a flatten buffer past MaxRetainedBytes is given back after its write");
    }

    [TestMethod]
    public async Task TrimIfIdle_NeverTrims_WhileAFrameOrTheLastWakeWaits()
    {
        using var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1 << 20, scheduler);
        using var stop = new CancellationTokenSource();
        var loop = outbox.RunAsync(stream, stop.Token);

        // A burst grows one of the two buffers; once it is sent (and the loop stopped), that buffer is large and empty.
        Assert.IsTrue(outbox.TryAppend(new byte[256 * 1024]));
        outbox.Wake();
        await stream.WaitForBytesAsync(256 * 1024).WaitAsync(Timeout);
        stop.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => loop.WaitAsync(Timeout));
        int retained = outbox.RetainedBytes;
        Assert.IsGreaterThanOrEqualTo(256 * 1024, retained);

        Assert.IsTrue(outbox.TryAppend(new byte[] { 1 }));
        Assert.IsFalse(outbox.TrimIfIdle(), "a frame waits (and a send happened since the last sweep)");
        Assert.IsFalse(outbox.TrimIfIdle(), "a frame still waits, though nothing was sent since the last sweep");
        Assert.AreEqual(retained, outbox.RetainedBytes);

        using var closing = new FrameOutbox(1 << 20);
        using var stopClosing = new CancellationTokenSource();
        var closingLoop = closing.RunAsync(stream, stopClosing.Token);
        Assert.IsTrue(closing.TryAppend(new byte[256 * 1024]));
        await stream.WaitForBytesAsync((2 * 256 * 1024) + 0).WaitAsync(Timeout);
        stopClosing.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => closingLoop.WaitAsync(Timeout));
        closing.Complete();
        Assert.IsFalse(closing.TrimIfIdle());
        Assert.IsFalse(closing.TrimIfIdle(), "nothing is queued, but the loop's last wake is");
        Assert.IsGreaterThanOrEqualTo(256 * 1024, closing.RetainedBytes);
    }

    [TestMethod]
    public async Task TrimIfIdle_NeverTrims_DuringAWrite_OnlyAfterIt()
    {
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1 << 20);
        var loop = outbox.RunAsync(stream, CancellationToken.None);

        // Batch 1 grows buffer A. Batch 2 (one byte, in B) is held in the stream's write: A is then the empty, large
        // side, and a sweep must not take it while the other is on the wire.
        Assert.IsTrue(outbox.TryAppend(new byte[256 * 1024]));
        await stream.WaitForBytesAsync(256 * 1024).WaitAsync(Timeout);
        stream.HoldNextWrite();
        Assert.IsTrue(outbox.TryAppend(new byte[] { 1 }));
        await stream.WriteHeld.WaitAsync(Timeout);
        int retained = outbox.RetainedBytes;
        Assert.IsGreaterThanOrEqualTo(256 * 1024, retained);

        Assert.IsFalse(outbox.TrimIfIdle(), "a write is in flight");
        Assert.IsFalse(outbox.TrimIfIdle(), "a write is still in flight, though nothing else was sent since the last sweep");
        Assert.AreEqual(retained, outbox.RetainedBytes);

        stream.Release();
        outbox.Complete();
        await loop.WaitAsync(Timeout);
        Assert.IsFalse(outbox.TrimIfIdle(), "the first sweep after a send only notes it");
        Assert.IsTrue(outbox.TrimIfIdle());
        Assert.IsLessThanOrEqualTo(2 * FrameOutbox.IdleRetainedBytes, outbox.RetainedBytes);
    }

    [TestMethod]
    public async Task EveryBatch_IsFlushed_CopiedOrShared()
    {
        var recording = new GateStream();
        var buffered = new BufferedStream(recording, 1 << 20);
        using var outbox = new FrameOutbox(1 << 20);
        var loop = outbox.RunAsync(buffered, CancellationToken.None);

        Assert.IsTrue(outbox.TryAppend(new byte[] { 1, 2, 3 }));
        await recording.WaitForBytesAsync(3).WaitAsync(Timeout);

        var shared = Block(7, FrameOutbox.SharedBlockMinBytes);
        Assert.IsTrue(outbox.TryAppendShared(shared, frames: 1));
        await recording.WaitForBytesAsync(3 + shared.Length).WaitAsync(Timeout);

        CollectionAssert.AreEqual((byte[])[1, 2, 3, .. shared], recording.Written);
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task FramesAfterTheLastSharedBlock_KeepTheirPlace_AndEachBatchIsSentOnce_OverAStream()
    {
        // A round that never comes: each batch leaves on Wake, after all three of its appends.
        using var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1 << 20, scheduler);
        var loop = outbox.RunAsync(stream, CancellationToken.None);
        var expected = new List<byte>();

        // Three batches, so that each of the two buffers is used again after a batch with shared blocks.
        for (byte round = 1; round <= 3; round++)
        {
            var shared = Block(round, FrameOutbox.SharedBlockMinBytes + round);
            byte[] before = [round, 0], after = [round, 1, 1];
            Assert.IsTrue(outbox.TryAppend(before));
            Assert.IsTrue(outbox.TryAppendShared(shared, frames: 1));
            Assert.IsTrue(outbox.TryAppend(after));
            expected.AddRange([.. before, .. shared, .. after]);
            outbox.Wake();
            await stream.WaitForBytesAsync(expected.Count).WaitAsync(Timeout);
        }

        outbox.Complete();
        await loop.WaitAsync(Timeout);
        CollectionAssert.AreEqual(expected.ToArray(), stream.Written);
    }

    [TestMethod]
    public async Task FramesAfterTheLastSharedBlock_KeepTheirPlace_AndTheBatchIsSentOnce_OverASocket()
    {
        using var pair = await SocketPair.ConnectAsync();
        using var outbox = new FrameOutbox(1 << 20);
        var shared = Block(8, FrameOutbox.SharedBlockMinBytes);
        Assert.IsTrue(outbox.TryAppend(new byte[] { 1, 1 }));
        Assert.IsTrue(outbox.TryAppendShared(shared, frames: 1));
        Assert.IsTrue(outbox.TryAppend(new byte[] { 2, 2, 2 }));
        outbox.Complete();

        await outbox.RunAsync(new NetworkStream(pair.Server, ownsSocket: false), CancellationToken.None).WaitAsync(Timeout);
        pair.Server.Shutdown(SocketShutdown.Send);
        using var received = new MemoryStream();
        await pair.Client.GetStream().CopyToAsync(received).WaitAsync(Timeout);

        CollectionAssert.AreEqual((byte[])[1, 1, .. shared, 2, 2, 2], received.ToArray(), "in order, and once: the gathered send is the whole batch");
    }

    [TestMethod]
    public async Task AGatheredSendOnAClosedSocket_FailsAsAStreamWriteWould()
    {
        using var pair = await SocketPair.ConnectAsync();
        using var network = new NetworkStream(pair.Server, ownsSocket: false);
        pair.Server.Shutdown(SocketShutdown.Send);
        using var outbox = new FrameOutbox(1 << 20);
        Assert.IsTrue(outbox.TryAppendShared(Block(9, FrameOutbox.SharedBlockMinBytes), frames: 1));
        outbox.Complete();

        var failed = await Assert.ThrowsExactlyAsync<IOException>(() => outbox.RunAsync(network, CancellationToken.None).WaitAsync(Timeout));

        var cause = Assert.IsInstanceOfType<SocketException>(failed.InnerException);
        Assert.AreEqual($"Unable to write data to the transport connection: {cause.Message}", failed.Message);
    }

    [TestMethod]
    public void BeginAppend_OnAClosedOutbox_GivesNoWriter_AndItsCommitFails()
    {
        using var outbox = new FrameOutbox(1024);
        outbox.Complete();

        using (var append = outbox.BeginAppend())
        {
            Assert.IsNull(append.Writer);
            Assert.IsFalse(append.Commit());
        }

        Assert.IsFalse(outbox.TryAppend(0, static (w, _) => w.WriteRaw(new byte[] { 1, 2, 3 })));
        Assert.AreEqual(0, outbox.PendingBytes, "nothing was written into a closed outbox");
    }

    [TestMethod]
    public void ACommitOfNothing_Succeeds_WithoutSchedulingASend_AndASecondCommitFails()
    {
        using var outbox = new FrameOutbox(1024);
        using (var append = outbox.BeginAppend())
        {
            Assert.IsNotNull(append.Writer);
            Assert.IsTrue(append.Commit());
            Assert.IsFalse(append.Commit(), "a scope commits once");
            Assert.IsNull(append.Writer, "and takes no more frames after its commit");
        }

        Assert.IsFalse(outbox.HasQueued);
    }

    [TestMethod]
    public async Task AZeroIntervalScheduler_WakesTheLoopAtOnce_WithoutATimerRound()
    {
        using var scheduler = new FlushScheduler(TimeSpan.Zero);
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1024, scheduler);
        var loop = outbox.RunAsync(stream, CancellationToken.None);

        Assert.IsTrue(outbox.TryAppend(new byte[] { 1 }));
        await stream.WaitForBytesAsync(1).WaitAsync(Timeout);

        Assert.AreEqual(0, scheduler.Rounds);
        Assert.IsFalse(scheduler.IsArmed);
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task ADisposedScheduler_WakesItsOutboxesAtOnce()
    {
        var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        scheduler.Dispose();
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1024, scheduler);
        var loop = outbox.RunAsync(stream, CancellationToken.None);

        Assert.IsTrue(outbox.TryAppend(new byte[] { 1 }));
        await stream.WaitForBytesAsync(1).WaitAsync(Timeout);

        Assert.IsFalse(scheduler.IsArmed, "no timer is armed after Dispose");
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task TheSendLoop_NeverRunsOnTheAppendersThread()
    {
        // An append holds the outbox's lock; a send loop resumed inline by it would write to the socket under that lock.
        var stream = new GateStream();
        using var outbox = new FrameOutbox(1024);
        var loop = outbox.RunAsync(stream, CancellationToken.None);
        for (int i = 0; i < 20; i++)
        {
            stream.Appender = Environment.CurrentManagedThreadId;
            Assert.IsTrue(outbox.TryAppend(new byte[] { (byte)i }));
            stream.Appender = -1;
            await stream.WaitForBytesAsync(i + 1).WaitAsync(Timeout);
        }

        Assert.AreEqual(0, stream.WritesOnTheAppendersThread);
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    private static byte[] Block(byte fill, int length) => Enumerable.Repeat(fill, length).ToArray();

    /// <summary>A connected pair of loopback TCP sockets.</summary>
    private sealed class SocketPair : IDisposable
    {
        private readonly TcpListener listener;

        private SocketPair(TcpListener listener, TcpClient client, Socket server)
        {
            this.listener = listener;
            Client = client;
            Server = server;
        }

        public TcpClient Client { get; }

        public Socket Server { get; }

        public static async Task<SocketPair> ConnectAsync()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port).WaitAsync(Timeout);
            var server = await listener.AcceptSocketAsync().WaitAsync(Timeout);
            return new SocketPair(listener, client, server);
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
            listener.Stop();
        }
    }

    /// <summary>
    /// A write-only stream that records its writes and flushes, signals when enough bytes arrived, can hold its next
    /// write until released, and notes a write made on the thread the test marked as appending.
    /// </summary>
    private sealed class GateStream : Stream
    {
        private readonly object gate = new();
        private readonly List<byte> written = new();
        private readonly List<(int Count, TaskCompletionSource Done)> waiters = new();
        private readonly TaskCompletionSource writeHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? hold;
        private int writes;
        private int flushes;
        private int writesOnTheAppendersThread;

        public volatile int Appender = -1;

        public byte[] Written
        {
            get
            {
                lock (gate)
                {
                    return written.ToArray();
                }
            }
        }

        public int Writes => Volatile.Read(ref writes);

        public int Flushes => Volatile.Read(ref flushes);

        public int WritesOnTheAppendersThread => Volatile.Read(ref writesOnTheAppendersThread);

        public Task WriteHeld => writeHeld.Task;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void HoldNextWrite() => hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => hold?.TrySetResult();

        public Task WaitForBytesAsync(int count)
        {
            lock (gate)
            {
                if (written.Count >= count)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                waiters.Add((count, done));
                return done.Task;
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Environment.CurrentManagedThreadId == Appender)
            {
                Interlocked.Increment(ref writesOnTheAppendersThread);
            }

            if (hold is { } held)
            {
                writeHeld.TrySetResult();
                await held.Task.ConfigureAwait(false);
            }

            Write(buffer.Span);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (gate)
            {
                writes++;
                written.AddRange(buffer.ToArray());
                foreach (var waiter in waiters.Where(w => written.Count >= w.Count).ToList())
                {
                    waiters.Remove(waiter);
                    waiter.Done.TrySetResult();
                }
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref flushes);
            return Task.CompletedTask;
        }

        public override void Flush() => Interlocked.Increment(ref flushes);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
