using System.Net;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// Per-IP-address admission: how many connections an address holds, and how fast it opens new ones (a token bucket).
/// An IPv4 address counts alone; an IPv6 address counts with its whole /64 (<see cref="KeyOf"/>), since one subscriber
/// is routinely given a /64 and could otherwise open connections from 2^64 addresses.
/// Plain logic on a millisecond clock, so that tests drive it. Entries of addresses with no connection are pruned once
/// their bucket has refilled, so the table grows only with addresses that are connected or were lately.
/// </summary>
internal sealed class AddressLimits
{
    private const int PruneThreshold = 4096;

    private readonly Dictionary<IPAddress, Entry> entries = new();
    private readonly object gate = new();
    private readonly int maxConnections;
    private readonly double ratePerSecond;
    private int pruneAt = PruneThreshold;

    public AddressLimits(int maxConnections, int newConnectionsPerSecond)
    {
        this.maxConnections = maxConnections;
        ratePerSecond = newConnectionsPerSecond;
    }

    /// <summary>
    /// The key the per-address limits count <paramref name="address"/> under: an IPv4 address (also one mapped into
    /// IPv6, as a dual-stack socket reports it) as itself, an IPv6 address as its /64 prefix with the rest zeroed.
    /// </summary>
    public static IPAddress KeyOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>Addresses remembered now.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return entries.Count;
            }
        }
    }

    /// <summary>
    /// Admits a new connection from <paramref name="address"/> (counting it) or says why not. <paramref name="firstRefusal"/>
    /// is true for the first refusal of an episode, so that the caller logs once per episode, not per connection.
    /// </summary>
    public string? TryAdmit(IPAddress address, long nowMs, out bool firstRefusal)
    {
        address = KeyOf(address);
        string who = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"{address}/64" : address.ToString();
        lock (gate)
        {
            if (!entries.TryGetValue(address, out var entry))
            {
                if (entries.Count >= pruneAt)
                {
                    // Amortised: after a prune the next one waits until the table has doubled.
                    Prune(nowMs);
                    pruneAt = Math.Max(PruneThreshold, entries.Count * 2);
                }

                entry = new Entry { NewConnections = new TokenBucket(ratePerSecond, nowMs) };
                entries[address] = entry;
            }

            string? refusal = entry.Connections >= maxConnections
                ? $"{who} already has {entry.Connections} connections (the limit per address is {maxConnections})"
                : !entry.NewConnections.TryTake(nowMs)
                    ? $"{who} opens connections faster than {ratePerSecond:0.#} per second"
                    : null;
            if (refusal is not null)
            {
                firstRefusal = !entry.Refusing;
                entry.Refusing = true;
                return refusal;
            }

            firstRefusal = false;
            entry.Refusing = false;
            entry.Connections++;
            return null;
        }
    }

    /// <summary>Counts a connection of <paramref name="address"/> as closed.</summary>
    public void Release(IPAddress address)
    {
        address = KeyOf(address);
        lock (gate)
        {
            if (entries.TryGetValue(address, out var entry))
            {
                entry.Connections--;
            }
        }
    }

    /// <summary>Forgets addresses with no connection whose bucket is full again (they would start afresh anyway).</summary>
    private void Prune(long nowMs)
    {
        foreach (var pair in entries.ToList())
        {
            var entry = pair.Value;
            if (entry.Connections <= 0 && entry.NewConnections.IsFullAt(nowMs))
            {
                entries.Remove(pair.Key);
            }
        }
    }

    private sealed class Entry
    {
        public int Connections;
        public TokenBucket NewConnections;
        public bool Refusing;
    }
}
