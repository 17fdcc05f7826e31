using Pastry.Messaging;
using System.Collections.Concurrent;

namespace Pastry.Otp.MessageDirector;

/// <summary>
/// The in-process Message Director: subscribers of a channel are kept in copy-on-write arrays, so publishing takes
/// no lock and allocates nothing; subscription changes lock. The same envelope instance reaches every subscriber.
/// </summary>
public sealed class InProcessRouter : IMessageRouter, IDeliveryCounter
{
    private long deliveries;

    private readonly ConcurrentDictionary<Channel, IParticipant[]> channels = new();
    private readonly ConcurrentDictionary<DoId, ZoneRange[]> ranges = new();
    private readonly ConcurrentDictionary<IParticipant, HashSet<Channel>> byParticipant = new(ReferenceEqualityComparer.Instance);
    private readonly object gate = new();

    [ThreadStatic]
    private static HashSet<IParticipant>? deliveredScratch;

    [ThreadStatic]
    private static int publishDepth;

    /// <summary>How many channels have at least one subscriber (for metrics and tests).</summary>
    public int ChannelCount => channels.Count;

    /// <summary>Whether any participant of this process (or link) is subscribed to <paramref name="channel"/>.</summary>
    internal bool HasSubscribers(Channel channel) => channels.TryGetValue(channel, out var list) && list.Length > 0;

    /// <inheritdoc />
    public void Subscribe(IParticipant participant, Channel channel)
    {
        lock (gate)
        {
            var current = channels.TryGetValue(channel, out var list) ? list : Array.Empty<IParticipant>();
            if (Array.IndexOf(current, participant) >= 0)
            {
                return;
            }

            var next = new IParticipant[current.Length + 1];
            current.CopyTo(next, 0);
            next[current.Length] = participant;
            channels[channel] = next;
            byParticipant.GetOrAdd(participant, _ => new HashSet<Channel>()).Add(channel);
        }
    }

    /// <inheritdoc />
    public void Unsubscribe(IParticipant participant, Channel channel)
    {
        lock (gate)
        {
            RemoveLocked(participant, channel);
            if (byParticipant.TryGetValue(participant, out var set))
            {
                set.Remove(channel);
            }
        }
    }

    /// <inheritdoc />
    public void SubscribeRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        if (low > high)
        {
            throw new ArgumentException($"Zone range [{low}, {high}] is empty: low must not exceed high.", nameof(low));
        }

        lock (gate)
        {
            var current = ranges.TryGetValue(parent, out var list) ? list : Array.Empty<ZoneRange>();
            var next = new ZoneRange[current.Length + 1];
            current.CopyTo(next, 0);
            next[current.Length] = new ZoneRange(low, high, participant);
            ranges[parent] = next;
        }
    }

    /// <inheritdoc />
    public void UnsubscribeRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        lock (gate)
        {
            if (!ranges.TryGetValue(parent, out var current))
            {
                return;
            }

            int index = Array.FindIndex(current, r => r.Low == low && r.High == high && ReferenceEquals(r.Participant, participant));
            if (index < 0)
            {
                return;
            }

            if (current.Length == 1)
            {
                ranges.TryRemove(parent, out _);
                return;
            }

            ranges[parent] = Without(current, index);
        }
    }

    /// <inheritdoc />
    public void UnsubscribeAll(IParticipant participant)
    {
        lock (gate)
        {
            if (byParticipant.TryRemove(participant, out var set))
            {
                foreach (var channel in set)
                {
                    RemoveLocked(participant, channel);
                }
            }

            foreach (var pair in ranges)
            {
                foreach (var range in pair.Value)
                {
                    if (ReferenceEquals(range.Participant, participant))
                    {
                        UnsubscribeRange(participant, pair.Key, range.Low, range.High);
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public void Publish(Envelope envelope, Channel target) => DeliverTo(envelope, target, new ReadOnlySpan<Channel>(in target));

    /// <summary>Messages handed to subscribers so far (one per subscriber reached), for the deliveries metric.</summary>
    public long Deliveries => Interlocked.Read(ref deliveries);

    private void DeliverTo(Envelope envelope, Channel target, ReadOnlySpan<Channel> targets)
    {
        if (channels.TryGetValue(target, out var subscribers))
        {
            Interlocked.Add(ref deliveries, subscribers.Length);
            for (int i = 0; i < subscribers.Length; i++)
            {
                subscribers[i].Deliver(envelope, targets);
            }
        }

        if (target.Kind == ChannelKind.Location && !ranges.IsEmpty && ranges.TryGetValue(target.Id, out var zoneRanges))
        {
            for (int i = 0; i < zoneRanges.Length; i++)
            {
                var range = zoneRanges[i];
                if (range.Contains(target.Zone) && (subscribers is null || Array.IndexOf(subscribers, range.Participant) < 0) && !MatchedEarlier(zoneRanges, i, target.Zone))
                {
                    range.Participant.Deliver(envelope, targets);
                }
            }
        }
    }

    /// <summary>
    /// Whether a range before <paramref name="index"/> of the same participant also holds <paramref name="zone"/>:
    /// a participant whose ranges overlap gets the message once, from its first matching range.
    /// </summary>
    private static bool MatchedEarlier(ZoneRange[] zoneRanges, int index, uint zone)
    {
        var participant = zoneRanges[index].Participant;
        for (int i = 0; i < index; i++)
        {
            if (ReferenceEquals(zoneRanges[i].Participant, participant) && zoneRanges[i].Contains(zone))
            {
                return true;
            }
        }

        return false;
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
                if (channels.TryGetValue(target, out var subscribers))
                {
                    foreach (var subscriber in subscribers)
                    {
                        if (delivered.Add(subscriber))
                        {
                            subscriber.Deliver(envelope, targets);
                        }
                    }
                }

                if (target.Kind == ChannelKind.Location && !ranges.IsEmpty && ranges.TryGetValue(target.Id, out var zoneRanges))
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

    private void RemoveLocked(IParticipant participant, Channel channel)
    {
        if (!channels.TryGetValue(channel, out var current))
        {
            return;
        }

        int index = Array.IndexOf(current, participant);
        if (index < 0)
        {
            return;
        }

        if (current.Length == 1)
        {
            channels.TryRemove(channel, out _);
            return;
        }

        channels[channel] = Without(current, index);
    }

    /// <summary>A copy of a copy-on-write subscriber array without the item at <paramref name="index"/>.</summary>
    private static T[] Without<T>(T[] current, int index)
    {
        var next = new T[current.Length - 1];
        Array.Copy(current, 0, next, 0, index);
        Array.Copy(current, index + 1, next, index, current.Length - index - 1);
        return next;
    }

    private readonly record struct ZoneRange(uint Low, uint High, IParticipant Participant)
    {
        public bool Contains(uint zone) => zone >= Low && zone <= High;
    }
}
