using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// Broadcast coalescing: relays for one location and sender go out as one batch, before anything else is published.
// The batch is encoded once; every session at the location that sees all of it sends that same block (RelayBatch).
internal sealed partial class StateServer
{
    private readonly PooledBufferWriter batch = new(MaxBatchBytes);
    private Messaging.Channel batchLocation;
    private Messaging.Channel batchSender;
    private DoId batchSubject;
    private int batchFrames;
    private int batchCensus;
    private bool batchAboutOwned;

    /// <summary>The most bytes of client frames one <see cref="InternalMessageType.RelayBroadcastBatch"/> carries.</summary>
    private const int MaxBatchBytes = 16 * 1024;

    /// <summary>Publishes a message after any coalesced broadcast relays, so that every subscriber sees the State Server's order.</summary>
    private void Publish(Envelope envelope, Messaging.Channel target)
    {
        FlushBroadcasts();
        router.Publish(envelope, target);
    }

    /// <inheritdoc cref="Publish(Envelope, Messaging.Channel)"/>
    private void Publish(Envelope envelope, ReadOnlySpan<Messaging.Channel> targets)
    {
        FlushBroadcasts();
        router.Publish(envelope, targets);
    }

    /// <summary>
    /// Publishes to the object's location, its owner's account and <paramref name="otherAccount"/> (each participant
    /// hears it once): an owner sees what it owns arrive, move and change hands wherever it is.
    /// </summary>
    private void PublishToLocationAndOwner(Envelope envelope, StateObject obj, DoId otherAccount)
    {
        Span<Messaging.Channel> targets = stackalloc Messaging.Channel[3];
        targets[0] = Messaging.Channel.ForLocation(obj.Location.Parent, obj.Location.Zone);
        targets[1] = obj.Owner.IsEmpty ? targets[0] : Messaging.Channel.ForAccount(obj.Owner);
        targets[2] = otherAccount.IsEmpty ? targets[0] : Messaging.Channel.ForAccount(otherAccount);
        Publish(envelope, targets);
    }

    /// <summary>
    /// Relays a client frame about an owned object to its owner's account. It does not flush the location batch: the
    /// owner's sessions take an owned object's relays only from here, so their order against other objects' relays
    /// does not matter.
    /// </summary>
    private void RelayToOwner(StateObject obj, Messaging.Channel sender, ReadOnlySpan<byte> frame) =>
        router.Publish(new Envelope(InternalMessageType.RelayPrivate, sender, obj.Id, frame.ToArray()), Messaging.Channel.ForAccount(obj.Owner));

    /// <summary>Queues a broadcast relay of <paramref name="frame"/> (a client frame about <paramref name="subject"/>) to its location.</summary>
    private void PublishBroadcast(Messaging.Channel sender, StateObject subject, ReadOnlySpan<byte> frame)
    {
        var location = subject.Location;
        var target = Messaging.Channel.ForLocation(location.Parent, location.Zone);

        // A batch holds the location's census from its first frame: one that changed since (every change is published,
        // which flushes first; this catches any that is not) starts a new batch, so the census is true of every frame.
        int census = graph.CountAt(location);
        if (batchFrames > 0 && (batchLocation != target || batchSender != sender || batchCensus != census || batch.WrittenCount + frame.Length > MaxBatchBytes))
        {
            FlushBroadcasts();
        }

        if (batchFrames == 0)
        {
            batchLocation = target;
            batchSender = sender;
            batchSubject = subject.Id;
            batchCensus = census;
            batchAboutOwned = false;
            RelayBatch.WriteHeader(batch, location, census);
        }

        batch.WriteRaw(frame);
        batchAboutOwned |= !subject.Owner.IsEmpty;
        batchFrames++;
    }

    /// <summary>Publishes the coalesced relays: one frame as a plain <see cref="InternalMessageType.RelayBroadcast"/>, more as a batch.</summary>
    private void FlushBroadcasts()
    {
        if (batchFrames == 0)
        {
            return;
        }

        if (batchAboutOwned)
        {
            RelayBatch.MarkAboutOwned(batch);
        }

        RelayBatch.SetFrameCount(batch, batchFrames);

        // The batch's array is its one copy: it is never written again, and the sessions' outboxes reference it.
        var envelope = batchFrames == 1
            ? new Envelope(InternalMessageType.RelayBroadcast, batchSender, batchSubject, batch.WrittenSpan[RelayBatch.HeaderSize..].ToArray())
            : new Envelope(InternalMessageType.RelayBroadcastBatch, batchSender, DoId.Empty, batch.WrittenSpan.ToArray());
        batchFrames = 0;
        batch.Reset();
        router.Publish(envelope, batchLocation);
    }
}
