using System.Threading.Tasks.Sources;

namespace Pastry.Wire;

/// <summary>
/// The frames waiting to go out on one connection: the one outbox of every TCP end (Client Agent sessions, both ends
/// of the Message Director link, the client library). Producers append whole frames under a short lock; one send loop
/// swaps the buffer out and writes it, so everything appended while a send is in flight leaves in the next write
/// (PERFORMANCE: "batching decides everything"), and appending allocates nothing.
/// </summary>
/// <remarks>
/// <para>Frames are copied into the outbox's own buffer, except a shared block (<see cref="TryAppendShared"/>): a run
/// of frames encoded once for many connections (a location's broadcast batch), which the outbox only references. A
/// send over a socket hands the kernel its own bytes and the shared blocks in one gathered write; over any other
/// stream (TLS, WebSocket) it copies them into one buffer first, so that the stream sees the same single write.</para>
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
    private OutboxBatch pending = new();
    private OutboxBatch sending = new();

    // The gathered write's list (socket sends) or the one buffer a stream's write is copied into; only the send loop uses them.
    private readonly List<ArraySegment<byte>> gathered = new();
    private PooledBufferWriter? flattened;
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
                return pending.Bytes;
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
                return pending.Own.Capacity + sending.Own.Capacity + (flattened?.Capacity ?? 0);
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
                return pending.Bytes > 0 || signalled;
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
        return new AppendScope(this, pending.Own.WrittenCount);
    }

    /// <summary>Appends one or more whole frames; false when they do not fit or the outbox is closed.</summary>
    public bool TryAppend(ReadOnlySpan<byte> frames)
    {
        using var append = BeginAppend();
        if (append.Writer is null || pending.Bytes + frames.Length > MaxBytes)
        {
            return false;
        }

        append.Writer.WriteRaw(frames);
        return append.Commit();
    }

    /// <summary>
    /// Appends whole frames that other outboxes send too, by reference: <paramref name="block"/> must not change
    /// afterwards (a broadcast batch's payload, encoded once per flush round). Small blocks, and blocks not backed by an
    /// array, are copied as <see cref="TryAppend(ReadOnlySpan{byte})"/> would. False when they do not fit or the outbox
    /// is closed. <paramref name="frames"/> is how many whole frames the block holds, as its producer counted them: the
    /// outbox reports it to its flush observer instead of reading every frame header of a block once per receiver.
    /// </summary>
    public bool TryAppendShared(ReadOnlyMemory<byte> block, int frames)
    {
        if (block.Length < SharedBlockMinBytes || !System.Runtime.InteropServices.MemoryMarshal.TryGetArray(block, out var segment))
        {
            return TryAppend(block.Span);
        }

        lock (gate)
        {
            if (completed || disposed || pending.Bytes + block.Length > MaxBytes)
            {
                return false;
            }

            pending.AddShared(segment, frames);
            ScheduleLocked();
            return true;
        }
    }

    /// <summary>The smallest block <see cref="TryAppendShared"/> references; smaller ones cost less to copy than to gather.</summary>
    public const int SharedBlockMinBytes = 1024;

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

            pending.Own.WriteRaw(frame);
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
            pending.Own.WriteRaw(frame);
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
                if (sending.Bytes > 0)
                {
                    long started = System.Diagnostics.Stopwatch.GetTimestamp();
                    await WriteAsync(stream, cancellation).ConfigureAwait(false);
                    if (scheduler?.Flushed is { } flushed)
                    {
                        flushed(sending.Bytes, sending.CountFrames(), started);
                    }
                }
            }
            finally
            {
                lock (gate)
                {
                    writing = false;
                    if (disposed)
                    {
                        // Dispose ran while this write was reading the batch's buffers: they go back to the pool only now.
                        ReleaseSendBuffersLocked();
                    }
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
                    if (pending.Bytes == 0)
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
            bool idle = !disposed && !writing && !signalled && pending.Bytes == 0 && sendsSinceTrim == 0;
            sendsSinceTrim = 0;
            if (!idle)
            {
                return false;
            }

            bool flattenedGiven = flattened is not null;
            flattened?.Dispose();
            flattened = null;
            return pending.Own.Shrink(IdleRetainedBytes) | sending.Own.Shrink(IdleRetainedBytes) | flattenedGiven;
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
            if (!writing)
            {
                // A write in progress still reads these buffers (a pooled array another connection could rent next):
                // the send loop gives them back when that write returns.
                ReleaseSendBuffersLocked();
            }
        }

        ready.Set();
    }

    private void ReleaseSendBuffersLocked()
    {
        sending.Dispose();
        flattened?.Dispose();
        flattened = null;
    }

    /// <summary>
    /// Writes the batch being sent: its own bytes alone in one write; with shared blocks, one gathered socket send over
    /// a plain socket, else one write of everything copied together (the stream's framing stays one write per batch).
    /// </summary>
    private async ValueTask WriteAsync(Stream stream, CancellationToken cancellation)
    {
        if (!sending.HasShared)
        {
            await stream.WriteAsync(sending.Own.WrittenMemory, cancellation).ConfigureAwait(false);
            await stream.FlushAsync(cancellation).ConfigureAwait(false);
            return;
        }

#if NET
        // (netstandard2.1, the client library's Unity build, cannot reach a NetworkStream's socket: it copies.)
        if (stream is System.Net.Sockets.NetworkStream { Socket: { } socket })
        {
            gathered.Clear();
            sending.CollectSegments(gathered);
            try
            {
                await SendGatheredAsync(socket, gathered, cancellation).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                // What a NetworkStream's write would have thrown: the session's loop treats both the same way.
                throw new IOException($"Unable to write data to the transport connection: {ex.Message}", ex);
            }
            finally
            {
                gathered.Clear();
            }

            return;
        }
#endif

        var flat = flattened ??= new PooledBufferWriter(sending.Bytes);
        flat.Reset();
        sending.CopyTo(flat);
        await stream.WriteAsync(flat.WrittenMemory, cancellation).ConfigureAwait(false);
        await stream.FlushAsync(cancellation).ConfigureAwait(false);
        flat.Reset();
    }

