using System.Collections.Concurrent;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

/// <summary>The State Server's answers to the admin endpoint: snapshots built on its own task.</summary>
internal sealed partial class StateServer
{
    /// <summary>Queued to wake the loop for snapshot requests; compared by reference, so no participant can send it.</summary>
    private static readonly Envelope SnapshotSignal = new(default, default, DoId.Empty, ReadOnlyMemory<byte>.Empty);

    private readonly ConcurrentQueue<(StateQuery Query, TaskCompletionSource<StateSnapshot> Done)> snapshotRequests = new();

    /// <summary>How many locations hold objects (approximate when read off the State Server's task, as metrics do).</summary>
    public int ZoneCount => graph.ZoneCount;

    /// <summary>
    /// A consistent picture of the State Server for the dashboard. It is built by the State Server's own task (the
    /// request travels through its queue like any message), so no other thread ever reads its objects.
    /// </summary>
    public Task<StateSnapshot> SnapshotAsync(StateQuery query, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var done = new TaskCompletionSource<StateSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        snapshotRequests.Enqueue((query, done));
        if (!inbox.TryPost(SnapshotSignal))
        {
            done.TrySetException(new InvalidOperationException("The State Server's inbox is full or closed; the dashboard tries again at its next refresh."));
        }

        return done.Task.WaitAsync(cancellation);
    }

    private void AnswerSnapshots()
    {
        while (snapshotRequests.TryDequeue(out var request))
        {
            try
            {
                request.Done.TrySetResult(BuildSnapshot(request.Query));
            }
            catch (Exception ex)
            {
                request.Done.TrySetException(ex);
            }
        }
    }

    private StateSnapshot BuildSnapshot(StateQuery query)
    {
        var zones = new Dictionary<Location, int>();
        var byAi = new Dictionary<DoId, int>();
        var parents = new HashSet<DoId>();
        var mapped = new List<StateObject>();
        foreach (var node in graph.Nodes)
        {
            var obj = (StateObject)node;
            var location = obj.Location;
            zones[location] = zones.GetValueOrDefault(location) + 1;
            byAi[obj.Ai.Id] = byAi.GetValueOrDefault(obj.Ai.Id) + 1;
            parents.Add(location.Parent);
            if (!query.MapParent.IsEmpty && location.Parent == query.MapParent && mapped.Count < query.MaxMapObjects)
            {
                mapped.Add(obj);
            }
        }

        // The map's objects that hold zones of their own (the tavern) list what is inside, room by room.
        var rooms = new List<SnapshotObject>();
        foreach (var holder in mapped)
        {
            if (!parents.Contains(holder.Id))
            {
                continue;
            }

            foreach (var inside in graph.ChildrenOf(holder.Id))
            {
                if (rooms.Count < query.MaxMapObjects && graph.TryGetNode(inside, out var node))
                {
                    rooms.Add(Describe((StateObject)node, query.PositionField));
                }
            }
        }

        var zoneList = zones.OrderByDescending(z => z.Value).Take(query.MaxZones)
            .Select(z => new SnapshotZone(z.Key.Parent, z.Key.Zone, z.Value)).ToList();

        // Only the parents the page can draw: those of the listed locations and the map, with their ancestors up to
        // the root, so that the tree connects. A world where every player holds zones (an inventory) still sends at
        // most MaxZones chains, not one label per player.
        var parentLabels = new List<SnapshotObject>();
        var labelled = new HashSet<DoId>();
        foreach (var start in zoneList.Select(z => z.Parent).Append(query.MapParent))
        {
            for (var parent = start; !parent.IsEmpty && labelled.Add(parent) && graph.TryGetNode(parent, out var node);)
            {
                var holder = (StateObject)node;
                parentLabels.Add(Describe(holder, null));
                parent = holder.Location.Parent;
            }
        }

        return new StateSnapshot(
            graph.Count,
            zones.Count,
            zoneList,
            parentLabels,
            byAi.Select(a => new SnapshotAi(a.Key, a.Value)).OrderByDescending(a => a.Objects).ToList(),
            mapped.Select(o => Describe(o, query.PositionField)).ToList(),
            rooms);
    }

