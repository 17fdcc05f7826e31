using Pastry.Messaging;

namespace Pastry.Otp.MessageDirector;

/// <summary>
/// The in-process Message Director: subscribers are kept in a <see cref="SubscriberTable"/> (copy-on-write arrays), so
/// publishing takes no lock and allocates nothing; subscription changes lock. The same envelope instance reaches every subscriber.
/// </summary>
internal sealed class InProcessRouter : IMessageRouter, IDeliveryCounter
{
    private long deliveries;

    private readonly SubscriberTable table = new();

    [ThreadStatic]
    private static HashSet<IParticipant>? deliveredScratch;

    [ThreadStatic]
    private static int publishDepth;

    /// <summary>How many channels have at least one subscriber (for metrics and tests).</summary>
    public int ChannelCount => table.ChannelCount;

    /// <summary>Whether any participant of this process (or link) is subscribed to <paramref name="channel"/>.</summary>
    internal bool HasSubscribers(Channel channel) => table.TryGetSubscribers(channel, out var list) && list.Length > 0;

    /// <inheritdoc />
    public void Subscribe(IParticipant participant, Channel channel) => table.Add(participant, channel, out _);

    /// <inheritdoc />
    public void Unsubscribe(IParticipant participant, Channel channel) => table.Remove(participant, channel, out _);

    /// <inheritdoc />
    public void SubscribeRange(IParticipant participant, DoId parent, uint low, uint high) => table.AddRange(participant, parent, low, high);

    /// <inheritdoc />
    public void UnsubscribeRange(IParticipant participant, DoId parent, uint low, uint high) => table.RemoveRange(participant, parent, low, high);

    /// <inheritdoc />
    public void UnsubscribeAll(IParticipant participant) => table.RemoveAll(participant);

    /// <inheritdoc />
    public void Publish(Envelope envelope, Channel target) => DeliverTo(envelope, target, new ReadOnlySpan<Channel>(in target));

    /// <summary>Messages handed to subscribers so far (one per subscriber reached), for the deliveries metric.</summary>
    public long Deliveries => Interlocked.Read(ref deliveries);

    private void DeliverTo(Envelope envelope, Channel target, ReadOnlySpan<Channel> targets)
    {
        if (table.TryGetSubscribers(target, out var subscribers))
        {
            Interlocked.Add(ref deliveries, subscribers.Length);
            for (int i = 0; i < subscribers.Length; i++)
            {
                subscribers[i].Deliver(envelope, targets);
            }
        }

        if (target.Kind == ChannelKind.Location && table.HasRanges && table.TryGetRanges(target.Id, out var zoneRanges))
        {
            for (int i = 0; i < zoneRanges.Length; i++)
            {
                var range = zoneRanges[i];
                if (range.Contains(target.Zone) && (subscribers is null || Array.IndexOf(subscribers, range.Participant) < 0) && !SubscriberTable.HeldEarlier(zoneRanges, i, target.Zone))
                {
                    range.Participant.Deliver(envelope, targets);
                }
            }
        }
    }

    /// <inheritdoc />
    public void Publish(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        if (targets.Length == 1)
        {
            DeliverTo(envelope, targets[0], targets);
            return;
        }

        // A participant subscribed to several of the targets gets the message once (as Astron's MD does).
        // A nested publish (from inside a Deliver) needs its own set.
        int depth = publishDepth++;
        var delivered = depth == 0 ? deliveredScratch ??= new HashSet<IParticipant>(ReferenceEqualityComparer.Instance) : new HashSet<IParticipant>(ReferenceEqualityComparer.Instance);
        try
        {
            foreach (var target in targets)
            {
                if (table.TryGetSubscribers(target, out var subscribers))
                {
                    foreach (var subscriber in subscribers)
                    {
                        if (delivered.Add(subscriber))
                        {
                            subscriber.Deliver(envelope, targets);
                        }
                    }
                }

                if (target.Kind == ChannelKind.Location && table.HasRanges && table.TryGetRanges(target.Id, out var zoneRanges))
                {
                    foreach (var range in zoneRanges)
                    {
                        if (target.Zone >= range.Low && target.Zone <= range.High && delivered.Add(range.Participant))
                        {
                            range.Participant.Deliver(envelope, targets);
                        }
                    }
                }
            }
        }
        finally
        {
            Interlocked.Add(ref deliveries, delivered.Count);
            delivered.Clear();
            publishDepth = depth;
        }
    }
}
