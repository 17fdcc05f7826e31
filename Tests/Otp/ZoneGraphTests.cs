using Pastry.Otp.StateServer;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class ZoneGraphTests
{
    private static readonly DoId District = new(0, 1);
    private static readonly DoId Tavern = new(0, 2);
    private static readonly DoId Room = new(0, 3);
    private static readonly DoId Guest = new(0, 4);
    private static readonly DoId Barrel = new(0, 5);
    private static readonly DoId Market = new(0, 6);

    private readonly ZoneGraph graph = new();

    [TestMethod]
    public void Place_NewObject_ReturnsNoPreviousLocation_AndCanBeQueried()
    {
        var previous = graph.Place(Guest, District, 7);

        Assert.IsNull(previous);
        Assert.AreEqual(1, graph.Count);
        Assert.IsTrue(graph.TryGetLocation(Guest, out var location));
        Assert.AreEqual(new Location(District, 7), location);
        CollectionAssert.AreEquivalent(new[] { Guest }, graph.ObjectsIn(District, new[] { 7u }).ToList());
        CollectionAssert.AreEquivalent(new[] { Guest }, graph.ChildrenOf(District).ToList());
    }

    [TestMethod]
    public void Place_ExistingObject_MovesIt_AndReturnsThePreviousLocation()
    {
        graph.Place(Guest, District, 7);

        var previous = graph.Place(Guest, Market, 2);

        Assert.AreEqual(new Location(District, 7), previous);
        Assert.AreEqual(1, graph.Count);
        Assert.IsTrue(graph.TryGetLocation(Guest, out var location));
        Assert.AreEqual(new Location(Market, 2), location);
        Assert.IsEmpty(graph.ObjectsIn(District, new[] { 7u }).ToList());
        Assert.IsEmpty(graph.ChildrenOf(District));
        CollectionAssert.AreEquivalent(new[] { Guest }, graph.ObjectsIn(Market, new[] { 2u }).ToList());
    }

    [TestMethod]
    public void AZonesListAndCensus_StayRight_AsObjectsLeaveFromTheMiddleAndTheEnd_AndOthersArrive()
    {
        var zone = new Location(District, 7);
        graph.Place(Guest, District, 7);
        graph.Place(Barrel, District, 7);
        graph.Place(Room, District, 7);
        CollectionAssert.AreEquivalent(new[] { Guest, Barrel, Room }, graph.ObjectsIn(District, new[] { 7u }).ToList(), "three in a row");
        Assert.AreEqual(3, graph.CountAt(zone));

        graph.Place(Barrel, Market, 1);
        CollectionAssert.AreEquivalent(new[] { Guest, Room }, graph.ObjectsIn(District, new[] { 7u }).ToList(), "the middle one left");
        Assert.AreEqual(2, graph.CountAt(zone));

        graph.Place(Room, Market, 1);
        CollectionAssert.AreEquivalent(new[] { Guest }, graph.ObjectsIn(District, new[] { 7u }).ToList(), "the last one left");
        Assert.AreEqual(1, graph.CountAt(zone));

        graph.Place(Tavern, District, 7);
        CollectionAssert.AreEquivalent(new[] { Guest, Tavern }, graph.ObjectsIn(District, new[] { 7u }).ToList(), "a newcomer joins after the one that stayed");
        Assert.AreEqual(2, graph.CountAt(zone));
        CollectionAssert.AreEquivalent(new[] { Barrel, Room }, graph.ObjectsIn(Market, new[] { 1u }).ToList());
    }

    [TestMethod]
    public void TryGetLocation_UnknownObject_ReturnsFalse()
    {
        Assert.IsFalse(graph.TryGetLocation(Guest, out _));
    }

    [TestMethod]
    public void ObjectsIn_SeveralZones_ReturnsObjectsOfExactlyThoseZonesOfThatParent()
    {
        graph.Place(new DoId(1, 1), District, 1);
        graph.Place(new DoId(1, 2), District, 2);
        graph.Place(new DoId(1, 3), District, 2);
        graph.Place(new DoId(1, 4), District, 3);
        graph.Place(new DoId(1, 5), Market, 2);

        var found = graph.ObjectsIn(District, new[] { 2u, 3u, 99u }).ToList();

        CollectionAssert.AreEquivalent(new[] { new DoId(1, 2), new DoId(1, 3), new DoId(1, 4) }, found);
    }

    [TestMethod]
    public void ObjectsInRange_ReturnsChildrenWithZoneInsideInclusiveBounds()
    {
        graph.Place(new DoId(1, 1), District, 9);
        graph.Place(new DoId(1, 2), District, 10);
        graph.Place(new DoId(1, 3), District, 15);
        graph.Place(new DoId(1, 4), District, 20);
        graph.Place(new DoId(1, 5), District, 21);
        graph.Place(new DoId(1, 6), Market, 12);

        var found = graph.ObjectsInRange(District, 10, 20).ToList();

        CollectionAssert.AreEquivalent(new[] { new DoId(1, 2), new DoId(1, 3), new DoId(1, 4) }, found);
        Assert.IsEmpty(graph.ObjectsInRange(Guest, 0, uint.MaxValue).ToList());
    }

    [TestMethod]
    public void ZonesEmptiedInAnyOrder_LeaveTheOtherZonesOfTheParentFindable()
    {
        for (uint zone = 1; zone <= 5; zone++)
        {
            graph.Place(new DoId(2, zone), District, zone);
        }

        graph.Place(new DoId(2, 2), Market, 2);
        graph.RemoveTree(new DoId(2, 4));
        graph.Place(new DoId(2, 1), District, 3);

        CollectionAssert.AreEquivalent(new[] { new DoId(2, 1), new DoId(2, 3), new DoId(2, 5) }, graph.ChildrenOf(District).ToList());
        CollectionAssert.AreEquivalent(new[] { new DoId(2, 3), new DoId(2, 1) }, graph.ObjectsIn(District, new[] { 3u }).ToList());
        CollectionAssert.AreEquivalent(new[] { new DoId(2, 1), new DoId(2, 3) }, graph.ObjectsInRange(District, 1, 4).ToList());
        graph.RemoveTree(new DoId(2, 5));
        graph.RemoveTree(new DoId(2, 3));
        graph.RemoveTree(new DoId(2, 1));
        Assert.IsEmpty(graph.ChildrenOf(District));
        CollectionAssert.AreEquivalent(new[] { new DoId(2, 2) }, graph.ChildrenOf(Market).ToList());
    }

    [TestMethod]
    public void NestedParents_DistrictHoldsTavern_TavernHoldsRoom_RoomHoldsGuest()
    {
        PlaceDistrictTavernRoomGuest();

        CollectionAssert.AreEquivalent(new[] { Tavern }, graph.ObjectsIn(District, new[] { 1u }).ToList());
        CollectionAssert.AreEquivalent(new[] { Room }, graph.ObjectsIn(Tavern, new[] { 2u }).ToList());
        CollectionAssert.AreEquivalent(new[] { Guest }, graph.ObjectsIn(Room, new[] { 3u }).ToList());
        Assert.IsEmpty(graph.ObjectsIn(District, new[] { 2u, 3u }).ToList(), "zones of a parent do not include its grandchildren");
    }

    [TestMethod]
    public void RemoveTree_RemovesWholeSubtreeDeepestFirst_AndLeavesSiblings()
    {
        PlaceDistrictTavernRoomGuest();
        graph.Place(Barrel, Tavern, 1);
        graph.Place(Market, District, 1);

        var removed = graph.RemoveTree(Tavern);

        CollectionAssert.AreEquivalent(new[] { Tavern, Room, Guest, Barrel }, removed);
        Assert.IsLessThan(removed.IndexOf(Room), removed.IndexOf(Guest), "the guest goes before its room");
        Assert.IsLessThan(removed.IndexOf(Tavern), removed.IndexOf(Room), "the room goes before its tavern");
        Assert.IsLessThan(removed.IndexOf(Tavern), removed.IndexOf(Barrel), "the barrel goes before its tavern");
        Assert.AreEqual(Tavern, removed[^1]);

        Assert.AreEqual(2, graph.Count, "the district and its other child stay");
        foreach (var id in new[] { Tavern, Room, Guest, Barrel })
        {
            Assert.IsFalse(graph.TryGetLocation(id, out _), $"{id} was removed");
            Assert.IsEmpty(graph.ChildrenOf(id));
        }

        Assert.IsTrue(graph.TryGetLocation(Market, out var market));
        Assert.AreEqual(new Location(District, 1), market);
        CollectionAssert.AreEquivalent(new[] { Market }, graph.ObjectsIn(District, new[] { 1u }).ToList());
        CollectionAssert.AreEquivalent(new[] { Market }, graph.ChildrenOf(District).ToList());
    }

    [TestMethod]
    public void RemoveTree_Leaf_RemovesOnlyThatObject()
    {
        PlaceDistrictTavernRoomGuest();

        var removed = graph.RemoveTree(Guest);

        CollectionAssert.AreEqual(new[] { Guest }, removed);
        Assert.AreEqual(3, graph.Count);
        Assert.IsEmpty(graph.ObjectsIn(Room, new[] { 3u }).ToList());
    }

    [TestMethod]
    public void RemoveTree_MissingId_ReturnsJustThatId_AndChangesNothing()
    {
        // Harmless: the State Server deletes only ids it holds and skips any id it does not (StateServer.Delete).
        PlaceDistrictTavernRoomGuest();

        var removed = graph.RemoveTree(Barrel);

        CollectionAssert.AreEqual(new[] { Barrel }, removed);
        Assert.AreEqual(4, graph.Count);
        CollectionAssert.AreEquivalent(new[] { Guest }, graph.ObjectsIn(Room, new[] { 3u }).ToList());
    }

    [TestMethod]
    public void Place_UnderItsOwnDescendant_IsRefused_AndLeavesGraphUnchanged()
    {
        PlaceDistrictTavernRoomGuest();

        Assert.ThrowsExactly<ArgumentException>(() => graph.Place(Tavern, Guest, 5));
        Assert.ThrowsExactly<ArgumentException>(() => graph.Place(District, Room, 5));

        Assert.AreEqual(4, graph.Count);
        Assert.IsTrue(graph.TryGetLocation(Tavern, out var tavern));
        Assert.AreEqual(new Location(District, 1), tavern);
        Assert.IsTrue(graph.TryGetLocation(District, out var district));
        Assert.AreEqual(new Location(DoId.Empty, 0), district);
        Assert.IsEmpty(graph.ChildrenOf(Guest));
        Assert.IsEmpty(graph.ObjectsIn(Room, new[] { 5u }).ToList());
        CollectionAssert.AreEquivalent(new[] { Tavern }, graph.ChildrenOf(District).ToList());
    }

    [TestMethod]
    public void Place_AsItsOwnParent_IsRefused()
    {
        graph.Place(Tavern, District, 1);

        Assert.ThrowsExactly<ArgumentException>(() => graph.Place(Tavern, Tavern, 1));
        Assert.ThrowsExactly<ArgumentException>(() => graph.Place(Guest, Guest, 1));

        Assert.AreEqual(1, graph.Count);
        Assert.IsTrue(graph.TryGetLocation(Tavern, out var tavern));
        Assert.AreEqual(new Location(District, 1), tavern);
        Assert.IsFalse(graph.TryGetLocation(Guest, out _));
    }

    [TestMethod]
    public void Place_UnderASiblingsSubtree_IsAllowed()
    {
        PlaceDistrictTavernRoomGuest();
        graph.Place(Market, District, 2);

        graph.Place(Market, Room, 4);

        Assert.IsTrue(graph.TryGetLocation(Market, out var market));
        Assert.AreEqual(new Location(Room, 4), market);
        CollectionAssert.AreEquivalent(new[] { Guest, Market }, graph.ChildrenOf(Room).ToList());
    }

    private void PlaceDistrictTavernRoomGuest()
    {
        graph.Place(District, DoId.Empty, 0);
        graph.Place(Tavern, District, 1);
        graph.Place(Room, Tavern, 2);
        graph.Place(Guest, Room, 3);
    }
}
