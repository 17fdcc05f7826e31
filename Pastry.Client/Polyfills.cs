#if !NET6_0_OR_GREATER
namespace System.Threading
{
    /// <summary>
    /// The part of .NET 6's <c>PeriodicTimer</c> the client uses, for netstandard2.1 (Unity, Godot): ticks do not pile
    /// up (a missed tick is one pending tick), and <see cref="Dispose"/> ends a pending wait with <c>false</c>.
    /// </summary>
    internal sealed class PeriodicTimer : IDisposable
    {
        private readonly object gate = new();
        private readonly IDisposable timer;
        private TaskCompletionSource<bool>? waiter;
        private bool ticked;
        private bool disposed;

        public PeriodicTimer(TimeSpan period, TimeProvider time)
        {
            Period = period;
            // The system clock gets a plain Timer: Microsoft.Bcl.TimeProvider's own system timer fails to load when this
            // netstandard2.1 build runs on a .NET runtime (its ITimer is not the runtime's), as in the netstandard test.
            timer = time == TimeProvider.System
                ? new Timer(static state => ((PeriodicTimer)state!).Tick(), this, period, period)
                : time.CreateTimer(static state => ((PeriodicTimer)state!).Tick(), this, period, period);
        }

        public TimeSpan Period { get; }

        public ValueTask<bool> WaitForNextTickAsync(CancellationToken cancellation = default)
        {
            lock (gate)
            {
                if (disposed)
                {
                    return new ValueTask<bool>(false);
                }

                if (ticked)
                {
                    ticked = false;
                    return new ValueTask<bool>(true);
                }

                if (waiter is not null)
                {
                    throw new InvalidOperationException("Only one wait for the next tick may be pending.");
                }

                var wait = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                waiter = wait;
                if (cancellation.CanBeCanceled)
                {
                    cancellation.Register(() =>
                    {
                        lock (gate)
                        {
                            if (waiter == wait)
                            {
                                waiter = null;
                            }
                        }

                        wait.TrySetCanceled(cancellation);
                    });
                }

                return new ValueTask<bool>(wait.Task);
            }
        }

        public void Dispose()
        {
            TaskCompletionSource<bool>? pending;
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }

                disposed = true;
                pending = waiter;
                waiter = null;
            }

            timer.Dispose();
            pending?.TrySetResult(false);
        }

        private void Tick()
        {
            TaskCompletionSource<bool>? pending;
            lock (gate)
            {
                pending = waiter;
                waiter = null;
                if (pending is null)
                {
                    ticked = true;
                }
            }

            pending?.TrySetResult(true);
        }
    }
}

namespace System.Threading.Tasks
{
    /// <summary>.NET 6's <c>Task.WaitAsync</c> for netstandard2.1: one timer per wait, like the real one.</summary>
    internal static class TaskWaitPolyfill
    {
        public static async Task<T> WaitAsync<T>(this Task<T> task, TimeSpan timeout, CancellationToken cancellation)
        {
            if (task.IsCompleted)
            {
                return await task.ConfigureAwait(false);
            }

            using var expired = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var delay = Task.Delay(timeout, expired.Token);
            if (await Task.WhenAny(task, delay).ConfigureAwait(false) != task)
            {
                cancellation.ThrowIfCancellationRequested();
                throw new TimeoutException();
            }

            expired.Cancel();
            return await task.ConfigureAwait(false);
        }
    }
}
#endif
