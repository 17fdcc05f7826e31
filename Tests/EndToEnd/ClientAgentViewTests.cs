using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// What a session's view does on the State Server's rarer answers, against an in-process OTP over real loopback
/// sockets: an interest under a parent the policy left to the State Server, which finds it not public (115), and an
/// object in view changing owner (its owner's frame, then everyone's). Written from mutation testing (TESTING.md).
/// </summary>
[TestClass]
public sealed class ClientAgentViewTests
{
    [TestMethod]
    public async Task AnInterestUnderAParentNotInViewAndNotPublic_IsRefusedByTheStateServer_115()
    {
        // The default policy leaves a parent the session neither sees nor owns under to the State Server, which
        // answers only for public parents (the root, or an object at the root): a knight inside the realm is neither.
        await using var world = OtpWorld.Start();
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();

        await client.AddInterestAsync(7, knight.DoId, 1);

        Assert.AreEqual(
            "interest 7 is under a parent this session cannot see: open it through an object in view, the parent of an object it owns, or a public parent (the root or an object at the root)",
            await client.ExpectEjectAsync(EjectCode.ForbiddenInterest));
    }

    [TestMethod]
    public async Task AnObjectInView_ChangingOwner_IsSentAsItsOwnerSeesIt_ThenAsOthersDo()
    {
        await using var world = OtpWorld.Start();
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        var other = await world.ClientAsync();
        Assert.IsFalse((await world.InterestAsync(client, 1, 1)).Single().Owned);

        world.Ai.SetOwner(knight.DoId, client.AccountId);
        var owned = await client.NextAsync();
        world.Ai.SetOwner(knight.DoId, other.AccountId);
        var given = await client.NextAsync();

        var asOwner = RawClient.ReadEnter(owned, world.Registry);
        var asOther = RawClient.ReadEnter(given, world.Registry);
        Assert.AreEqual((MessageType.EnterOwnedObject, knight.DoId, client.AccountId), (owned.Type, asOwner.Id, asOwner.Owner));
        Assert.AreEqual((MessageType.EnterObject, knight.DoId, other.AccountId), (given.Type, asOther.Id, asOther.Owner));
    }
}
