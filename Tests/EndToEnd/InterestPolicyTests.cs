using Pastry.Ai;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The default interest policy (<c>VisibleParentsInterestPolicy</c>, issue 12 item 6) against a real
/// <c>pastry serve --role otp</c> process: a session opens interest only under parents it can see (the root, objects
/// at the root, objects in its view, the parents of objects it owns); anything else ejects with 115 before any object
/// of it is sent.
/// </summary>
[TestClass]
public sealed class InterestPolicyTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);

    [TestMethod]
    public async Task ASession_OpensInterestOnlyUnderParentsItCanSee_OthersAreEjected115()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        await using var __ = link;
        var ai = new TestAi(link);
        var realm = ai.Create(new Realm { Title = "Public realm" }, DoId.Empty, 0);
        var keep = ai.Create(new Realm { Title = "Private keep" }, realm.DoId, 5);
        var treasure = ai.Create(new Knight { Name = "Guard", X = 1 }, keep.DoId, 1);
        await link.FlushAsync();

        // A parent learnt out of band (its id), not in view and not at the root: refused, and nothing of it is sent.
        await using var snoop = await RawClient.LoggedInAsync(clients, Registry, "snoop");
        await snoop.AddInterestAsync(1, keep.DoId, 1);
        StringAssert.Contains(await snoop.ExpectEjectAsync(EjectCode.ForbiddenInterest), "cannot see");

        // A parent that does not exist is no more visible.
        await using var guesser = await RawClient.LoggedInAsync(clients, Registry, "guesser");
        await guesser.AddInterestAsync(1, DoId.NewId(), 1);
        await guesser.ExpectEjectAsync(EjectCode.ForbiddenInterest);

        // The same keep, once it is in view through the public realm, may be opened.
        await using var walker = await RawClient.LoggedInAsync(clients, Registry, "walker");
        var entered = await OtpWorld.InterestAsync(walker, Registry, 1, realm.DoId, 5);
        CollectionAssert.Contains(entered.Select(e => e.Id).ToList(), keep.DoId, "An object at the root is public: its zones may be opened by id.");
        var inside = await OtpWorld.InterestAsync(walker, Registry, 2, keep.DoId, 1);
        CollectionAssert.AreEqual(new[] { treasure.DoId }, inside.Select(e => e.Id).ToList());

        // The parent of an object the session owns may be opened (its avatar's room), although nothing else shows it.
        await using var owner = await RawClient.LoggedInAsync(clients, Registry, "owner");
        var vault = ai.Create(new Realm { Title = "Vault" }, keep.DoId, 9);
        var mine = ai.Create(new Knight { Name = "Mine", X = 2 }, vault.DoId, 2, owner.AccountId);
        await link.FlushAsync();
        var owned = RawClient.ReadEnter(await owner.ExpectAsync(MessageType.EnterOwnedObject), Registry);
        Assert.AreEqual(mine.DoId, owned.Id);
        var roomOfMine = await OtpWorld.InterestAsync(owner, Registry, 1, vault.DoId, 2);
        Assert.AreEqual(0, roomOfMine.Count, "Its own knight was already in view; the interest itself is allowed.");
    }
}
