using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The one outbox of every TCP end: appends never wait for the socket, are bounded, leave in batches coalesced by a
/// scheduler that arms nothing while nothing is queued, and an idle outbox gives back what a burst grew.
/// </summary>
[TestClass]
public sealed class FrameOutboxTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    [TestMethod]
    public async Task Complete_EndsTheLoopAfterWritingEverythingAppended()
    {
        using var outbox = new FrameOutbox(1024);
        using var stream = new MemoryStream();
        Assert.IsTrue(outbox.TryAppend(0, static (w, _) => ClientFrames.WriteEmpty(w, MessageType.Heartbeat)));
        Assert.IsTrue(outbox.TryAppend(0, static (w, _) => ClientFrames.WriteEmpty(w, MessageType.Disconnect)));
        outbox.Complete();

        await outbox.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);

        // Two empty frames: uint32 length (2) and uint16 type each.
        Assert.AreEqual(2 * Frame.HeaderSize, stream.Length);
    }

    [TestMethod]
    public async Task Complete_WhileTheLoopWaits_EndsItWithoutAnException()
    {
        using var outbox = new FrameOutbox(1024);
        using var stream = new MemoryStream();
        var loop = outbox.RunAsync(stream, CancellationToken.None);
        Assert.IsTrue(outbox.TryAppend(0, static (w, _) => ClientFrames.WriteEmpty(w, MessageType.Disconnect)));
        outbox.Complete();

        await loop.WaitAsync(Timeout);

        Assert.IsTrue(loop.IsCompletedSuccessfully);
        Assert.AreEqual(Frame.HeaderSize, stream.Length);
    }

    [TestMethod]
    public void TryAppend_AfterComplete_IsRefused()
    {
        using var outbox = new FrameOutbox(1024);
        outbox.Complete();

        Assert.IsFalse(outbox.TryAppend(new byte[] { 1, 2 }));
        Assert.IsFalse(outbox.TryAppend(0, static (w, _) => ClientFrames.WriteEmpty(w, MessageType.Heartbeat)));
        Assert.IsTrue(outbox.IsClosed);
    }

    [TestMethod]
    public void TryAppend_PastTheBound_IsRefused_AndWhatWasWrittenIsTakenBack()
    {
        using var outbox = new FrameOutbox(10);
        Assert.IsTrue(outbox.TryAppend(new byte[6]));

        Assert.IsFalse(outbox.TryAppend(new byte[5]), "6 + 5 bytes pass the bound of 10");
        Assert.IsFalse(outbox.TryAppend(0, static (w, _) => w.WriteRaw(new byte[5])), "frames written in place are taken back too");
        Assert.AreEqual(6, outbox.PendingBytes);
        Assert.IsTrue(outbox.TryAppend(new byte[4]), "what fits still fits");
        Assert.IsFalse(outbox.IsClosed, "a refusal does not close the outbox: its owner decides (eject 346)");
    }

    [TestMethod]
    public void BeginAppend_DisposedWithoutCommit_TakesTheFramesBack()
    {
        using var outbox = new FrameOutbox(1024);
        using (var append = outbox.BeginAppend())
        {
            append.Writer!.WriteRaw(new byte[] { 1, 2, 3 });
        }

        Assert.AreEqual(0, outbox.PendingBytes);
        Assert.IsFalse(outbox.HasQueued, "nothing was committed, so no send is scheduled");
    }

    [TestMethod]
    public async Task AppendFinal_PastTheBound_IsSent_AndClosesTheOutbox()
    {
        using var outbox = new FrameOutbox(4);
        using var stream = new MemoryStream();
        Assert.IsTrue(outbox.TryAppend(new byte[] { 1, 2, 3 }));

        Assert.IsTrue(outbox.AppendFinal(new byte[] { 4, 5, 6 }), "an eject must reach the client even from a full outbox");
        Assert.IsFalse(outbox.TryAppend(new byte[] { 7 }));
        await outbox.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);

        CollectionAssert.AreEqual(new byte[] { 1, 2, 3, 4, 5, 6 }, stream.ToArray());
    }

    [TestMethod]
    public async Task AppendsWithinOneRound_LeaveInOneWritePerOutbox_InOrder()
    {
        // An interval that never elapses in the test: the round runs when the scheduler is disposed, so what the
        // round coalesces does not depend on how fast the box is.
        var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        var streams = new[] { new RecordingStream(), new RecordingStream() };
        var outboxes = streams.Select(_ => new FrameOutbox(4096, scheduler)).ToArray();
        using var stop = new CancellationTokenSource();
        var loops = outboxes.Select((outbox, i) => outbox.RunAsync(streams[i], stop.Token)).ToArray();

        for (byte frame = 0; frame < 100; frame++)
        {
            Assert.IsTrue(outboxes[0].TryAppend(new[] { frame }));
            Assert.IsTrue(outboxes[1].TryAppend(new[] { (byte)(frame + 1) }));
        }

        Assert.IsTrue(scheduler.IsArmed);
        Assert.AreEqual(0, scheduler.Rounds);
        scheduler.Dispose();
        await Task.WhenAll(streams.Select(s => s.WaitForBytesAsync(100))).WaitAsync(Timeout);

        Assert.AreEqual(1, streams[0].Writes, "a hundred appends, one write");
        Assert.AreEqual(1, streams[1].Writes);
        CollectionAssert.AreEqual(Enumerable.Range(0, 100).Select(i => (byte)i).ToArray(), streams[0].Written);
        await CloseAsync(outboxes, loops);
    }

    [TestMethod]
    public async Task Scheduler_ArmsOnlyWhileFramesWait_AndAFrameAfterAnIdlePauseStillLeaves()
    {
        using var scheduler = new FlushScheduler(TimeSpan.FromMilliseconds(2));
        var stream = new RecordingStream();
        var outbox = new FrameOutbox(4096, scheduler);
        using var stop = new CancellationTokenSource();
        var loop = outbox.RunAsync(stream, stop.Token);
        Assert.IsFalse(scheduler.IsArmed, "nothing queued, nothing armed: an idle server does not tick");

        Assert.IsTrue(outbox.TryAppend(new byte[] { 1, 1 }));
        await stream.WaitForBytesAsync(2).WaitAsync(Timeout);
        Assert.IsFalse(scheduler.IsArmed, "the round that sent it disarmed the scheduler");
        long rounds = scheduler.Rounds;

        Assert.IsTrue(outbox.TryAppend(new byte[] { 1, 2 }));
        await stream.WaitForBytesAsync(4).WaitAsync(Timeout);

        CollectionAssert.AreEqual(new byte[] { 1, 1, 1, 2 }, stream.Written);
        Assert.IsGreaterThan(rounds, scheduler.Rounds);
        await CloseAsync(new[] { outbox }, new[] { loop });
    }

    [TestMethod]
    public async Task TrimIfIdle_GivesBackWhatABurstGrew_OnlyOnceNothingWasSentSinceTheLastCall()
    {
        using var outbox = new FrameOutbox(1 << 20);
        var stream = new RecordingStream();
        using var stop = new CancellationTokenSource();
        var loop = outbox.RunAsync(stream, stop.Token);
        Assert.IsTrue(outbox.TryAppend(new byte[256 * 1024]));
        await stream.WaitForBytesAsync(256 * 1024).WaitAsync(Timeout);
        Assert.IsGreaterThanOrEqualTo(256 * 1024, outbox.RetainedBytes, "the burst grew a buffer");

        // The first sweep after a send only notes it; a sweep with no send since then trims.
        using var timeout = new CancellationTokenSource(Timeout);
        while (!outbox.TrimIfIdle())
        {
            await Task.Delay(1, timeout.Token);
        }

        Assert.IsLessThanOrEqualTo(2 * FrameOutbox.IdleRetainedBytes, outbox.RetainedBytes);
        Assert.IsTrue(outbox.TryAppend(new byte[] { 9 }), "a trimmed outbox still sends");
        await stream.WaitForBytesAsync((256 * 1024) + 1).WaitAsync(Timeout);
        await CloseAsync(new[] { outbox }, new[] { loop });
    }

    [TestMethod]
    public async Task SharedBlocks_BetweenCopiedFrames_LeaveInOrder_InOneWriteOfAStream()
    {
        var shared = Block(1, FrameOutbox.SharedBlockMinBytes);
        var scheduler = new FlushScheduler(TimeSpan.FromHours(1));
        var streams = new[] { new RecordingStream(), new RecordingStream() };
        var outboxes = streams.Select(_ => new FrameOutbox(1 << 20, scheduler)).ToArray();
        using var stop = new CancellationTokenSource();
        var loops = outboxes.Select((outbox, i) => outbox.RunAsync(streams[i], stop.Token)).ToArray();
        foreach (var outbox in outboxes)
        {
            Assert.IsTrue(outbox.TryAppend(new byte[] { 7, 7 }));
            Assert.IsTrue(outbox.TryAppendShared(shared, frames: 1));
            Assert.IsTrue(outbox.TryAppend(new byte[] { 8 }));
            Assert.IsTrue(outbox.TryAppendShared(shared, frames: 1));
        }

        Assert.AreEqual(3 + (2 * shared.Length), outboxes[0].PendingBytes, "a shared block counts toward the bound as copied bytes do");
        scheduler.Dispose();
        int total = 3 + (2 * shared.Length);
        await Task.WhenAll(streams.Select(s => s.WaitForBytesAsync(total))).WaitAsync(Timeout);

        byte[] expected = [7, 7, .. shared, 8, .. shared];
        foreach (var stream in streams)
        {
            Assert.AreEqual(1, stream.Writes, "a stream (TLS, WebSocket) still sees one write per batch");
            CollectionAssert.AreEqual(expected, stream.Written);
        }

        await CloseAsync(outboxes, loops);
    }

    [TestMethod]
    public async Task SharedBlocks_OverASocket_AreGathered_InOrder()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, ((System.Net.IPEndPoint)listener.LocalEndpoint).Port).WaitAsync(Timeout);
        using var server = await listener.AcceptSocketAsync().WaitAsync(Timeout);
        using var outbox = new FrameOutbox(4 << 20);
        var blocks = Enumerable.Range(1, 600).Select(i => Block((byte)i, FrameOutbox.SharedBlockMinBytes + i)).ToArray();
        var expected = new List<byte>();
        foreach (var block in blocks)
        {
            Assert.IsTrue(outbox.TryAppend(new byte[] { 0, (byte)block.Length }));
            Assert.IsTrue(outbox.TryAppendShared(block, frames: 1));
            expected.AddRange([0, (byte)block.Length]);
            expected.AddRange(block);
        }

        outbox.Complete();
        var sending = outbox.RunAsync(new System.Net.Sockets.NetworkStream(server, ownsSocket: false), CancellationToken.None);
        var received = new byte[expected.Count];
        await client.GetStream().ReadExactlyAsync(received).AsTask().WaitAsync(Timeout);
        await sending.WaitAsync(Timeout);

        CollectionAssert.AreEqual(expected.ToArray(), received, "1,200 pieces (more than one gathered send takes), every byte in order");
    }

    [TestMethod]
    public void SharedBlock_PastTheBound_IsRefused_AndAReplacementDropsWhatWasShared()
    {
        using var outbox = new FrameOutbox(FrameOutbox.SharedBlockMinBytes + 10);
        var block = Block(3, FrameOutbox.SharedBlockMinBytes);
        Assert.IsTrue(outbox.TryAppendShared(block, frames: 1));
        Assert.IsFalse(outbox.TryAppendShared(block, frames: 1), "twice the block passes the bound");
        Assert.IsFalse(outbox.TryAppend(new byte[11]));
        Assert.IsTrue(outbox.TryAppend(new byte[10]));

        Assert.IsTrue(outbox.ReplaceWithFinal(new byte[] { 1, 2, 3 }));
        Assert.AreEqual(3, outbox.PendingBytes, "a slow consumer's backlog, shared or copied, gives way to its eject");
    }

    [TestMethod]
    public async Task FlushObserver_CountsCopiedFrames_AndTakesASharedBlocksFrameCountFromItsProducer()
    {
        // Two real frames copied (length prefix + 3 bytes each), and a shared block whose producer says it holds 7.
        byte[] copied = [3, 0, 0, 0, 1, 2, 3, 3, 0, 0, 0, 4, 5, 6];
        var shared = Block(9, FrameOutbox.SharedBlockMinBytes);
        var reported = new TaskCompletionSource<(int Bytes, int Frames)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var scheduler = new FlushScheduler(TimeSpan.Zero, (bytes, frames, _) => reported.TrySetResult((bytes, frames)));
        var stream = new RecordingStream();
        using var outbox = new FrameOutbox(1 << 20, scheduler);
        // Both appends before the send loop runs, so that they leave in one batch.
        Assert.IsTrue(outbox.TryAppend(copied));
        Assert.IsTrue(outbox.TryAppendShared(shared, frames: 7));

        using var stop = new CancellationTokenSource();
        var loop = outbox.RunAsync(stream, stop.Token);
        var (bytes, frames) = await reported.Task.WaitAsync(Timeout);

        Assert.AreEqual(copied.Length + shared.Length, bytes);
        Assert.AreEqual(2 + 7, frames, "the copied frames counted by their headers, the shared block's as its producer counted them (its bytes are never read)");
        outbox.Complete();
        await loop.WaitAsync(Timeout);
    }

    private static byte[] Block(byte fill, int length) => Enumerable.Repeat(fill, length).ToArray();

    private static async Task CloseAsync(FrameOutbox[] outboxes, Task[] loops)
    {
        foreach (var outbox in outboxes)
        {
            outbox.Complete();
        }

        await Task.WhenAll(loops).WaitAsync(Timeout);
        foreach (var outbox in outboxes)
        {
            outbox.Dispose();
        }
    }

    /// <summary>A write-only stream that records what the outbox wrote, in how many writes, and signals when enough has arrived.</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly object gate = new();
        private readonly List<byte> written = new();
        private readonly List<(int Count, TaskCompletionSource Done)> waiters = new();
        private int writes;

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

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

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

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
