using Pastry.Nats.Placement;

namespace Pastry.Tests.Nats;

/// <summary>The placement mapping (<see cref="RendezvousPlacement"/>): deterministic, balanced, and minimal on join and leave.</summary>
[TestClass]
public sealed class RendezvousPlacementTests
{
    private static readonly DoId[] Nodes = [new(1, 11), new(2, 22), new(3, 33)];

    /// <summary>The node (its low half) of the keys of <see cref="TheMappingIsFixed_SoEveryProcessAndEveryVersionPicksTheSameNode"/>.</summary>
    private static readonly ulong[] Expected = [33, 11, 22, 33, 33, 11, 33, 22, 33, 33, 33, 33, 33, 22, 33, 33, 33, 11, 33, 33];

    [TestMethod]
    public void TheMappingIsFixed_SoEveryProcessAndEveryVersionPicksTheSameNode()
    {
        // Pinned values: a change of the weight function would split a running world between two mappings.
        Assert.AreEqual(0x7862239E4E1AA708UL, RendezvousPlacement.Weight(new DoId(7, 7), new DoId(1, 11)));
        var keys = Enumerable.Range(1, 20).Select(i => new DoId((ulong)i * 977, (ulong)i * 31337)).ToArray();
        var picked = keys.Select(key => RendezvousPlacement.NodeFor(key, Nodes)).ToArray();
        var reversed = Nodes.Reverse().ToArray();
        CollectionAssert.AreEqual(picked, keys.Select(key => RendezvousPlacement.NodeFor(key, reversed)).ToArray(), "The order of the node list must not matter.");
        CollectionAssert.AreEqual(Expected, picked.Select(node => node.Low).ToArray(), "The mapping changed: every node of a world must run the same one.");
    }

    [TestMethod]
    public void NoNode_MeansNoPlacement_AndOneNodeTakesEverything()
    {
        Assert.AreEqual(DoId.Empty, RendezvousPlacement.NodeFor(DoId.NewId(), ReadOnlySpan<DoId>.Empty));
        for (int i = 0; i < 100; i++)
        {
            Assert.AreEqual(Nodes[1], RendezvousPlacement.NodeFor(DoId.NewId(), Nodes.AsSpan(1, 1)));
        }
    }

    [TestMethod]
    public void KeysSpreadOverTheNodes_AboutEvenly()
    {
        var counts = new Dictionary<DoId, int>();
        var random = new Random(14);
        for (int i = 0; i < 30_000; i++)
        {
            var node = RendezvousPlacement.NodeFor(new DoId((ulong)random.NextInt64(), (ulong)random.NextInt64()), Nodes);
            counts[node] = counts.GetValueOrDefault(node) + 1;
        }

        Assert.AreEqual(3, counts.Count);
        foreach (var (node, count) in counts)
        {
            Assert.IsTrue(count is > 9_000 and < 11_000, $"{node} got {count} of 30,000 keys; expected about 10,000.");
        }
    }

    [TestMethod]
    public void AJoin_MovesOnlyKeysToTheNewNode_AndALeave_MovesOnlyTheLeaversKeys()
    {
        var joined = Nodes.Append(new DoId(4, 44)).ToArray();
        var left = Nodes.Where(node => node != Nodes[0]).ToArray();
        var random = new Random(3);
        int movedOnJoin = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var key = new DoId((ulong)random.NextInt64(), (ulong)random.NextInt64());
            var before = RendezvousPlacement.NodeFor(key, Nodes);
            var afterJoin = RendezvousPlacement.NodeFor(key, joined);
            if (afterJoin != before)
            {
                Assert.AreEqual(joined[^1], afterJoin, "A join moves a key only to the node that joined.");
                movedOnJoin++;
            }

            var afterLeave = RendezvousPlacement.NodeFor(key, left);
            if (before != Nodes[0])
            {
                Assert.AreEqual(before, afterLeave, "A leave moves only the keys of the node that left.");
            }
        }

        Assert.IsTrue(movedOnJoin is > 4_000 and < 6_000, $"{movedOnJoin} of 20,000 keys moved to the fourth node; expected about a quarter.");
    }
}
