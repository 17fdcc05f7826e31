using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// The bytes waiting to go to one client. Producers append whole frames under a short lock; one send loop per session
/// swaps the buffer out and writes it to the socket, so everything appended while a send is in flight leaves in the
/// next batch (ARCHITECTURE 4; PERFORMANCE "batching decides everything"). The queue is bounded: an append that would
/// pass <c>maxBytes</c> fails, and the session is dropped as a slow consumer rather than buffered without bound.
/// </summary>
internal sealed class SessionOutbox : IDisposable
{
    private readonly object gate = new();
    private readonly int maxBytes;
    private readonly OutboxFlusher flusher;
    private readonly WakeSignal ready = new();
    private PooledBufferWriter pending = new(256);
    private PooledBufferWriter sending = new(256);
    private bool signalled;
    private bool completed;

    public SessionOutbox(int maxBytes, OutboxFlusher flusher)
    {
        this.maxBytes = maxBytes;
        this.flusher = flusher;
    }

    /// <summary>Bytes waiting to be sent.</summary>
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

    /// <summary>Appends one or more whole frames; false when the queue is full or closed.</summary>
    public bool TryAppend(ReadOnlySpan<byte> frames)
    {
        lock (gate)
        {
            if (completed || pending.WrittenCount + frames.Length > maxBytes)
            {
                return false;
            }

            pending.WriteRaw(frames);
            ScheduleLocked();
            return true;
        }
    }

    /// <summary>Appends a frame even when the queue is full (an eject must reach the client). False once completed.</summary>
    public bool AppendFinal(ReadOnlySpan<byte> frame)
    {
        lock (gate)
        {
            if (completed)
            {
                return false;
            }

            pending.WriteRaw(frame);
            completed = true;
            ScheduleLocked();
            return true;
        }
    }

    /// <summary>Stops accepting frames; the send loop ends after what is queued.</summary>
    public void Complete()
    {
        lock (gate)
        {
            completed = true;
            ScheduleLocked();
        }
    }

    /// <summary>Wakes the send loop (called by the flusher on its tick). Waking an awake loop does nothing.</summary>
    public void Wake() => ready.Set();

    /// <summary>Sends batches until <see cref="Complete"/> (or an eject) and the queue is empty.</summary>
    public async Task RunAsync(Stream stream, CancellationToken cancellation)
    {
        // One registration for the whole loop: waiting for the next batch allocates nothing.
        using var wakeOnCancel = cancellation.UnsafeRegister(static state => ((WakeSignal)state!).Set(), ready);
        while (true)
        {
            await ready.WaitAsync().ConfigureAwait(false);
            cancellation.ThrowIfCancellationRequested();
            bool last;
            lock (gate)
            {
                (pending, sending) = (sending, pending);
                signalled = false;
                last = completed;
            }

            if (sending.WrittenCount > 0)
            {
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                await stream.WriteAsync(sending.WrittenMemory, cancellation).ConfigureAwait(false);
                flusher.Metrics?.Flushed(sending.WrittenSpan, started);
                sending.Reset();
            }

            if (last)
            {
                lock (gate)
                {
                    if (pending.WrittenCount == 0)
                    {
                        return;
                    }
                }

                Wake();
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            completed = true;
            pending.Dispose();
            sending.Dispose();
        }
    }

    private void ScheduleLocked()
    {
        if (signalled)
        {
            return;
        }

        signalled = true;
        if (completed)
        {
            Wake();
        }
        else
        {
            flusher.Schedule(this);
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
            return ValueTask.CompletedTask;
        }

        core.Reset();
        if (Interlocked.CompareExchange(ref state, Waiting, Idle) == Idle)
        {
            return new ValueTask(this, core.Version);
        }

        // Set between the two steps: consume it.
        Volatile.Write(ref state, Idle);
        return ValueTask.CompletedTask;
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

/// <summary>
/// Wakes the send loops of sessions with queued output once per tick, so that many small frames leave in one write.
/// With a zero interval it wakes them at once.
/// </summary>
internal sealed class OutboxFlusher : IAsyncDisposable
{
    private readonly ConcurrentQueue<SessionOutbox> dirty = new();
    private readonly TimeSpan interval;
    private readonly CancellationTokenSource stop = new();
    private readonly Task? loop;

    public OutboxFlusher(TimeSpan interval, OtpMetrics? metrics = null)
    {
        Metrics = metrics;
        this.interval = interval;
        if (interval > TimeSpan.Zero)
        {
            loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Where the outboxes count their flushes; none when null.</summary>
    public OtpMetrics? Metrics { get; }

    public void Schedule(SessionOutbox outbox)
    {
        if (loop is null)
        {
            outbox.Wake();
            return;
        }

        dirty.Enqueue(outbox);
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        if (loop is not null)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        stop.Dispose();
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
        {
            while (dirty.TryDequeue(out var outbox))
            {
                outbox.Wake();
            }
        }
    }
}
