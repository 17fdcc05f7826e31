using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// A player who logs in again from a new connection (a new device, or after a crash the old connection has not yet
/// timed out), against an in-process OTP over real loopback sockets: the new session is sent the account's objects at
/// once, wherever they are, without any interest, and the old one is ejected with 100. The same against a `pastry`
/// process: <c>HostileClientTests.SecondLogin_IsSentTheAccountsOwnedObjects_AndItsUpdates</c>.
/// </summary>
[TestClass]
public sealed class ClientAgentSecondLoginTests
{
    private const string Password = "correct horse battery";

    [TestMethod]
    public async Task ASecondLogin_IsSentTheAccountsObjects_WithoutAnyInterest_AndTheFirstIsEjected100()
    {
        await using var world = OtpWorld.Start();
        await using var first = await RawClient.LoggedInAsync(world.Server.ClientEndPoint, world.Registry, "returning");
        var avatar = world.SpawnKnight(7, "Avatar", owner: first.AccountId);
        Assert.AreEqual(avatar.DoId, RawClient.ReadEnter(await first.ExpectAsync(MessageType.EnterOwnedObject), world.Registry).Id);

        await using var second = await world.ConnectAsync();
        await second.HelloAsync(world.Registry.SchemaHash);
        await second.ExpectAsync(MessageType.HelloResp);
        await second.CallLoginAsync(world.Registry, nameof(LoginManager.Login), "returning", Password);
        var owned = await second.ExpectLoginAnswerAndOwnedObjectAsync(world.Registry);

        Assert.AreEqual((avatar.DoId, world.Realm.DoId, 7u, first.AccountId, true), (owned.Id, owned.Parent, owned.Zone, owned.Owner, owned.Owned));
        StringAssert.Contains(await first.ExpectEjectAsync(EjectCode.LoggedInElsewhere), "this account logged in from another connection");
    }
}
