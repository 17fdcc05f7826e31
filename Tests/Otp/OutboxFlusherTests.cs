using Pastry.Otp.ClientAgent;

namespace Pastry.Tests.Otp;

/// <summary>
/// The Client Agent's outbox flusher: frames appended to a session's outbox leave in the next tick's write, in the
/// order they were appended, for every session, also after a pause with nothing queued.
/// </summary>
[TestClass]
public sealed class OutboxFlusherTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task AppendedFrames_AreWrittenOnTheNextTick_ForEverySession_AlsoAfterAnIdlePause()
    {
        await using var flusher = new OutboxFlusher(TimeSpan.FromMilliseconds(2));
        var streams = new[] { new RecordingStream(), new RecordingStream(), new RecordingStream() };
        var outboxes = streams.Select(_ => new SessionOutbox(4096, flusher)).ToArray();
        using var stop = new CancellationTokenSource();
        var loops = outboxes.Select((outbox, i) => outbox.RunAsync(streams[i], stop.Token)).ToArray();

        for (int i = 0; i < outboxes.Length; i++)
        {
            Assert.IsTrue(outboxes[i].TryAppend(new byte[] { (byte)i, 1 }));
            Assert.IsTrue(outboxes[i].TryAppend(new byte[] { (byte)i, 2 }));
        }

        foreach (var stream in streams)
        {
            await stream.WaitForBytesAsync(4).WaitAsync(Timeout);
        }

        // Nothing is queued now; a later append still leaves on a tick.
        Assert.IsTrue(outboxes[1].TryAppend(new byte[] { 1, 3 }));
        await streams[1].WaitForBytesAsync(6).WaitAsync(Timeout);

        for (int i = 0; i < streams.Length; i++)
        {
            byte[] expected = i == 1 ? new byte[] { 1, 1, 1, 2, 1, 3 } : new byte[] { (byte)i, 1, (byte)i, 2 };
            CollectionAssert.AreEqual(expected, streams[i].Written, $"session {i}: frames in the order they were appended");
        }

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

    /// <summary>A write-only stream that records what the outbox wrote and signals when enough has arrived.</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly object gate = new();
        private readonly List<byte> written = new();
        private (int Count, TaskCompletionSource Done)? waiter;

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
                waiter = (count, done);
                return done.Task;
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (gate)
            {
                written.AddRange(buffer.ToArray());
                if (waiter is { } w && written.Count >= w.Count)
                {
                    waiter = null;
                    w.Done.TrySetResult();
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
