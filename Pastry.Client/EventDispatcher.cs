using System.Collections.Concurrent;

namespace Pastry.Client;

/// <summary>
/// Where a client's events run: on the socket thread (the default), posted to the game's
/// <see cref="SynchronizationContext"/>, or queued until the game calls <see cref="PastryClient.DispatchPending"/>.
/// Work keeps its order in every mode. Queued work is bounded by bytes: past the limit the socket is not read until
/// the game catches up, so a game that stops pumping holds at most that much (TCP then slows the server's sends).
/// </summary>
internal sealed class EventDispatcher
{
    private readonly object gate = new();
    private readonly SynchronizationContext? context;
    private readonly ConcurrentQueue<WorkItem>? queue;
    private readonly long maxPendingBytes;
    private long pendingBytes;
    private TaskCompletionSource<bool>? roomMade;

    public EventDispatcher(ClientOptions options)
    {
        if (options.SynchronizationContext is not null && options.ManualDispatch)
        {
            throw new ArgumentException(
                "Choose one way to run the client's events: ClientOptions.SynchronizationContext (events are posted to it) or ClientOptions.ManualDispatch (the game calls DispatchPending), not both.",
                nameof(options));
        }

        if (options.MaxPendingEventBytes <= 0)
        {
            throw new ArgumentException($"ClientOptions.MaxPendingEventBytes must be positive, got {options.MaxPendingEventBytes}.", nameof(options));
        }

        context = options.SynchronizationContext;
        queue = options.ManualDispatch ? new ConcurrentQueue<WorkItem>() : null;
        maxPendingBytes = options.MaxPendingEventBytes;
    }

    /// <summary>Whether work runs at once on the calling (socket) thread.</summary>
    public bool IsInline => context is null && queue is null;

    /// <summary>Runs <paramref name="work"/> now, posts it to the context, or queues it; <paramref name="bytes"/> counts against the bound until it ran.</summary>
    public void Run(Action<object?> work, object? state, int bytes = 0)
    {
        if (IsInline)
        {
            work(state);
            return;
        }

        Interlocked.Add(ref pendingBytes, bytes);
        var item = new WorkItem(work, state, bytes);
        if (queue is not null)
        {
            queue.Enqueue(item);
        }
        else
        {
            context!.Post(static boxed => { var (self, it) = ((EventDispatcher, WorkItem))boxed!; self.Execute(it); }, (this, item));
        }
    }

    /// <summary>Runs the work queued before this call (not what arrives meanwhile, so a busy server cannot hold the caller).</summary>
    /// <exception cref="InvalidOperationException">The client was not created with <see cref="ClientOptions.ManualDispatch"/>.</exception>
    public int DispatchPending()
    {
        if (queue is null)
        {
            throw new InvalidOperationException(
                "DispatchPending runs queued events only when the client was connected with ClientOptions.ManualDispatch = true; without it events run on the socket thread or on ClientOptions.SynchronizationContext.");
        }

        int count = queue.Count;
        int ran = 0;
        while (ran < count && queue.TryDequeue(out var item))
        {
            ran++;
            Execute(item);
        }

        return ran;
    }

    /// <summary>Completes when queued work is under the bound again (at once while it is).</summary>
    public Task WaitForRoomAsync(CancellationToken cancellation)
    {
        if (IsInline || Interlocked.Read(ref pendingBytes) <= maxPendingBytes)
        {
            return Task.CompletedTask;
        }

        lock (gate)
        {
            if (Interlocked.Read(ref pendingBytes) <= maxPendingBytes)
            {
                return Task.CompletedTask;
            }

            roomMade ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            return roomMade.Task.WaitAsync(Timeout.InfiniteTimeSpan, cancellation);
        }
    }

    private void Execute(WorkItem item)
    {
        try
        {
            item.Work(item.State);
        }
        finally
        {
            if (item.Bytes != 0 && Interlocked.Add(ref pendingBytes, -item.Bytes) <= maxPendingBytes)
            {
                TaskCompletionSource<bool>? waiting;
                lock (gate)
                {
                    waiting = roomMade;
                    roomMade = null;
                }

                waiting?.TrySetResult(true);
            }
        }
    }

    private readonly record struct WorkItem(Action<object?> Work, object? State, int Bytes);
}
