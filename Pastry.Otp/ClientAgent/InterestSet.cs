using Pastry.Otp.StateServer;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// A session's interests: context → (parent, zones), with a reference count per location so that overlapping
/// interests subscribe each location once and removing one interest keeps what another still needs. Plain logic,
/// no I/O, so that it can be tested without sockets.
/// </summary>
internal sealed class InterestSet
{
    private readonly Dictionary<uint, (DoId Parent, uint[] Zones)> interests = new();
    private readonly Dictionary<Location, int> references = new();

    /// <summary>How many interests are open.</summary>
    public int Count => interests.Count;

    /// <summary>Zones named by all open interests together (a zone in two interests counts twice: each costs).</summary>
    public int ZoneCount { get; private set; }

    /// <summary>Zones named by interest <paramref name="context"/>; 0 when it is not open.</summary>
    public int ZoneCountOf(uint context) => interests.TryGetValue(context, out var interest) ? interest.Zones.Length : 0;

    /// <summary>Whether any interest covers <paramref name="location"/>.</summary>
    public bool Sees(Location location) => references.ContainsKey(location);

    /// <summary>Whether <paramref name="context"/> is open.</summary>
    public bool Contains(uint context) => interests.ContainsKey(context);

    /// <summary>
    /// Opens (or replaces) interest <paramref name="context"/>. Returns the locations that became visible and those
    /// that stopped being visible (the latter only when a replaced interest dropped zones).
    /// </summary>
    public (List<Location> Added, List<Location> Removed) Set(uint context, DoId parent, IEnumerable<uint> zones)
    {
        var removed = new List<Location>();
        if (interests.ContainsKey(context))
        {
            removed = Remove(context);
        }

        var unique = zones.Distinct().ToArray();
        interests[context] = (parent, unique);
        ZoneCount += unique.Length;
        var added = new List<Location>();
        foreach (uint zone in unique)
        {
            var location = new Location(parent, zone);
            references.TryGetValue(location, out int count);
            references[location] = count + 1;
            if (count == 0)
            {
                if (!removed.Remove(location))
                {
                    added.Add(location);
                }
            }
        }

        return (added, removed);
    }

    /// <summary>Closes interest <paramref name="context"/>; returns the locations no interest covers any more.</summary>
    public List<Location> Remove(uint context)
    {
        var removed = new List<Location>();
        if (!interests.Remove(context, out var interest))
        {
            return removed;
        }

        ZoneCount -= interest.Zones.Length;
        foreach (uint zone in interest.Zones)
        {
            var location = new Location(interest.Parent, zone);
            int count = references[location] - 1;
            if (count == 0)
            {
                references.Remove(location);
                removed.Add(location);
            }
            else
            {
                references[location] = count;
            }
        }

        return removed;
    }

    /// <summary>Every location covered by some interest.</summary>
    public IEnumerable<Location> Locations => references.Keys;
}
