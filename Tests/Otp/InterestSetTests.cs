using Pastry.Otp.ClientAgent;
using Pastry.Otp.StateServer;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class InterestSetTests
{
    private static readonly DoId Town = new(0, 10);
    private static readonly DoId Forest = new(0, 11);

    private readonly InterestSet interests = new();

    [TestMethod]
    public void Set_NewInterest_AddsEveryZone_AndRemovesNothing()
    {
        var (added, removed) = interests.Set(1, Town, new[] { 1u, 2u, 3u });

        CollectionAssert.AreEquivalent(Locations(Town, 1, 2, 3), added);
        Assert.IsEmpty(removed);
        Assert.AreEqual(1, interests.Count);
        Assert.IsTrue(interests.Contains(1));
        CollectionAssert.AreEquivalent(Locations(Town, 1, 2, 3), interests.Locations.ToList());
    }

    [TestMethod]
    public void Set_OverlappingInterests_AddEachLocationOnlyTheFirstTime()
    {
        interests.Set(1, Town, new[] { 1u, 2u, 3u });

        var (added, removed) = interests.Set(2, Town, new[] { 2u, 3u, 4u });

        CollectionAssert.AreEquivalent(Locations(Town, 4), added);
        Assert.IsEmpty(removed);
        Assert.AreEqual(2, interests.Count);
        CollectionAssert.AreEquivalent(Locations(Town, 1, 2, 3, 4), interests.Locations.ToList());
    }

    [TestMethod]
    public void Set_SameZonesUnderAnotherParent_AreOtherLocations()
    {
        interests.Set(1, Town, new[] { 1u });

        var (added, _) = interests.Set(2, Forest, new[] { 1u });

        CollectionAssert.AreEquivalent(Locations(Forest, 1), added);
        Assert.IsTrue(interests.Sees(new Location(Town, 1)));
        Assert.IsTrue(interests.Sees(new Location(Forest, 1)));
    }

    [TestMethod]
    public void Remove_OneOfTwoOverlappingInterests_KeepsLocationsTheOtherStillCovers()
    {
        interests.Set(1, Town, new[] { 1u, 2u, 3u });
        interests.Set(2, Town, new[] { 2u, 3u, 4u });

        var removed = interests.Remove(1);

        CollectionAssert.AreEquivalent(Locations(Town, 1), removed);
        Assert.IsFalse(interests.Sees(new Location(Town, 1)));
        Assert.IsTrue(interests.Sees(new Location(Town, 2)));
        Assert.IsTrue(interests.Sees(new Location(Town, 4)));
        Assert.IsFalse(interests.Contains(1));
        Assert.IsTrue(interests.Contains(2));
        Assert.AreEqual(1, interests.Count);

        var removedLast = interests.Remove(2);

        CollectionAssert.AreEquivalent(Locations(Town, 2, 3, 4), removedLast);
        Assert.AreEqual(0, interests.Count);
        Assert.IsEmpty(interests.Locations.ToList());
    }

    [TestMethod]
    public void Remove_UnknownContext_ReturnsNothing_AndChangesNothing()
    {
        interests.Set(1, Town, new[] { 1u });

        var removed = interests.Remove(99);

        Assert.IsEmpty(removed);
        Assert.AreEqual(1, interests.Count);
        Assert.IsTrue(interests.Sees(new Location(Town, 1)));
    }

    [TestMethod]
    public void Set_ReplacingAnInterest_ReturnsOnlyTheNetAddedAndRemoved()
    {
        interests.Set(1, Town, new[] { 1u, 2u, 3u });

        var (added, removed) = interests.Set(1, Town, new[] { 2u, 3u, 4u, 5u });

        CollectionAssert.AreEquivalent(Locations(Town, 4, 5), added);
        CollectionAssert.AreEquivalent(Locations(Town, 1), removed);
        Assert.AreEqual(1, interests.Count);
        CollectionAssert.AreEquivalent(Locations(Town, 2, 3, 4, 5), interests.Locations.ToList());
    }

    [TestMethod]
    public void Set_ReplacingAnInterest_KeepsLocationsAnotherInterestCovers()
    {
        interests.Set(1, Town, new[] { 1u, 2u });
        interests.Set(2, Town, new[] { 1u });

        var (added, removed) = interests.Set(1, Town, new[] { 3u });

        CollectionAssert.AreEquivalent(Locations(Town, 3), added);
        CollectionAssert.AreEquivalent(Locations(Town, 2), removed, "zone 1 is still covered by interest 2");
        Assert.IsTrue(interests.Sees(new Location(Town, 1)));

        var removedByTwo = interests.Remove(2);

        CollectionAssert.AreEquivalent(Locations(Town, 1), removedByTwo, "interest 1 no longer holds a reference to zone 1");
    }

    [TestMethod]
    public void Set_ReplacingAnInterestWithAnotherParent_RemovesTheOldParentsLocations()
    {
        interests.Set(1, Town, new[] { 1u, 2u });

        var (added, removed) = interests.Set(1, Forest, new[] { 1u, 2u });

        CollectionAssert.AreEquivalent(Locations(Forest, 1, 2), added);
        CollectionAssert.AreEquivalent(Locations(Town, 1, 2), removed);
        Assert.AreEqual(1, interests.Count);
    }

    [TestMethod]
    public void Set_DuplicateZonesInOneInterest_CountOnce()
    {
        var (added, _) = interests.Set(1, Town, new[] { 7u, 7u, 7u, 8u });

        CollectionAssert.AreEquivalent(Locations(Town, 7, 8), added);

        var removed = interests.Remove(1);

        CollectionAssert.AreEquivalent(Locations(Town, 7, 8), removed, "one Remove releases the location however often the zone was listed");
        Assert.IsFalse(interests.Sees(new Location(Town, 7)));
    }

    [TestMethod]
    public void Set_EmptyZones_OpensTheContextButSeesNothing()
    {
        var (added, removed) = interests.Set(1, Town, Array.Empty<uint>());

        Assert.IsEmpty(added);
        Assert.IsEmpty(removed);
        Assert.IsTrue(interests.Contains(1));
        Assert.AreEqual(1, interests.Count);
        Assert.IsEmpty(interests.Locations.ToList());
    }

    [TestMethod]
    public void SeesContainsCount_OnAnEmptySet_AreFalseAndZero()
    {
        Assert.AreEqual(0, interests.Count);
        Assert.IsFalse(interests.Contains(0));
        Assert.IsFalse(interests.Sees(new Location(Town, 0)));
    }

    private static List<Location> Locations(DoId parent, params uint[] zones) => zones.Select(z => new Location(parent, z)).ToList();
}