#if NET
    /// <summary>
    /// Sends <paramref name="segments"/> in order, in as few sends as the socket takes: at most
    /// <see cref="MaxSegmentsPerSend"/> per call (the kernel's limit on one gathered write is 1,024), and whatever a
    /// send left over goes in the next.
    /// </summary>
    private static async ValueTask SendGatheredAsync(System.Net.Sockets.Socket socket, List<ArraySegment<byte>> segments, CancellationToken cancellation)
    {
        int first = 0;
        var window = new List<ArraySegment<byte>>(Math.Min(segments.Count, MaxSegmentsPerSend));
        while (first < segments.Count)
        {
            cancellation.ThrowIfCancellationRequested();
            window.Clear();
            for (int i = first; i < segments.Count && window.Count < MaxSegmentsPerSend; i++)
            {
                window.Add(segments[i]);
            }

            int sent = await socket.SendAsync(window, System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
            if (sent <= 0)
            {
                throw new IOException("The connection took no more bytes.");
            }

            // Skip the segments the send took whole, and start the next send inside the one it took in part.
            while (first < segments.Count && sent >= segments[first].Count)
            {
                sent -= segments[first].Count;
                first++;
            }

            if (sent > 0)
            {
                segments[first] = segments[first].Slice(sent);
            }
        }
    }

    /// <summary>The most segments one gathered send carries.</summary>
    private const int MaxSegmentsPerSend = 512;
#endif

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
        public PooledBufferWriter? Writer => outbox.appendOpen ? outbox.pending.Own : null;

        /// <summary>Keeps what was written when it fits in the bound and schedules a send; otherwise takes it back and returns false.</summary>
        public bool Commit()
        {
            if (!outbox.appendOpen)
            {
                return false;
            }

            outbox.appendOpen = false;
            var writer = outbox.pending.Own;
            if (outbox.pending.Bytes > outbox.MaxBytes)
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
                outbox.pending.Own.Rewind(outbox.appendStart);
            }

            Monitor.Exit(outbox.gate);
        }
    }
}

