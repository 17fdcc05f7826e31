using System.Threading.Tasks.Sources;

namespace Pastry.Wire;

/// <summary>
/// The frames waiting to go out on one connection: the one outbox of every TCP end (Client Agent sessions, both ends
/// of the Message Director link, the client library). Producers append whole frames under a short lock; one send loop
/// swaps the buffer out and writes it, so everything appended while a send is in flight leaves in the next write
/// (PERFORMANCE: "batching decides everything"), and appending allocates nothing.
/// </summary>
/// <remarks>
/// <para>It is event-driven: the first append after a send asks its <see cref="FlushScheduler"/> for a send, which
/// comes within the scheduler's interval, coalesced with every other append of that interval; without a scheduler
/// the send loop wakes at once. Nothing runs while nothing is queued.</para>
/// <para>It is bounded: an append that would pass <see cref="MaxBytes"/> is refused (the caller drops the connection,
/// eject 346 on a client session) rather than buffered without limit. <see cref="TrimIfIdle"/>, called now and then by
/// the owner, gives back buffers that grew past <see cref="IdleRetainedBytes"/> once nothing was sent since its last
/// call, so that a burst does not pin its peak memory (and a busy connection keeps its buffers).</para>
/// </remarks>
internal sealed class FrameOutbox : IDisposable
{
    /// <summary>The most bytes an idle outbox keeps per buffer; <see cref="TrimIfIdle"/> gives larger ones back.</summary>
    public const int IdleRetainedBytes = 16 * 1024;

    private readonly object gate = new();
    private readonly FlushScheduler? scheduler;
    private readonly WakeSignal ready = new();
    private PooledBufferWriter pending = new(256);
    private PooledBufferWriter sending = new(256);
    private bool signalled;
    private bool completed;
    private bool disposed;
    private bool writing;
    private int sendsSinceTrim;
    private int appendStart;
    private bool appendOpen;

    /// <summary>Creates an outbox that holds at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="maxBytes">The bound.</param>
    /// <param name="scheduler">Coalesces sends within its interval; null sends as soon as frames are queued.</param>
    public FrameOutbox(int maxBytes, FlushScheduler? scheduler = null)
    {
        if (maxBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "The outbox must hold at least one byte.");
        }