    private static SnapshotObject Describe(StateObject obj, string? positionField)
    {
        string label = string.Empty;
        float[]? position = null;
        foreach (var field in obj.Model.Fields)
        {
            if (label.Length == 0 && field.ClrType == typeof(string) && obj.HasValue(field.Index))
            {
                label = Decode(obj, field) as string ?? string.Empty;
            }
            else if (positionField is not null && field.Name == positionField && field.ClrType == typeof(float[]) && obj.HasValue(field.Index))
            {
                position = Decode(obj, field) as float[];
            }
        }

        return new SnapshotObject(obj.Id, obj.Model.Name, label, obj.Location.Parent, obj.Location.Zone, obj.Owner, obj.Ai.Id, position is { Length: >= 2 } ? position : null);
    }

    private static object? Decode(StateObject obj, FieldDescriptor field)
    {
        var reader = new WireReader(obj.Value(field.Index));
        return field.Codec.ReadBoxed(ref reader);
    }
}

/// <summary>What the admin endpoint asks the State Server for.</summary>
/// <param name="MapParent">The <see cref="ZoneGrid"/> parent whose objects the map shows (empty: no map).</param>
/// <param name="PositionField">A <c>float[]</c> field holding an object's world position (x, y), when it has one.</param>
/// <param name="MaxMapObjects">The most objects the map lists (the page stays usable with many thousands).</param>
/// <param name="MaxZones">The most locations listed, fullest first.</param>
internal sealed record StateQuery(DoId MapParent, string? PositionField, int MaxMapObjects = 5000, int MaxZones = 500);

/// <summary>A snapshot of the State Server, taken on its own task.</summary>
/// <param name="Objects">Objects in RAM.</param>
/// <param name="Zones">Locations that hold objects.</param>
/// <param name="Locations">The fullest locations (at most <see cref="StateQuery.MaxZones"/>).</param>
/// <param name="Parents">The objects that hold the listed locations and the map, with their ancestors, so that the zone graph can be drawn as a tree.</param>
/// <param name="Ais">Objects per AI (the AI named as each object's creator).</param>
/// <param name="Map">The map parent's objects.</param>
/// <param name="Rooms">Objects inside the map's objects (a tavern's rooms).</param>
internal sealed record StateSnapshot(int Objects, int Zones, IReadOnlyList<SnapshotZone> Locations, IReadOnlyList<SnapshotObject> Parents, IReadOnlyList<SnapshotAi> Ais, IReadOnlyList<SnapshotObject> Map, IReadOnlyList<SnapshotObject> Rooms);

/// <summary>One location and how many objects it holds.</summary>
/// <param name="Parent">The parent object.</param>
/// <param name="Zone">The zone under it.</param>
/// <param name="Count">Objects there.</param>
internal sealed record SnapshotZone(DoId Parent, uint Zone, int Count);

/// <summary>One AI and how many objects it created that still exist.</summary>
/// <param name="Ai">The AI's id.</param>
/// <param name="Objects">Its objects.</param>
internal sealed record SnapshotAi(DoId Ai, int Objects);

/// <summary>One object as the dashboard shows it.</summary>
/// <param name="Id">Its DoId.</param>
/// <param name="Class">Its model's name.</param>
/// <param name="Label">Its first stored string field (a name), or empty.</param>
/// <param name="Parent">Where it is: the parent.</param>
/// <param name="Zone">Where it is: the zone.</param>
/// <param name="Owner">Its owner (an account), or empty for its AI.</param>
/// <param name="Ai">The AI that created it.</param>
/// <param name="Position">Its world position from <see cref="StateQuery.PositionField"/>, or null.</param>
internal sealed record SnapshotObject(DoId Id, string Class, string Label, DoId Parent, uint Zone, DoId Owner, DoId Ai, float[]? Position);
