using Microsoft.Extensions.Time.Testing;
using Pastry.Otp.ClientAgent;

namespace Pastry.Tests.Otp;

/// <summary>
/// Two small parts of the Client Agent that only process tests used to reach: the order operators of an account claim
/// (and the claims' clock), and the bounded memory of objects that recently left a session's view. Written from
/// mutation testing (TESTING.md): each operator is checked on both sides of equality.
/// </summary>
[TestClass]
public sealed class ClientAgentSmallPartsTests
{
    [TestMethod]
    public void AccountClaims_AreOrderedByStampThenSession_AndEachOperatorHoldsOnlyOnItsSide()
    {
        var low = DoId.NewId();
        var high = DoId.NewId();
        if (low.CompareTo(high) > 0)
        {
            (low, high) = (high, low);
        }

        var earlier = new AccountClaim(5, high);
        var later = new AccountClaim(6, low);
        var same = new AccountClaim(5, high);
        var tie = new AccountClaim(5, low);

        Assert.IsTrue(earlier < later);
        Assert.IsFalse(later < earlier);
        Assert.IsFalse(earlier < same);
        Assert.IsTrue(later > earlier);
        Assert.IsFalse(earlier > later);
        Assert.IsFalse(earlier > same);
        Assert.IsTrue(earlier <= later);
        Assert.IsTrue(earlier <= same);
        Assert.IsFalse(later <= earlier);
        Assert.IsTrue(later >= earlier);
        Assert.IsTrue(earlier >= same);
        Assert.IsFalse(earlier >= later);
        Assert.IsTrue(tie < earlier, "On equal stamps the session id decides.");
    }

    [TestMethod]
    public void TheClaimsClock_IsTheHighestStampMadeOrHeard()
    {
        var claims = new AccountClaims<string>(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_000)));
        Assert.AreEqual(0L, claims.Clock);

        claims.Take(DoId.NewId(), "here", DoId.NewId());
        Assert.AreEqual(1_000L, claims.Clock);

        claims.OnClaimHeard(DoId.NewId(), new AccountClaim(7_000, DoId.NewId()), out _, out _);
        Assert.AreEqual(7_000L, claims.Clock);
    }

    [TestMethod]
    public void RecentlyLeftObjects_RemembersTheLastCapacity_ForgettingTheOldestFirst()
    {
        var left = new RecentlyLeftObjects();
        var ids = Enumerable.Range(0, RecentlyLeftObjects.Capacity + 1).Select(_ => DoId.NewId()).ToArray();
        foreach (var id in ids)
        {
            left.Add(id);
        }

        Assert.IsFalse(left.Contains(ids[0]), "The oldest is forgotten once the memory is full.");
        Assert.IsTrue(ids.Skip(1).All(left.Contains));

        // Adding one it already holds does not take a second place in the queue (which would evict another).
        left.Add(ids[1]);
        var next = DoId.NewId();
        left.Add(next);
        Assert.IsFalse(left.Contains(ids[1]), "ids[1] is now the oldest, and goes first.");
        Assert.IsTrue(left.Contains(ids[2]) && left.Contains(next));

        left.Remove(next);
        Assert.IsFalse(left.Contains(next));
    }
}