        MaxBytes = maxBytes;
        this.scheduler = scheduler;
    }

    /// <summary>The most bytes it holds before appends are refused.</summary>
    public int MaxBytes { get; }

    /// <summary>Bytes waiting to be sent (not counting a write in flight).</summary>
    public int PendingBytes
    {
        get
        {
            lock (gate)
            {
                return pending.WrittenCount;
            }
        }
    }

    /// <summary>Bytes of buffers it holds now, used or not (what <see cref="TrimIfIdle"/> gives back).</summary>
    public int RetainedBytes
    {
        get
        {
            lock (gate)
            {
                return pending.Capacity + sending.Capacity;
            }
        }
    }

    /// <summary>Whether frames are queued or a send of them is scheduled.</summary>
    public bool HasQueued
    {
        get
        {
            lock (gate)
            {
                return pending.WrittenCount > 0 || signalled;
            }
        }
    }

    /// <summary>Whether it takes no more frames (completed or disposed).</summary>
    public bool IsClosed
    {
        get
        {
            lock (gate)
            {
                return completed || disposed;
            }
        }
    }

    /// <summary>
    /// Starts an append: holds the outbox's lock until the scope is disposed, and lets the caller write frames straight
    /// into the queue. <see cref="AppendScope.Commit"/> keeps them when they fit; otherwise they are taken back.
    /// </summary>
    public AppendScope BeginAppend()
    {
        Monitor.Enter(gate);
        return new AppendScope(this, pending.WrittenCount);
    }

    /// <summary>Appends one or more whole frames; false when they do not fit or the outbox is closed.</summary>
    public bool TryAppend(ReadOnlySpan<byte> frames)
    {
        using var append = BeginAppend();
        if (append.Writer is not { } writer || writer.WrittenCount + frames.Length > MaxBytes)
        {
            return false;
        }

        writer.WriteRaw(frames);
        return append.Commit();
    }

    /// <summary>Appends frames written by <paramref name="write"/> from <paramref name="state"/> without a closure; false when they do not fit or the outbox is closed.</summary>
    public bool TryAppend<TState>(TState state, Action<PooledBufferWriter, TState> write)
    {
        using var append = BeginAppend();
        if (append.Writer is not { } writer)
        {
            return false;
        }

        write(writer, state);
        return append.Commit();
    }

    /// <summary>Appends a last frame even past the bound (an eject must reach the client), then closes. False once closed.</summary>
    public bool AppendFinal(ReadOnlySpan<byte> frame)
    {
        lock (gate)
        {
            if (completed || disposed)
            {
                return false;
            }

            pending.WriteRaw(frame);
            completed = true;
            ScheduleLocked();
            return true;
        }
    }

    /// <summary>
    /// Drops the frames not yet handed to the socket and queues <paramref name="frame"/> as the last one: a slow
    /// consumer's backlog is of no use to it, but its eject (346) says why the connection ends. The batch already being
    /// written holds whole frames, so the eject starts on a frame boundary. False once closed.
    /// </summary>
    public bool ReplaceWithFinal(ReadOnlySpan<byte> frame)
    {
        lock (gate)
        {
            if (completed || disposed)
            {
                return false;
            }

            pending.Reset();
            pending.WriteRaw(frame);
            completed = true;
            ScheduleLocked();
            return true;
        }
    }

    /// <summary>Takes no more frames; the send loop ends once what is queued is written.</summary>
    public void Complete()
    {
        lock (gate)
        {
            if (completed || disposed)
            {
                return;
            }

            completed = true;
            ScheduleLocked();
        }
    }

    /// <summary>Wakes the send loop (its scheduler calls this). Waking an awake loop does nothing.</summary>
    internal void Wake() => ready.Set();

    /// <summary>Writes batches to <paramref name="stream"/> until <see cref="Complete"/> and the queue is empty, cancellation or a stream failure.</summary>
    public async Task RunAsync(Stream stream, CancellationToken cancellation)
    {
        // One registration for the whole loop: waiting for the next batch allocates nothing.
        using var wakeOnCancel = cancellation.Register(static state => ((WakeSignal)state!).Set(), ready);
        while (true)
        {
            await ready.WaitAsync().ConfigureAwait(false);
            cancellation.ThrowIfCancellationRequested();
            bool last;
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }

                (pending, sending) = (sending, pending);
                signalled = false;
                last = completed;
                writing = true;
                sendsSinceTrim++;
            }

            try
            {
                if (sending.WrittenCount > 0)
                {
                    long started = System.Diagnostics.Stopwatch.GetTimestamp();
                    await stream.WriteAsync(sending.WrittenMemory, cancellation).ConfigureAwait(false);
                    await stream.FlushAsync(cancellation).ConfigureAwait(false);
                    scheduler?.Flushed?.Invoke(sending.WrittenSpan, started);
                }
            }
            finally
            {
                lock (gate)
                {
                    writing = false;
                }
            }

            lock (gate)
            {
                if (disposed)
                {
                    return;
                }

                sending.Reset();
                if (last)
                {
                    if (pending.WrittenCount == 0)
                    {
                        return;
                    }

                    ready.Set();
                }
            }
        }
    }

    /// <summary>
    /// Gives back buffers larger than <see cref="IdleRetainedBytes"/> when nothing was sent since the last call and
    /// nothing is queued: call it now and then (the Client Agent does on its heartbeat sweep). Returns whether it did.
    /// </summary>
    public bool TrimIfIdle()
    {
        lock (gate)
        {
            bool idle = !disposed && !writing && !signalled && pending.WrittenCount == 0 && sendsSinceTrim == 0;
            sendsSinceTrim = 0;
            if (!idle)
            {
                return false;
            }

            return pending.Shrink(IdleRetainedBytes) | sending.Shrink(IdleRetainedBytes);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            completed = true;
            pending.Dispose();
            sending.Dispose();
        }

        ready.Set();
    }

    private void ScheduleLocked()
    {
        if (signalled)
        {
            return;
        }

        signalled = true;
        if (completed || scheduler is null)
        {
            Wake();
        }
        else
        {
            scheduler.Schedule(this);
        }
    }

    /// <summary>
    /// An append in progress, holding the outbox's lock: write frames to <see cref="Writer"/> (null when the outbox is
    /// closed), then <see cref="Commit"/>. Disposing without a commit takes the frames back. Keep it short.
    /// </summary>
    /// <remarks>Its state lives in the outbox (guarded by the lock it holds), so copies of it, such as the ones C# makes of a <c>using</c> variable, behave the same.</remarks>
    public readonly ref struct AppendScope
    {
        private readonly FrameOutbox outbox;

        internal AppendScope(FrameOutbox outbox, int start)
        {
            this.outbox = outbox;
            outbox.appendStart = start;
            outbox.appendOpen = !(outbox.completed || outbox.disposed);
        }

        /// <summary>Where frames go; null when the outbox is closed.</summary>
        public PooledBufferWriter? Writer => outbox.appendOpen ? outbox.pending : null;

        /// <summary>Keeps what was written when it fits in the bound and schedules a send; otherwise takes it back and returns false.</summary>
        public bool Commit()
        {
            if (!outbox.appendOpen)
            {
                return false;
            }

            outbox.appendOpen = false;
            var writer = outbox.pending;
            if (writer.WrittenCount > outbox.MaxBytes)
            {
                writer.Rewind(outbox.appendStart);
                return false;
            }

            if (writer.WrittenCount > outbox.appendStart)
            {
                outbox.ScheduleLocked();
            }

            return true;
        }

        /// <summary>Takes back anything not committed and releases the outbox's lock.</summary>
        public void Dispose()
        {
            if (outbox.appendOpen)
            {
                outbox.appendOpen = false;
                outbox.pending.Rewind(outbox.appendStart);
            }

            Monitor.Exit(outbox.gate);
        }
    }
}

