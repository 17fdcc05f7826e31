namespace Pastry.Tests.Core;

[TestClass]
public sealed class ZoneGridTests
{
    // 5 wide, 4 high, zones 1..20:
    //  y=0:  1  2  3  4  5
    //  y=1:  6  7  8  9 10
    //  y=2: 11 12 13 14 15
    //  y=3: 16 17 18 19 20
    private readonly ZoneGrid grid = new(5, 4);

    [TestMethod]
    public void ZoneOf_FollowsFirstZonePlusRowMajorIndex()
    {
        Assert.AreEqual(1u, grid.ZoneOf(0, 0));
        Assert.AreEqual(5u, grid.ZoneOf(4, 0));
        Assert.AreEqual(6u, grid.ZoneOf(0, 1));
        Assert.AreEqual(20u, grid.ZoneOf(4, 3));
        Assert.AreEqual(1u, grid.FirstZone);
        Assert.AreEqual(20u, grid.LastZone);
        Assert.AreEqual(1000u + 7, new ZoneGrid(5, 4, 1000).ZoneOf(2, 1));
    }

    [TestMethod]
    public void ZoneOf_AndTryGetCell_RoundTripEveryCell()
    {
        var offset = new ZoneGrid(7, 3, firstZone: 500);
        foreach (var g in new[] { grid, offset })
        {
            var seen = new HashSet<uint>();
            for (int y = 0; y < g.Height; y++)
            {
                for (int x = 0; x < g.Width; x++)
                {
                    uint zone = g.ZoneOf(x, y);
                    Assert.IsTrue(g.Contains(zone));
                    Assert.IsTrue(g.TryGetCell(zone, out int cx, out int cy));
                    Assert.AreEqual((x, y), (cx, cy));
                    Assert.IsTrue(seen.Add(zone), "zones are unique");
                }
            }

            Assert.HasCount(g.Width * g.Height, seen);
        }
    }

