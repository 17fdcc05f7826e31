using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.Actors;

/// <summary>
/// The bounded inbox of a role that handles its messages on one task, one at a time (the State Server and the
/// Database): one mechanism for both, so that their overload behaviour is the same.
/// </summary>
/// <remarks>
/// When the inbox holds <see cref="Capacity"/> items:
/// <list type="bullet">
/// <item><see cref="TryPost"/> refuses at once (the caller answers the sender with a clear refusal; client sessions
/// post this way, because a client must never block a server thread).</item>
/// <item><see cref="Post"/> makes an internal sender wait for room, up to a limit, then refuses: a remote AI's link
/// stops reading its socket, which pushes back on the AI. A sender running on an actor's own loop is admitted over
/// the bound instead when waiting could deadlock: a role never waits on itself, and a role whose loop answers
/// others' requests (<c>waitsOnOthers: false</c>, the Database) never waits on those others.</item>
/// </list>
/// Its depth is the gauge <c>pastry.mailbox.depth</c> and its refusals the counter <c>pastry.mailbox.refused</c>,
/// both tagged with the role, on the <c>Pastry</c> meter.
/// </remarks>
internal sealed class ActorMailbox : IDisposable
{
    [ThreadStatic]
    private static ActorMailbox? runningLoop;

    private readonly Channel<Envelope> queue = System.Threading.Channels.Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions { SingleReader = true });
    private readonly object roomGate = new();
    private readonly bool waitsOnOthers;
    private readonly bool waitsForRoom;
    private readonly Func<Envelope, string, Envelope?>? refusal;
    private readonly string capacitySetting;
    private readonly Messaging.Channel self;
    private readonly IMessageRouter router;
    private readonly ILogger logger;
    private int refusing;
    private readonly Meter meter = new("Pastry", "1.0");
    private readonly Counter<long> refused;
    private readonly KeyValuePair<string, object?> roleTag;
    private int depth;
    private int waitingSenders;
    private volatile bool completed;

    /// <summary>Creates an inbox for <paramref name="role"/> that holds at most <paramref name="capacity"/> items.</summary>
    /// <param name="role">The role's name, for metrics and refusals.</param>
    /// <param name="self">The role's channel, which refusals come from.</param>
    /// <param name="capacity">The bound.</param>
    /// <param name="waitsOnOthers">Whether this role's loop may wait for room in other roles' inboxes.</param>
    /// <param name="router">Where refusals are published.</param>
    /// <param name="logger">Where refusals are logged.</param>
    /// <param name="refusal">
    /// Builds the role's own answer to a request it refused (the request's reply type with an "overloaded" status and
    /// its context, so the requester fails at once instead of waiting); null, or a null result, sends
    /// <see cref="InternalMessageType.Error"/>.
    /// </param>
    /// <param name="waitsForRoom">
    /// Whether internal senders wait for room (<see cref="Post"/>); false refuses every sender at once, for requests
    /// that are better answered "busy" than queued (queries).
    /// </param>
    /// <param name="capacitySetting">The configuration key of <paramref name="capacity"/>, named in refusals; <c>{role}:MailboxCapacity</c> by default.</param>
    public ActorMailbox(string role, Messaging.Channel self, int capacity, bool waitsOnOthers, IMessageRouter router, ILogger logger, Func<Envelope, string, Envelope?>? refusal = null, bool waitsForRoom = true, string? capacitySetting = null)
    {
        this.capacitySetting = capacitySetting ?? role + ":MailboxCapacity";
        this.refusal = refusal;
        this.waitsForRoom = waitsForRoom;
        this.self = self;
        this.router = router;
        this.logger = logger;
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Role = role;
        Capacity = capacity;
        this.waitsOnOthers = waitsOnOthers;
        roleTag = new KeyValuePair<string, object?>("role", role);
        meter.CreateObservableGauge("pastry.mailbox.depth", () => new Measurement<int>(Depth, roleTag), unit: "{message}", description: "Messages waiting in a role's inbox");
        refused = meter.CreateCounter<long>("pastry.mailbox.refused", unit: "{message}", description: "Messages a role refused because its inbox was full");
    }

    /// <summary>The role's name.</summary>
    public string Role { get; }

    /// <summary>The most items the inbox holds before senders wait or are refused.</summary>
    public int Capacity { get; }

    /// <summary>Items waiting now.</summary>
    public int Depth => Volatile.Read(ref depth);

    /// <summary>Whether a sender is waiting for room now.</summary>
    public bool HasWaitingSenders => Volatile.Read(ref waitingSenders) > 0;

    /// <summary>How long an internal sender waits for room before it is refused.</summary>
    public static TimeSpan InternalWait { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Takes a routed message: a client session's without waiting, anyone else's with <see cref="Post"/>. A message
    /// that finds no room is answered with an <see cref="InternalMessageType.Error"/> naming the full inbox, and logged.
    /// </summary>
    public void Deliver(Envelope envelope)
    {
        bool accepted = envelope.Sender.Kind == ChannelKind.Session || !waitsForRoom ? TryPost(envelope) : Post(envelope, InternalWait);
        if (accepted)
        {
            return;
        }

        string reason = $"{Role} is overloaded: its inbox holds {Capacity} messages (the {capacitySetting} setting)";
        if (Interlocked.Exchange(ref refusing, 1) == 0)
        {
            // Once per overload, not once per message: the counter pastry.mailbox.refused has the count.
            logger.LogWarning("{Role} refused {Type} from {Sender}: {Reason}", Role, envelope.Type, envelope.Sender, reason);
        }

        // Never answer an error with an error (two full roles would bounce them forever), nor a channel nobody reads.
        if (envelope.Type != InternalMessageType.Error && envelope.Sender.Kind is not (ChannelKind.None or ChannelKind.Location))
        {
            if (refusal?.Invoke(envelope, reason) is { } answer)
            {
                router.Publish(answer, envelope.Sender);
                return;
            }

            var payload = new System.Buffers.ArrayBufferWriter<byte>(reason.Length + 8);
            payload.WriteString(reason);
            router.Publish(new Envelope(InternalMessageType.Error, self, envelope.Subject, payload.WrittenSpan.ToArray()), envelope.Sender);
        }
    }

    /// <summary>Posts without waiting; false (counted as a refusal) when the inbox is full or closed.</summary>
    public bool TryPost(Envelope item)
    {
        if (Interlocked.Increment(ref depth) > Capacity)
        {
            Interlocked.Decrement(ref depth);
            refused.Add(1, roleTag);
            return false;
        }

        return Enqueue(item);
    }

    /// <summary>
    /// Posts for an internal sender: waits up to <paramref name="maxWait"/> for room (see the remarks on the type for
    /// when it is admitted over the bound instead); false (counted as a refusal) when there is still no room.
    /// </summary>
    public bool Post(Envelope item, TimeSpan maxWait)
    {
        var loop = runningLoop;
        if (loop == this || (loop is not null && !loop.waitsOnOthers))
        {
            Interlocked.Increment(ref depth);
            return Enqueue(item);
        }

        if (TryAdmit(maxWait))
        {
            return Enqueue(item);
        }

        refused.Add(1, roleTag);
        return false;
    }

    /// <summary>Waits until an item can be read; false once the inbox is completed and empty.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => queue.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Takes the next item, if any, and makes room for a waiting sender.</summary>
    public bool TryRead(out Envelope item)
    {
        if (!queue.Reader.TryRead(out item!))
        {
            return false;
        }

        if (Interlocked.Decrement(ref depth) < Capacity / 2)
        {
            Volatile.Write(ref refusing, 0);
        }

        if (Volatile.Read(ref waitingSenders) > 0)
        {
            lock (roomGate)
            {
                Monitor.PulseAll(roomGate);
            }
        }

        return true;
    }

    /// <summary>
    /// Marks the calling thread as running this inbox's loop until the scope is disposed, so that its own posts
    /// follow the deadlock rules in the remarks. Enter it around synchronous work only (never across an await).
    /// </summary>
    public LoopScope EnterLoop()
    {
        var previous = runningLoop;
        runningLoop = this;
        return new LoopScope(previous);
    }

    /// <summary>Refuses new items; the reader still gets what is queued.</summary>
    public void Complete()
    {
        completed = true;
        queue.Writer.TryComplete();
        lock (roomGate)
        {
            Monitor.PulseAll(roomGate);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Complete();
        meter.Dispose();
    }

    private bool Enqueue(Envelope item)
    {
        if (queue.Writer.TryWrite(item))
        {
            return true;
        }

        Interlocked.Decrement(ref depth);
        return false;
    }

    private bool TryAdmit(TimeSpan maxWait)
    {
        if (Interlocked.Increment(ref depth) <= Capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref depth);
        long deadline = Environment.TickCount64 + (long)maxWait.TotalMilliseconds;
        lock (roomGate)
        {
            // Counted before depth is read again, so that a reader that frees room after this point sees a waiter.
            Interlocked.Increment(ref waitingSenders);
            try
            {
                while (true)
                {
                    if (Interlocked.Increment(ref depth) <= Capacity)
                    {
                        return true;
                    }

                    Interlocked.Decrement(ref depth);
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0 || completed)
                    {
                        return false;
                    }

                    Monitor.Wait(roomGate, TimeSpan.FromMilliseconds(left));
                }
            }
            finally
            {
                Interlocked.Decrement(ref waitingSenders);
            }
        }
    }

    /// <summary>Restores the thread's previous loop marker when disposed.</summary>
    public readonly struct LoopScope : IDisposable
    {
        private readonly ActorMailbox? previous;

        internal LoopScope(ActorMailbox? previous) => this.previous = previous;

        /// <inheritdoc />
        public void Dispose() => runningLoop = previous;
    }
}
