using Pastry.Otp.ClientAgent;

namespace Pastry.Tests.Otp;

/// <summary>
/// The default interest policy's decision on its own: each reason to allow a parent counts alone, and a parent with
/// none of them is left to the State Server (allowed only if public, else 115). The end-to-end refusal is in
/// EndToEnd/InterestPolicyTests.
/// </summary>
[TestClass]
public sealed class VisibleParentsInterestPolicyTests
{
    private static readonly DoId Lobby = new(7, 1);
    private static readonly DoId District = new(7, 2);
    private static readonly DoId Stranger = new(7, 3);

    private static InterestVerdict Decide(DoId parent, DoId? inView = null, DoId? ownsUnder = null, params DoId[] publicParents)
    {
        var view = new View(inView, ownsUnder);
        var policy = new VisibleParentsInterestPolicy(publicParents.Length == 0 ? null : publicParents);
        return policy.Decide(new InterestRequest(new DoId(9, 1), parent, [1, 2], view));
    }

    [TestMethod]
    public void TheRoot_IsAllowed() => Assert.AreEqual(InterestVerdict.Allowed, Decide(DoId.Empty));

    [TestMethod]
    public void ADeclaredPublicParent_IsAllowed_AnotherIsNot()
    {
        Assert.AreEqual(InterestVerdict.Allowed, Decide(Lobby, publicParents: Lobby));
        Assert.AreEqual(InterestVerdict.AllowedIfPublic, Decide(Stranger, publicParents: Lobby));
    }

    [TestMethod]
    public void AParentInTheSessionsView_IsAllowed() =>
        Assert.AreEqual(InterestVerdict.Allowed, Decide(District, inView: District));

    [TestMethod]
    public void TheParentOfAnObjectTheSessionOwns_IsAllowed() =>
        Assert.AreEqual(InterestVerdict.Allowed, Decide(District, ownsUnder: District));

    [TestMethod]
    public void AParentWithNoneOfTheseReasons_IsLeftToTheStateServer_AllowedOnlyIfPublic()
    {
        Assert.AreEqual(InterestVerdict.AllowedIfPublic, Decide(Stranger));
        Assert.AreEqual(InterestVerdict.AllowedIfPublic, Decide(Stranger, inView: District, ownsUnder: District, Lobby));
    }

    [TestMethod]
    public void TheRequest_PassesTheSessionsQuestionsToItsView()
    {
        var view = new View(District, Lobby);
        var request = new InterestRequest(new DoId(9, 1), Stranger, [4], view);
        Assert.AreEqual(new DoId(9, 1), request.Account);
        Assert.AreEqual(Stranger, request.Parent);
        CollectionAssert.AreEqual(new uint[] { 4 }, request.Zones.ToArray());
        Assert.IsTrue(request.IsInView(District));
        Assert.IsFalse(request.IsInView(Lobby));
        Assert.IsTrue(request.OwnsObjectUnder(Lobby));
        Assert.IsFalse(request.OwnsObjectUnder(District));
        Assert.AreEqual(InterestVerdict.Allowed, new AllowAllInterestPolicy().Decide(request));
    }

    private sealed class View(DoId? inView, DoId? ownsUnder) : IInterestView
    {
        public bool IsInView(DoId id) => id == inView;

        public bool OwnsObjectUnder(DoId parent) => parent == ownsUnder;
    }
}
