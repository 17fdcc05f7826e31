using System.Diagnostics.CodeAnalysis;

namespace Pastry.Otp.StateServer;

/// <summary>
/// Where every object is: locations are <c>(parent DoId, zone)</c>, and since any object can be a parent, zones nest
/// (a district holds a tavern, the tavern holds its rooms). A plain class with no I/O, so that the zone logic can be
/// tested without sockets (ARCHITECTURE 4, STYLE "Keep I/O out of logic"). Not thread-safe: the State Server owns it.
/// </summary>
/// <remarks>
/// Memory is the point of the layout: a server holds millions of objects, so each costs one dictionary entry (id to
/// node) and two links in its zone's list, and nothing else. The State Server's objects are the nodes themselves
/// (<see cref="StateObject"/>), so that this is also its table of objects. A parent's children are found through the
/// zones in use under it, not through a set per parent.
/// </remarks>
internal sealed class ZoneGraph
{
    private readonly Dictionary<DoId, ZoneNode> nodes = new();
    private readonly Dictionary<Location, ZoneList> byLocation = new();
    private readonly Dictionary<DoId, List<ZoneList>> zonesByParent = new();

    /// <summary>How many objects have a location.</summary>
    public int Count => nodes.Count;

    /// <summary>How many locations hold at least one object.</summary>
    public int ZoneCount => byLocation.Count;

    /// <summary>Every placed node, in no particular order.</summary>
    internal IEnumerable<ZoneNode> Nodes => nodes.Values;

    /// <summary>Places a new object, or moves an existing one. Returns the previous location, if any.</summary>
    public Location? Place(DoId id, DoId parent, uint zone) =>
        Place(nodes.TryGetValue(id, out var node) ? node : new ZoneNode(id), parent, zone);

    /// <summary>
    /// Places <paramref name="node"/> (new, or already placed: then it moves) and sets its location. Returns the
    /// previous location, if any.
    /// </summary>
    internal Location? Place(ZoneNode node, DoId parent, uint zone)
    {
        var id = node.Id;
        if (id == parent)
        {
            throw new ArgumentException($"Object {id} cannot be its own parent.", nameof(parent));
        }

        if (!parent.IsEmpty && IsAncestorOrSelf(id, parent))
        {
            throw new ArgumentException($"Moving {id} under {parent} would make a cycle: {parent} is inside {id}.", nameof(parent));
        }

        Location? previous = null;
        if (nodes.TryGetValue(id, out var placed))
        {
            if (!ReferenceEquals(placed, node))
            {
                throw new InvalidOperationException($"Another object with id {id} is already placed.");
            }

            previous = node.Location;
            Detach(node);
        }
        else
        {
            nodes.Add(id, node);
        }

        node.Location = new Location(parent, zone);
        Attach(node);
        return previous;
    }

    /// <summary>The location of <paramref name="id"/>.</summary>
    public bool TryGetLocation(DoId id, out Location location)
    {
        if (nodes.TryGetValue(id, out var node))
        {
            location = node.Location;
            return true;
        }

        location = default;
        return false;
    }

    /// <summary>Whether <paramref name="id"/> is placed.</summary>
    internal bool Contains(DoId id) => nodes.ContainsKey(id);

    /// <summary>How many objects are at <paramref name="location"/> (0 for a location not in use).</summary>
    internal int CountAt(Location location) => byLocation.TryGetValue(location, out var list) ? list.Count : 0;

    /// <summary>The node of <paramref name="id"/>.</summary>
    internal bool TryGetNode(DoId id, [NotNullWhen(true)] out ZoneNode? node) => nodes.TryGetValue(id, out node);

    /// <summary>The objects in zones <paramref name="zones"/> of <paramref name="parent"/>, in no particular order.</summary>
    public IEnumerable<DoId> ObjectsIn(DoId parent, IEnumerable<uint> zones)
    {
        foreach (var node in NodesIn(parent, zones))
        {
            yield return node.Id;
        }
    }

    /// <summary>The nodes in zones <paramref name="zones"/> of <paramref name="parent"/>, each zone in placement order.</summary>
    internal IEnumerable<ZoneNode> NodesIn(DoId parent, IEnumerable<uint> zones)
    {
        foreach (uint zone in zones)
        {
            if (byLocation.TryGetValue(new Location(parent, zone), out var list))
            {
                for (var node = list.First; node is not null; node = node.Next)
                {
                    yield return node;
                }
            }
        }
    }

    /// <summary>The objects in zones <c>[low, high]</c> of <paramref name="parent"/>.</summary>
    public IEnumerable<DoId> ObjectsInRange(DoId parent, uint low, uint high)
    {
        if (!zonesByParent.TryGetValue(parent, out var lists))
        {
            yield break;
        }

        foreach (var list in lists)
        {
            if (list.Location.Zone >= low && list.Location.Zone <= high)
            {
                for (var node = list.First; node is not null; node = node.Next)
                {
                    yield return node.Id;
                }
            }
        }
    }

