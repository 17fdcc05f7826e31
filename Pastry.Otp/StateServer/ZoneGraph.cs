namespace Pastry.Otp.StateServer;

/// <summary>
/// Where every object is: locations are <c>(parent DoId, zone)</c>, and since any object can be a parent, zones nest
/// (a district holds a tavern, the tavern holds its rooms). A plain class with no I/O, so that the zone logic can be
/// tested without sockets (ARCHITECTURE 4, STYLE "Keep I/O out of logic"). Not thread-safe: the State Server owns it.
/// </summary>
public sealed class ZoneGraph
{
    private readonly Dictionary<DoId, Location> locations = new();
    private readonly Dictionary<Location, HashSet<DoId>> byLocation = new();
    private readonly Dictionary<DoId, HashSet<DoId>> childrenByParent = new();

    /// <summary>How many objects have a location.</summary>
    public int Count => locations.Count;

    /// <summary>Places a new object, or moves an existing one. Returns the previous location, if any.</summary>
    public Location? Place(DoId id, DoId parent, uint zone)
    {
        if (id == parent)
        {
            throw new ArgumentException($"Object {id} cannot be its own parent.", nameof(parent));
        }

        if (!parent.IsEmpty && IsAncestorOrSelf(id, parent))
        {
            throw new ArgumentException($"Moving {id} under {parent} would make a cycle: {parent} is inside {id}.", nameof(parent));
        }

        Location? previous = null;
        if (locations.TryGetValue(id, out var old))
        {
            previous = old;
            Detach(id, old);
        }

        var location = new Location(parent, zone);
        locations[id] = location;
        Set(byLocation, location).Add(id);
        Set(childrenByParent, parent).Add(id);
        return previous;
    }

    /// <summary>The location of <paramref name="id"/>.</summary>
    public bool TryGetLocation(DoId id, out Location location) => locations.TryGetValue(id, out location);

    /// <summary>The objects in zones <paramref name="zones"/> of <paramref name="parent"/>, in no particular order.</summary>
    public IEnumerable<DoId> ObjectsIn(DoId parent, IEnumerable<uint> zones)
    {
        foreach (uint zone in zones)
        {
            if (byLocation.TryGetValue(new Location(parent, zone), out var set))
            {
                foreach (var id in set)
                {
                    yield return id;
                }
            }
        }
    }

    /// <summary>The objects in zones <c>[low, high]</c> of <paramref name="parent"/>.</summary>
    public IEnumerable<DoId> ObjectsInRange(DoId parent, uint low, uint high)
    {
        if (!childrenByParent.TryGetValue(parent, out var children))
        {
            yield break;
        }

        foreach (var id in children)
        {
            uint zone = locations[id].Zone;
            if (zone >= low && zone <= high)
            {
                yield return id;
            }
        }
    }

    /// <summary>The direct children of <paramref name="parent"/> in every zone.</summary>
    public IReadOnlyCollection<DoId> ChildrenOf(DoId parent) =>
        childrenByParent.TryGetValue(parent, out var set) ? set : (IReadOnlyCollection<DoId>)Array.Empty<DoId>();

    /// <summary>
    /// Removes <paramref name="id"/> and everything beneath it. Returns the removed ids, deepest first, so that
    /// children are reported deleted before their parent.
    /// </summary>
    public List<DoId> RemoveTree(DoId id)
    {
        var removed = new List<DoId>();
        Collect(id, removed);
        foreach (var child in removed)
        {
            if (locations.TryGetValue(child, out var location))
            {
                Detach(child, location);
                locations.Remove(child);
            }

            childrenByParent.Remove(child);
        }

        return removed;
    }

    private void Collect(DoId id, List<DoId> into)
    {
        if (childrenByParent.TryGetValue(id, out var children))
        {
            foreach (var child in children.ToArray())
            {
                Collect(child, into);
            }
        }

        into.Add(id);
    }

    private bool IsAncestorOrSelf(DoId candidate, DoId of)
    {
        for (var current = of; !current.IsEmpty; current = locations.TryGetValue(current, out var l) ? l.Parent : DoId.Empty)
        {
            if (current == candidate)
            {
                return true;
            }
        }

        return false;
    }

    private void Detach(DoId id, Location location)
    {
        if (byLocation.TryGetValue(location, out var set) && set.Remove(id) && set.Count == 0)
        {
            byLocation.Remove(location);
        }

        if (childrenByParent.TryGetValue(location.Parent, out var siblings) && siblings.Remove(id) && siblings.Count == 0)
        {
            childrenByParent.Remove(location.Parent);
        }
    }

    private static HashSet<DoId> Set<TKey>(Dictionary<TKey, HashSet<DoId>> map, TKey key)
        where TKey : notnull
    {
        if (!map.TryGetValue(key, out var set))
        {
            map[key] = set = new HashSet<DoId>();
        }

        return set;
    }
}

/// <summary>A location: a parent object and a zone under it.</summary>
/// <param name="Parent">The parent object (<see cref="DoId.Empty"/> for the root).</param>
/// <param name="Zone">The zone under the parent.</param>
public readonly record struct Location(DoId Parent, uint Zone)
{
    /// <inheritdoc />
    public override string ToString() => $"({Parent}, {Zone})";
}
