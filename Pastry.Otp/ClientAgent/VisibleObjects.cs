using Pastry.Otp.StateServer;

namespace Pastry.Otp.ClientAgent;

/// <summary>An object in a session's view: its class, where it is, and who owns it.</summary>
internal readonly record struct VisibleObject(DoId Id, ModelInfo Model, Location Location, DoId Owner);

/// <summary>
/// The objects in one session's view, and how many of them are at each location: a session that sees as many objects
/// at a location as the State Server counted there sees all of them, and sends a broadcast batch for that location as
/// one shared block (see <see cref="RelayBatch"/>). Not thread-safe: the session's lock guards it.
/// </summary>
internal sealed class VisibleObjects
{
    private readonly Dictionary<DoId, VisibleObject> byId = new();
    private readonly Dictionary<Location, int> countAt = new();

    /// <summary>How many objects are in view.</summary>
    public int Count => byId.Count;

    /// <summary>The ids in view.</summary>
    public Dictionary<DoId, VisibleObject>.KeyCollection Keys => byId.Keys;

    /// <summary>The objects in view.</summary>
    public Dictionary<DoId, VisibleObject>.ValueCollection Values => byId.Values;

    /// <summary>Adds an object to the view, or replaces what it knew of it (a move, a new owner).</summary>
    public VisibleObject this[DoId id]
    {
        set
        {
            if (byId.TryGetValue(id, out var known))
            {
                Uncount(known.Location);
            }

            byId[id] = value;
            countAt[value.Location] = countAt.GetValueOrDefault(value.Location) + 1;
        }
    }

    /// <summary>Whether <paramref name="id"/> is in view.</summary>
    public bool ContainsKey(DoId id) => byId.ContainsKey(id);

    /// <summary>What the view knows of <paramref name="id"/>; false when it is not in view.</summary>
    public bool TryGetValue(DoId id, out VisibleObject seen) => byId.TryGetValue(id, out seen);

    /// <summary>Takes <paramref name="id"/> out of the view; false when it was not in it.</summary>
    public bool Remove(DoId id)
    {
        if (!byId.Remove(id, out var known))
        {
            return false;
        }

        Uncount(known.Location);
        return true;
    }

    /// <summary>Empties the view.</summary>
    public void Clear()
    {
        byId.Clear();
        countAt.Clear();
    }

    /// <summary>How many objects in view are at <paramref name="location"/>.</summary>
    public int CountAt(Location location) => countAt.GetValueOrDefault(location);

    /// <summary>Enumerates the view's ids and objects.</summary>
    public Dictionary<DoId, VisibleObject>.Enumerator GetEnumerator() => byId.GetEnumerator();

    private void Uncount(Location location)
    {
        int left = countAt[location] - 1;
        if (left == 0)
        {
            countAt.Remove(location);
        }
        else
        {
            countAt[location] = left;
        }
    }
}
