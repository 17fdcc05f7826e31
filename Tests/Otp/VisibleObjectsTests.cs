using Pastry.Otp.ClientAgent;
using Pastry.Otp.StateServer;

namespace Pastry.Tests.Otp;

/// <summary>
/// A session's view counts its objects per location; a session that sees every object the State Server counted at a
/// location sends that location's broadcast batch as one shared block. A count that drifts (after a move, a leave or a
/// reset) would not break what the client sees, only make each such session copy every batch: these pin the counts.
/// </summary>
[TestClass]
public sealed class VisibleObjectsTests
{
    private static readonly DoId Realm = new(7, 1);
    private static readonly Location Square = new(Realm, 1);
    private static readonly Location Tavern = new(Realm, 2);

    [TestMethod]
    public void TheCountPerLocation_FollowsEveryAddMoveOwnerChangeRemoveAndClear()
    {
        var view = new VisibleObjects();
        DoId knight = new(7, 10), squire = new(7, 11), stranger = new(7, 12);

        view[knight] = Seen(knight, Square);
        view[squire] = Seen(squire, Square);
        Assert.AreEqual((2, 0, 2), (view.CountAt(Square), view.CountAt(Tavern), view.Count));

        view[squire] = Seen(squire, Tavern);
        Assert.AreEqual((1, 1, 2), (view.CountAt(Square), view.CountAt(Tavern), view.Count), "a move counts the object at its new location only");

        view[squire] = Seen(squire, Tavern) with { Owner = knight };
        Assert.AreEqual((1, 1), (view.CountAt(Square), view.CountAt(Tavern)), "a new owner is not a second object");

        Assert.IsFalse(view.Remove(stranger), "an object never in view");
        Assert.AreEqual((1, 1, 2), (view.CountAt(Square), view.CountAt(Tavern), view.Count));

        Assert.IsTrue(view.Remove(knight));
        Assert.IsFalse(view.Remove(knight), "already gone");
        Assert.AreEqual((0, 1, 1), (view.CountAt(Square), view.CountAt(Tavern), view.Count));

        view.Clear();
        Assert.AreEqual((0, 0, 0), (view.CountAt(Square), view.CountAt(Tavern), view.Count));

        view[knight] = Seen(knight, Tavern);
        Assert.AreEqual(1, view.CountAt(Tavern), "a cleared view counts afresh");
    }

    private static VisibleObject Seen(DoId id, Location at) => new(id, null!, at, DoId.Empty);
}