/// <summary>Observes one batch an outbox wrote: its bytes (whole frames) and the <see cref="System.Diagnostics.Stopwatch"/> timestamp when the write began.</summary>
internal delegate void FlushObserver(ReadOnlySpan<byte> batch, long startedTimestamp);

/// <summary>
/// Coalesces the sends of many outboxes: the first outbox that asks arms a one-shot timer, and when it fires every
/// outbox that asked meanwhile sends at once, so that many small frames leave in one write per connection. While no
/// outbox asks, no timer is armed: an idle server does not tick.
/// </summary>
internal sealed class FlushScheduler : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<FrameOutbox> dirty = new();
    private readonly Timer timer;
    private int armed;
    private long rounds;
    private bool disposed;

    /// <summary>Creates a scheduler that sends within <paramref name="interval"/> of the first append (zero: at once).</summary>
    public FlushScheduler(TimeSpan interval, FlushObserver? flushed = null)
    {
        Interval = interval;
        Flushed = flushed;
        timer = new Timer(static state => ((FlushScheduler)state!).Fire(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Told of every batch its outboxes wrote (metrics: frames and bytes per send, write time); none when null.</summary>
    public FlushObserver? Flushed { get; }

    /// <summary>How long appends are coalesced before their sends.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Whether a flush round is armed now (false whenever nothing is queued).</summary>
    public bool IsArmed => Volatile.Read(ref armed) == 1;

    /// <summary>Flush rounds run so far (for tests and metrics).</summary>
    public long Rounds => Interlocked.Read(ref rounds);

    /// <summary>Asks for a send of <paramref name="outbox"/> in the next round (arming one if none is).</summary>
    public void Schedule(FrameOutbox outbox)
    {
        if (Interval <= TimeSpan.Zero || Volatile.Read(ref disposed))
        {
            outbox.Wake();
            return;
        }

        dirty.Enqueue(outbox);
        if (Interlocked.CompareExchange(ref armed, 1, 0) == 0)
        {
            timer.Change(Interval, Timeout.InfiniteTimeSpan);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Volatile.Write(ref disposed, true);
        timer.Dispose();
        Fire();
    }

    private void Fire()
    {
        // Disarmed before draining: an outbox queued from here on arms the next round, one queued before is drained now.
        Volatile.Write(ref armed, 0);
        Interlocked.Increment(ref rounds);
        while (dirty.TryDequeue(out var outbox))
        {
            outbox.Wake();
        }
    }
}

/// <summary>
/// An auto-reset event for one waiter (a send loop) and any number of wakers, awaited without allocating: a wake
/// while the loop is busy is remembered, and several wakes before the next wait count as one.
/// </summary>
internal sealed class WakeSignal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Signalled = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> core = new() { RunContinuationsAsynchronously = true };
    private int state;

    /// <summary>Completes at the next <see cref="Set"/>, or at once when one happened since the last wait. One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref state, Idle, Signalled) == Signalled)
        {
            return default;
        }

        core.Reset();
        if (Interlocked.CompareExchange(ref state, Waiting, Idle) == Idle)
        {
            return new ValueTask(this, core.Version);
        }

        // Set between the two steps: consume it.
        Volatile.Write(ref state, Idle);
        return default;
    }

    /// <summary>Wakes the waiter, or remembers the wake for its next wait.</summary>
    public void Set()
    {
        while (true)
        {
            switch (Volatile.Read(ref state))
            {
                case Signalled:
                    return;
                case Idle:
                    if (Interlocked.CompareExchange(ref state, Signalled, Idle) == Idle)
                    {
                        return;
                    }

                    break;
                default:
                    if (Interlocked.CompareExchange(ref state, Idle, Waiting) == Waiting)
                    {
                        core.SetResult(true);
                        return;
                    }

                    break;
            }
        }
    }

    void IValueTaskSource.GetResult(short token) => core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        core.OnCompleted(continuation, state, token, flags);
}