/// <summary>Observes one batch an outbox wrote: its bytes, the whole frames in it, and the <see cref="System.Diagnostics.Stopwatch"/> timestamp when the write began.</summary>
internal delegate void FlushObserver(int bytes, int frames, long startedTimestamp);

/// <summary>
/// One side of an outbox's double buffer: frames copied into its own buffer, in order with shared blocks it only
/// references (see <see cref="FrameOutbox.TryAppendShared"/>). Not thread-safe: the outbox's lock guards it.
/// </summary>
internal sealed class OutboxBatch : IDisposable
{
    // Empty while no shared block is queued (the common case: one write of Own). Otherwise the batch in order: runs of
    // Own (Shared null; Offset and Count index Own) and shared blocks.
    private readonly List<Piece> pieces = new();

    // Own's bytes before this offset are listed in pieces.
    private int listedOwn;

    /// <summary>The frames copied in; appends write here.</summary>
    public PooledBufferWriter Own { get; } = new(256);

    /// <summary>Bytes of the shared blocks referenced.</summary>
    public int SharedBytes { get; private set; }

    /// <summary>Every byte queued: own and shared.</summary>
    public int Bytes => Own.WrittenCount + SharedBytes;

    /// <summary>Whether a shared block is queued.</summary>
    public bool HasShared => SharedBytes > 0;

    /// <summary>Frames in the shared blocks referenced, as their producers counted them.</summary>
    public int SharedFrames { get; private set; }

    /// <summary>Queues a reference to <paramref name="block"/>, which holds <paramref name="frames"/> whole frames, after what is queued.</summary>
    public void AddShared(ArraySegment<byte> block, int frames)
    {
        ListOwnTail();
        pieces.Add(new Piece(block.Array, block.Offset, block.Count));
        SharedBytes += block.Count;
        SharedFrames += frames;
    }

    /// <summary>Adds the batch's segments in order (own runs as segments of Own's buffer) to <paramref name="into"/>.</summary>
    public void CollectSegments(List<ArraySegment<byte>> into)
    {
        ListOwnTail();
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(Own.WrittenMemory, out var own);
        foreach (var piece in pieces)
        {
            into.Add(piece.Shared is null ? own.Slice(piece.Offset, piece.Count) : new ArraySegment<byte>(piece.Shared, piece.Offset, piece.Count));
        }
    }

    /// <summary>Copies the whole batch, in order, into <paramref name="into"/>.</summary>
    public void CopyTo(PooledBufferWriter into)
    {
        ListOwnTail();
        foreach (var piece in pieces)
        {
            into.WriteRaw(SpanOf(piece));
        }
    }

    /// <summary>
    /// How many whole frames the batch holds: the copied ones are counted here (Own holds only them, back to back), the
    /// shared blocks' were counted once by whoever encoded them. Walking a shared block's frames here would cost every
    /// receiver a read of every frame header, which is what sharing the block saves (10% of the server's CPU at the
    /// fan-out peak when it did).
    /// </summary>
    public int CountFrames() => Frame.CountWhole(Own.WrittenSpan) + SharedFrames;

    /// <summary>Forgets everything queued (and lets go of the shared blocks).</summary>
    public void Reset()
    {
        Own.Reset();
        pieces.Clear();
        listedOwn = 0;
        SharedBytes = 0;
        SharedFrames = 0;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        pieces.Clear();
        SharedBytes = 0;
        SharedFrames = 0;
        Own.Dispose();
    }

    private ReadOnlySpan<byte> SpanOf(Piece piece) =>
        piece.Shared is null ? Own.WrittenSpan.Slice(piece.Offset, piece.Count) : piece.Shared.AsSpan(piece.Offset, piece.Count);

    // Lists the own bytes written since the last listing as one run, so that they keep their place before what comes next.
    private void ListOwnTail()
    {
        if (Own.WrittenCount > listedOwn)
        {
            pieces.Add(new Piece(null, listedOwn, Own.WrittenCount - listedOwn));
            listedOwn = Own.WrittenCount;
        }
    }

    /// <summary>A run of the batch: a shared block's bytes, or (Shared null) a run of Own.</summary>
    private readonly record struct Piece(byte[]? Shared, int Offset, int Count);
}

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
