using System.Collections.Concurrent;

namespace Pastry.Messaging;

/// <summary>
/// Who in this process is subscribed to what: channels and zone ranges, in copy-on-write arrays, so that a publish reads
/// them without a lock and without allocating while subscription changes take a lock. Both routers keep their
/// participants here (the in-process one, and the NATS backplane for the participants of its own process), so that
/// matching a message to participants is one mechanism.
/// </summary>
internal sealed class SubscriberTable
{
    private readonly ConcurrentDictionary<Channel, IParticipant[]> channels = new();
    private readonly ConcurrentDictionary<DoId, ZoneRange[]> ranges = new();
    private readonly Dictionary<IParticipant, HashSet<Channel>> byParticipant = new(ByReference.Instance);
    private readonly object gate = new();

    /// <summary>How many channels have at least one subscriber.</summary>
    public int ChannelCount => channels.Count;

    /// <summary>Whether any zone range is subscribed (a publish to a location skips the range lookup when none is).</summary>
    public bool HasRanges => !ranges.IsEmpty;

    /// <summary>The subscribers of <paramref name="channel"/> (a snapshot: never changed in place).</summary>
    public bool TryGetSubscribers(Channel channel, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out IParticipant[] subscribers) => channels.TryGetValue(channel, out subscribers);

    /// <summary>The zone ranges subscribed under <paramref name="parent"/> (a snapshot: never changed in place).</summary>
    public bool TryGetRanges(DoId parent, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out ZoneRange[] zoneRanges) => ranges.TryGetValue(parent, out zoneRanges);

    /// <summary>Subscribes; false when it already was. <paramref name="first"/>: the channel had no subscriber before.</summary>
    public bool Add(IParticipant participant, Channel channel, out bool first)
    {
        lock (gate)
        {
            var current = channels.TryGetValue(channel, out var list) ? list : Array.Empty<IParticipant>();
            first = current.Length == 0;
            if (Array.IndexOf(current, participant) >= 0)
            {
                return false;
            }

            var next = new IParticipant[current.Length + 1];
            current.CopyTo(next, 0);
            next[current.Length] = participant;
            channels[channel] = next;
            if (!byParticipant.TryGetValue(participant, out var set))
            {
                byParticipant[participant] = set = new HashSet<Channel>();
            }

            set.Add(channel);
            return true;
        }
    }

    /// <summary>Unsubscribes; false when it was not. <paramref name="last"/>: the channel has no subscriber left.</summary>
    public bool Remove(IParticipant participant, Channel channel, out bool last)
    {
        lock (gate)
        {
            if (byParticipant.TryGetValue(participant, out var set))
            {
                set.Remove(channel);
            }

            return RemoveLocked(participant, channel, out last);
        }
    }

    /// <summary>Adds a zone range (ranges are not deduplicated: each add is removed by one remove).</summary>
    public void AddRange(IParticipant participant, DoId parent, uint low, uint high)
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

    /// <summary>Removes a range added with the same bounds; false when there was none.</summary>
    public bool RemoveRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        lock (gate)
        {
            return RemoveRangeLocked(participant, parent, low, high);
        }
    }

    /// <summary>
    /// Removes every subscription of <paramref name="participant"/>. Channels left without a subscriber go to
    /// <paramref name="emptied"/>, and parents whose ranges changed to <paramref name="parentsChanged"/>, when given.
    /// </summary>
    public void RemoveAll(IParticipant participant, List<Channel>? emptied = null, List<DoId>? parentsChanged = null)
    {
        lock (gate)
        {
            if (byParticipant.Remove(participant, out var set))
            {
                foreach (var channel in set)
                {
                    if (RemoveLocked(participant, channel, out bool last) && last)
                    {
                        emptied?.Add(channel);
                    }
                }
            }

            foreach (var pair in ranges)
            {
                bool changed = false;
                foreach (var range in pair.Value)
                {
                    if (ReferenceEquals(range.Participant, participant))
                    {
                        changed |= RemoveRangeLocked(participant, pair.Key, range.Low, range.High);
                    }
                }

                if (changed)
                {
                    parentsChanged?.Add(pair.Key);
                }
            }
        }
    }

    /// <summary>Whether <paramref name="participant"/> is subscribed to <paramref name="target"/>, or to a range that holds it.</summary>
    public bool Matches(IParticipant participant, Channel target)
    {
        if (channels.TryGetValue(target, out var list) && Array.IndexOf(list, participant) >= 0)
        {
            return true;
        }

        if (target.Kind == ChannelKind.Location && ranges.TryGetValue(target.Id, out var zoneRanges))
        {
            foreach (var range in zoneRanges)
            {
                if (ReferenceEquals(range.Participant, participant) && range.Contains(target.Zone))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a range before <paramref name="index"/> of the same participant also holds <paramref name="zone"/>:
    /// a participant whose ranges overlap gets the message once, from its first matching range.
    /// </summary>
    public static bool HeldEarlier(ZoneRange[] zoneRanges, int index, uint zone)
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

    private bool RemoveLocked(IParticipant participant, Channel channel, out bool last)
    {
        last = false;
        if (!channels.TryGetValue(channel, out var current))
        {
            return false;
        }

        int index = Array.IndexOf(current, participant);
        if (index < 0)
        {
            return false;
        }

        if (current.Length == 1)
        {
            channels.TryRemove(channel, out _);
            last = true;
            return true;
        }

        channels[channel] = Without(current, index);
        return true;
    }

    private bool RemoveRangeLocked(IParticipant participant, DoId parent, uint low, uint high)
    {
        if (!ranges.TryGetValue(parent, out var current))
        {
            return false;
        }

        int index = Array.FindIndex(current, r => r.Low == low && r.High == high && ReferenceEquals(r.Participant, participant));
        if (index < 0)
        {
            return false;
        }

        if (current.Length == 1)
        {
            ranges.TryRemove(parent, out _);
        }
        else
        {
            ranges[parent] = Without(current, index);
        }

        return true;
    }

    /// <summary>Participants compare by reference (ReferenceEqualityComparer is not in netstandard2.1).</summary>
    private sealed class ByReference : IEqualityComparer<IParticipant>
    {
        public static readonly ByReference Instance = new();

        public bool Equals(IParticipant? x, IParticipant? y) => ReferenceEquals(x, y);

        public int GetHashCode(IParticipant obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
    }

    /// <summary>A copy of a copy-on-write array without the item at <paramref name="index"/>.</summary>
    private static T[] Without<T>(T[] current, int index)
    {
        var next = new T[current.Length - 1];
        Array.Copy(current, 0, next, 0, index);
        Array.Copy(current, index + 1, next, index, current.Length - index - 1);
        return next;
    }
}

/// <summary>One zone-range subscription: every location of a parent with a zone in <c>[Low, High]</c>.</summary>
internal readonly record struct ZoneRange(uint Low, uint High, IParticipant Participant)
{
    /// <summary>Whether the range holds <paramref name="zone"/>.</summary>
    public bool Contains(uint zone) => zone >= Low && zone <= High;
}
