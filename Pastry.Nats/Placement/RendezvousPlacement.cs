using Pastry.Messaging;

namespace Pastry.Nats.Placement;

/// <summary>
/// The deterministic mapping of State Server objects to OTP nodes (docs/deployment.md, "Placement across OTP nodes"):
/// rendezvous (highest-random-weight) hashing. The node for a key is the one with the highest
/// <see cref="Weight"/>(key, node) among the live nodes, so every process that has the same view of the live nodes
/// picks the same node without a table to share, and a node that joins or leaves changes the winner only of the keys
/// that node wins (about 1/N of them); no other key moves.
/// </summary>
/// <remarks>
/// The weight is a fixed 64-bit mix of the two 128-bit ids (the splitmix64 finaliser applied to each half in turn), not
/// <see cref="object.GetHashCode"/>: .NET randomises string and <see cref="HashCode"/> hashes per process, and every
/// process must agree. Ties (practically never) go to the node with the higher id.
/// </remarks>
internal static class RendezvousPlacement
{
    /// <summary>
    /// The node of <paramref name="key"/> among <paramref name="nodes"/>, or <see cref="DoId.Empty"/> when there is no
    /// node. The order of <paramref name="nodes"/> does not matter.
    /// </summary>
    public static DoId NodeFor(DoId key, ReadOnlySpan<DoId> nodes)
    {
        var best = DoId.Empty;
        ulong bestWeight = 0;
        foreach (var node in nodes)
        {
            ulong weight = Weight(key, node);
            if (best.IsEmpty || weight > bestWeight || (weight == bestWeight && node.CompareTo(best) > 0))
            {
                best = node;
                bestWeight = weight;
            }
        }

        return best;
    }

    /// <summary>The weight of <paramref name="node"/> for <paramref name="key"/>; part of the documented mapping, so never change it.</summary>
    public static ulong Weight(DoId key, DoId node)
    {
        ulong h = Mix(node.Low ^ 0x5061737472795F31UL);
        h = Mix(h ^ node.High);
        h = Mix(h ^ key.Low);
        return Mix(h ^ key.High);
    }

    /// <summary>The splitmix64 finaliser: every input bit changes about half the output bits.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