    [TestMethod]
    public void ZoneOf_OutsideTheGrid_Throws()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneOf(-1, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneOf(5, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneOf(0, -1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneOf(0, 4));
    }

    [TestMethod]
    public void TryGetCell_ZoneOutsideTheGrid_ReturnsFalse()
    {
        Assert.IsFalse(grid.TryGetCell(0, out _, out _));
        Assert.IsFalse(grid.TryGetCell(21, out _, out _));
        Assert.IsFalse(grid.TryGetCell(uint.MaxValue, out _, out _));
        Assert.IsFalse(grid.Contains(0));
        Assert.IsFalse(grid.Contains(21));
    }

    [TestMethod]
    public void Constructor_BadArguments_Throw()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ZoneGrid(0, 4));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ZoneGrid(5, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ZoneGrid(-1, 4));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ZoneGrid(65_536, 65_536, firstZone: 1));
        Assert.AreEqual(uint.MaxValue, new ZoneGrid(65_536, 65_536, firstZone: 0).LastZone);
    }

    [TestMethod]
    public void ZoneAt_MapsWorldPositionsToCells()
    {
        Assert.AreEqual(grid.ZoneOf(0, 0), grid.ZoneAt(0f, 0f, 10f));
        Assert.AreEqual(grid.ZoneOf(0, 0), grid.ZoneAt(9.99f, 9.99f, 10f));
        Assert.AreEqual(grid.ZoneOf(1, 0), grid.ZoneAt(10f, 0f, 10f));
        Assert.AreEqual(grid.ZoneOf(2, 3), grid.ZoneAt(25f, 35f, 10f));
    }

    [TestMethod]
    public void ZoneAt_OutsideTheGrid_ClampsToTheNearestEdgeCell()
    {
        Assert.AreEqual(grid.ZoneOf(0, 0), grid.ZoneAt(-0.5f, -100f, 10f));
        Assert.AreEqual(grid.ZoneOf(4, 3), grid.ZoneAt(50f, 40f, 10f));
        Assert.AreEqual(grid.ZoneOf(4, 1), grid.ZoneAt(1e30f, 15f, 10f));
        Assert.AreEqual(grid.ZoneOf(0, 3), grid.ZoneAt(float.NegativeInfinity, float.PositiveInfinity, 10f));
    }

    [TestMethod]
    public void ZoneAt_BadCellSizeOrNaN_Throws()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneAt(1f, 1f, 0f));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneAt(1f, 1f, -1f));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneAt(1f, 1f, float.NaN));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.ZoneAt(1f, 1f, float.PositiveInfinity));
        Assert.ThrowsExactly<ArgumentException>(() => grid.ZoneAt(float.NaN, 1f, 10f));
        Assert.ThrowsExactly<ArgumentException>(() => grid.ZoneAt(1f, float.NaN, 10f));
    }

    [TestMethod]
    public void Neighbourhood_Corner_HasFourZones()
    {
        CollectionAssert.AreEqual(new uint[] { 1, 2, 6, 7 }, grid.Neighbourhood(1).ToArray());
        CollectionAssert.AreEqual(new uint[] { 14, 15, 19, 20 }, grid.Neighbourhood(20).ToArray());
    }

    [TestMethod]
    public void Neighbourhood_Edge_HasSixZones()
    {
        CollectionAssert.AreEqual(new uint[] { 2, 3, 4, 7, 8, 9 }, grid.Neighbourhood(3).ToArray());
        CollectionAssert.AreEqual(new uint[] { 1, 2, 6, 7, 11, 12 }, grid.Neighbourhood(6).ToArray());
    }

    [TestMethod]
    public void Neighbourhood_Inside_HasNineZones_Sorted()
    {
        CollectionAssert.AreEqual(new uint[] { 1, 2, 3, 6, 7, 8, 11, 12, 13 }, grid.Neighbourhood(7).ToArray());
    }

    [TestMethod]
    public void Neighbourhood_RadiusZero_IsTheCellAlone_AndLargeRadiusIsTheWholeGrid()
    {
        CollectionAssert.AreEqual(new uint[] { 13 }, grid.Neighbourhood(13, radius: 0).ToArray());
        CollectionAssert.AreEqual(Enumerable.Range(1, 20).Select(z => (uint)z).ToArray(), grid.Neighbourhood(13, radius: int.MaxValue).ToArray());
        Assert.HasCount(25, new ZoneGrid(10, 10).Neighbourhood(new ZoneGrid(10, 10).ZoneOf(5, 5), radius: 2));
    }

    [TestMethod]
    public void Neighbourhood_OutsideTheGridOrNegativeRadius_Throws()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.Neighbourhood(0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.Neighbourhood(21));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.Neighbourhood(7, radius: -1));
    }

    [TestMethod]
    public void NeighbourhoodChange_MovingOneCellRight_AddsAndRemovesAColumn()
    {
        var (added, removed) = grid.NeighbourhoodChange(grid.ZoneOf(1, 1), grid.ZoneOf(2, 1));

        CollectionAssert.AreEqual(new uint[] { 4, 9, 14 }, added.ToArray());
        CollectionAssert.AreEqual(new uint[] { 1, 6, 11 }, removed.ToArray());
    }

    [TestMethod]
    public void NeighbourhoodChange_NotMoving_ChangesNothing()
    {
        var (added, removed) = grid.NeighbourhoodChange(7, 7);

        Assert.IsEmpty(added);
        Assert.IsEmpty(removed);
    }

    [TestMethod]
    public void NeighbourhoodChange_IntoTheCorner_RemovesMoreThanItAdds()
    {
        var (added, removed) = grid.NeighbourhoodChange(grid.ZoneOf(1, 1), grid.ZoneOf(0, 0));

        Assert.IsEmpty(added);
        CollectionAssert.AreEqual(new uint[] { 3, 8, 11, 12, 13 }, removed.ToArray());
    }

    [TestMethod]
    public void NeighbourhoodChange_FarJump_SwapsTheWholeNeighbourhood()
    {
        var (added, removed) = grid.NeighbourhoodChange(1, 20);

        CollectionAssert.AreEqual(grid.Neighbourhood(20).ToArray(), added.ToArray());
        CollectionAssert.AreEqual(grid.Neighbourhood(1).ToArray(), removed.ToArray());
    }

    [TestMethod]
    public void NeighbourhoodChange_ApplyingIt_GivesTheNewNeighbourhood()
    {
        var big = new ZoneGrid(8, 6);
        foreach (uint from in Enumerable.Range(1, 48).Select(z => (uint)z))
        {
            foreach (uint to in new[] { from, Math.Max(1u, from - 1), Math.Min(48u, from + 9), 30u })
            {
                var (added, removed) = big.NeighbourhoodChange(from, to, radius: 2);
                var interest = new SortedSet<uint>(big.Neighbourhood(from, radius: 2));
                Assert.IsTrue(removed.All(interest.Remove), "every removed zone was open");
                Assert.IsTrue(added.All(interest.Add), "no added zone was already open");
                CollectionAssert.AreEqual(big.Neighbourhood(to, radius: 2).ToArray(), interest.ToArray());
            }
        }
    }

    [TestMethod]
    public void NeighbourhoodChange_ZoneOutsideTheGrid_Throws()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.NeighbourhoodChange(0, 7));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => grid.NeighbourhoodChange(7, 21));
    }
}