    /// <summary>The direct children of <paramref name="parent"/> in every zone.</summary>
    public IReadOnlyCollection<DoId> ChildrenOf(DoId parent)
    {
        var children = new List<DoId>();
        if (zonesByParent.TryGetValue(parent, out var lists))
        {
            foreach (var list in lists)
            {
                for (var node = list.First; node is not null; node = node.Next)
                {
                    children.Add(node.Id);
                }
            }
        }

        return children;
    }

    /// <summary>
    /// Removes <paramref name="id"/> and everything beneath it. Returns the removed ids, deepest first, so that
    /// children are reported deleted before their parent (an id that is not placed comes back alone).
    /// </summary>
    public List<DoId> RemoveTree(DoId id)
    {
        var removed = RemoveNodes(id).ConvertAll(n => n.Id);
        if (removed.Count == 0)
        {
            removed.Add(id);
        }

        return removed;
    }

    /// <summary>Removes <paramref name="id"/> and everything beneath it; returns the removed nodes, deepest first.</summary>
    internal List<ZoneNode> RemoveNodes(DoId id)
    {
        var removed = new List<ZoneNode>();
        if (nodes.TryGetValue(id, out var root))
        {
            Collect(root, removed);
        }

        foreach (var node in removed)
        {
            Detach(node);
            nodes.Remove(node.Id);
        }

        return removed;
    }

    private void Collect(ZoneNode parent, List<ZoneNode> into)
    {
        if (zonesByParent.TryGetValue(parent.Id, out var lists))
        {
            foreach (var list in lists)
            {
                for (var node = list.First; node is not null; node = node.Next)
                {
                    Collect(node, into);
                }
            }
        }

        into.Add(parent);
    }

    private bool IsAncestorOrSelf(DoId candidate, DoId of)
    {
        for (var current = of; !current.IsEmpty; current = nodes.TryGetValue(current, out var node) ? node.Location.Parent : DoId.Empty)
        {
            if (current == candidate)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Appends the node to its location's list (placement order within a zone).</summary>
    private void Attach(ZoneNode node)
    {
        var location = node.Location;
        if (!byLocation.TryGetValue(location, out var list))
        {
            byLocation.Add(location, list = new ZoneList(location));
            if (!zonesByParent.TryGetValue(location.Parent, out var lists))
            {
                zonesByParent.Add(location.Parent, lists = new List<ZoneList>());
            }

            list.IndexInParent = lists.Count;
            lists.Add(list);
        }

        node.Previous = list.Last;
        node.Next = null;
        if (list.Last is null)
        {
            list.First = node;
        }
        else
        {
            list.Last.Next = node;
        }

        list.Last = node;
        list.Count++;
    }

    private void Detach(ZoneNode node)
    {
        var location = node.Location;
        var list = byLocation[location];
        if (node.Previous is null)
        {
            list.First = node.Next;
        }
        else
        {
            node.Previous.Next = node.Next;
        }

        if (node.Next is null)
        {
            list.Last = node.Previous;
        }
        else
        {
            node.Next.Previous = node.Previous;
        }

        node.Previous = node.Next = null;
        list.Count--;
        if (list.First is null)
        {
            byLocation.Remove(location);
            // Swap the last zone into this one's place: a grid parent has thousands of zones, emptied often.
            var lists = zonesByParent[location.Parent];
            var last = lists[^1];
            lists[list.IndexInParent] = last;
            last.IndexInParent = list.IndexInParent;
            lists.RemoveAt(lists.Count - 1);
            if (lists.Count == 0)
            {
                zonesByParent.Remove(location.Parent);
            }
        }
    }

    /// <summary>The objects at one location, as a doubly linked list through the nodes.</summary>
    private sealed class ZoneList(Location location)
    {
        public Location Location { get; } = location;

        public ZoneNode? First { get; set; }

        public ZoneNode? Last { get; set; }

        /// <summary>Where this list is in its parent's list of zones in use.</summary>
        public int IndexInParent { get; set; }

        /// <summary>How many nodes it holds.</summary>
        public int Count { get; set; }
    }
}

/// <summary>
/// An object as the <see cref="ZoneGraph"/> places it: its id, its location and its links to the other objects at
/// that location. The State Server's objects derive from it, so that placing one costs no separate record.
/// </summary>
internal class ZoneNode
{
    /// <summary>Creates a node that is not placed yet.</summary>
    public ZoneNode(DoId id) => Id = id;

    /// <summary>The object's id.</summary>
    public DoId Id { get; }

    /// <summary>Where the object is; set by <see cref="ZoneGraph"/> when it is placed or moved.</summary>
    public Location Location { get; internal set; }

    internal ZoneNode? Previous { get; set; }

    internal ZoneNode? Next { get; set; }
}

/// <summary>A location: a parent object and a zone under it.</summary>
/// <param name="Parent">The parent object (<see cref="DoId.Empty"/> for the root).</param>
/// <param name="Zone">The zone under the parent.</param>
internal readonly record struct Location(DoId Parent, uint Zone)
{
    /// <inheritdoc />
    public override string ToString() => $"({Parent}, {Zone})";
}
