namespace Pastry.Wire;

/// <summary>
/// Queues frames for one stream and writes them in batches from one loop: callers append under a short lock and
/// never wait for the socket; whatever is appended while a write is in flight leaves in the next write.
/// </summary>
public sealed class FrameSender : IDisposable
{
    private readonly object gate = new();
    private readonly SemaphoreSlim ready = new(0, 1);
    private PooledBufferWriter pending = new(1024);
    private PooledBufferWriter sending = new(1024);
    private bool signalled;
    private bool completed;
    private bool disposed;

    /// <summary>Appends frames written by <paramref name="write"/> (under the sender's lock, so frames never interleave).</summary>
    public void Append(Action<PooledBufferWriter> write)
    {
        lock (gate)
        {
            if (disposed || completed)
            {
                throw new ObjectDisposedException(nameof(FrameSender), "The connection is closed.");
            }

            write(pending);
            if (!signalled)
            {
                signalled = true;
                ready.Release();
            }
        }
    }

    /// <summary>Appends frames built from <paramref name="state"/> without allocating a closure.</summary>
    public void Append<TState>(TState state, Action<PooledBufferWriter, TState> write)
    {
        lock (gate)
        {
            if (disposed || completed)
            {
                throw new ObjectDisposedException(nameof(FrameSender), "The connection is closed.");
            }

            write(pending, state);
            if (!signalled)
            {
                signalled = true;
                ready.Release();
            }
        }
    }

    /// <summary>
    /// Lets <see cref="RunAsync"/> end once everything appended so far is written; later appends throw. Ending this
    /// way costs no exception, unlike cancelling the loop, which matters to a process that opens many connections.
    /// </summary>
    public void Complete()
    {
        lock (gate)
        {
            if (completed || disposed)
            {
                return;
            }

            completed = true;
            if (!signalled)
            {
                signalled = true;
                ready.Release();
            }
        }
    }

    /// <summary>Writes batches to <paramref name="stream"/> until <see cref="Complete"/>, cancellation or a stream failure.</summary>
    public async Task RunAsync(Stream stream, CancellationToken cancellation)
    {
        while (true)
        {
            await ready.WaitAsync(cancellation).ConfigureAwait(false);
            bool last;
            lock (gate)
            {
                (pending, sending) = (sending, pending);
                signalled = false;
                last = completed;
            }

            if (sending.WrittenCount > 0)
            {
                await stream.WriteAsync(sending.WrittenMemory, cancellation).ConfigureAwait(false);
                await stream.FlushAsync(cancellation).ConfigureAwait(false);
                sending.Reset();
            }

            if (last)
            {
                return;
            }
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
            pending.Dispose();
            sending.Dispose();
        }

        ready.Dispose();
    }
}
