namespace Pastry.Otp.ClientAgent;

/// <summary>
/// The objects that left one session's view lately (interest closed, object moved away, object deleted), so that a
/// client message about one of them, sent before the client read the Leave, is dropped instead of ejected with 117:
/// that is a race every moving game hits, not misbehaviour (Astron keeps "historical objects" for the same reason).
/// Bounded: it keeps the last <see cref="Capacity"/> leavers, and holds nothing until the first object leaves.
/// </summary>
internal sealed class RecentlyLeftObjects
{
    /// <summary>How many recent leavers a session remembers.</summary>
    public const int Capacity = 256;

    private readonly HashSet<DoId> set = new();
    private readonly Queue<DoId> order = new();

    /// <summary>Remembers that <paramref name="id"/> left the view, forgetting the oldest leaver beyond the capacity.</summary>
    public void Add(DoId id)
    {
        if (!set.Add(id))
        {
            return;
        }

        order.Enqueue(id);
        while (order.Count > Capacity)
        {
            set.Remove(order.Dequeue());
        }
    }

    /// <summary>Whether <paramref name="id"/> left the view lately (and has not come back).</summary>
    public bool Contains(DoId id) => set.Contains(id);

    /// <summary>Forgets <paramref name="id"/>, which is back in view.</summary>
    public void Remove(DoId id)
    {
        // The queue keeps its entry; evicting it later removes nothing or a newer leave of the same object, which
        // only shortens how long that one is remembered.
        set.Remove(id);
    }
}
