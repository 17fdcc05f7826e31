using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

[TestClass]
public class ClientAgentPermissionTests
{
    /// <summary>The transport these tests run over; <see cref="ClientAgentPermissionTestsOverWebSocket"/> runs them all again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    [TestMethod]
    public async Task SettingAnAiField_Ejects118_AndNobodySeesTheValue()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var cheater = await world.ClientAsync();
        var watcher = await world.ClientAsync();
        await world.InterestAsync(cheater, 1, 1);
        await world.InterestAsync(watcher, 1, 1);

        await cheater.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Gold)), 1_000_000);

        StringAssert.Contains(await cheater.ExpectEjectAsync(EjectCode.ForbiddenField), "[Ai]");
        knight.X = 6;
        world.Ai.Set(knight, nameof(Knight.X));
        Assert.AreEqual("X", RawClient.ReadSetField(await watcher.NextAsync(), knight.Model).Field, "The forbidden value was never relayed.");
        var late = await world.ClientAsync();
        Assert.AreEqual(10, (await world.InterestAsync(late, 1, 1)).Single(e => e.Id == knight.DoId).Values["Gold"], "Nor stored.");
    }

    [TestMethod]
    public async Task SettingAnOwnSendField_OfSomeoneElsesObject_Ejects118()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var knight = world.SpawnKnight(1, owner: owner.AccountId);
        var stranger = await world.ClientAsync();
        await world.InterestAsync(stranger, 1, 1);

        await stranger.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Mood)), 9);

        StringAssert.Contains(await stranger.ExpectEjectAsync(EjectCode.ForbiddenField), "[OwnSend]");
    }

    [TestMethod]
    public async Task SettingAnOwnSendField_OfYourOwnObject_ReachesTheAi()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var knight = world.SpawnKnight(1, owner: owner.AccountId);
        await world.InterestAsync(owner, 1, 1);

        await owner.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Mood)), 9);

        var heard = TestAi.ReadClientSet(await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientSetField), knight.Model);
        Assert.AreEqual((knight.DoId, owner.AccountId), (heard.Id, heard.Account));
        CollectionAssert.AreEqual(new[] { ("Mood", (object?)9) }, heard.Values);
    }

    [TestMethod]
    public async Task AnInvalidValue_Ejects127_WithTheValidatorsMessage()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        var watcher = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        await world.InterestAsync(watcher, 1, 1);

        await client.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 1000);

        string reason = await client.ExpectEjectAsync(EjectCode.FieldConstraintViolated);
        StringAssert.Contains(reason, "Knight.X");
        StringAssert.Contains(reason, "between 0 and 100");
        knight.Gold = 2;
        world.Ai.Set(knight, nameof(Knight.Gold));
        Assert.AreEqual("Gold", RawClient.ReadSetField(await watcher.NextAsync(), knight.Model).Field, "The invalid value was never relayed.");
    }

    [TestMethod]
    public async Task AnInvalidRpcArgument_Ejects127()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        await client.CallAsync(knight.DoId, knight.Model.GetMethod(nameof(Knight.Wave)), new string('w', 33));

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.FieldConstraintViolated), "text");
    }

    [TestMethod]
    public async Task CallingAnAiOnlyRpc_Ejects118()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        await client.CallAsync(knight.DoId, knight.Model.GetMethod(nameof(Knight.Shout)), "hi");

        await client.ExpectEjectAsync(EjectCode.ForbiddenField);
    }

    [TestMethod]
    public async Task SettingAFieldOfAnObjectNotInView_Ejects117()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 2);

        await client.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 1);

        await client.ExpectEjectAsync(EjectCode.UnknownObject);
    }

    [TestMethod]
    public async Task ASetOnAnObjectThatJustLeftTheView_IsDropped_NotEjected()
    {
        // The client sent the set before it read the Leave: a race of every moving game, not misbehaviour.
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var walker = await world.ClientAsync();
        await world.InterestAsync(walker, 1, 1);
        world.Ai.Move(knight.DoId, world.Realm.DoId, 2);
        Assert.AreEqual((knight.DoId, LeaveReason.Disabled), RawClient.ReadLeave(await walker.NextAsync()));

        var x = (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X));
        await walker.SetFieldAsync(knight.DoId, x, 7);
        await walker.CallAsync(knight.DoId, knight.Model.GetMethod(nameof(Knight.Wave)), "late");

        var entered = await world.InterestAsync(walker, 2, 2);
        Assert.AreEqual(5, entered.Single(e => e.Id == knight.DoId).Values["X"], "the session is alive, and the late set was not applied");
        Assert.IsFalse(walker.Closed.Task.IsCompleted);
    }

    [TestMethod]
    public async Task ASetOnAnObjectThatWasDeleted_IsDropped_NotEjected()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var other = world.SpawnKnight(1, "Percival");
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        world.Ai.Delete(knight.DoId);
        Assert.AreEqual((knight.DoId, LeaveReason.Deleted), RawClient.ReadLeave(await client.NextAsync()));

        await client.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 7);
        other.X = 9;
        world.Ai.Set(other, nameof(Knight.X));

        Assert.AreEqual((other.DoId, "X", (object?)9), RawClient.ReadSetField(await client.NextAsync(), other.Model), "still connected, still receiving");
    }

    [TestMethod]
    public async Task AForbiddenInterest_Ejects115()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxZonesPerInterest = 4);
        var client = await world.ClientAsync();

        await client.AddInterestAsync(1, world.Realm.DoId, 1, 2, 3, 4, 5);

        await client.ExpectEjectAsync(EjectCode.ForbiddenInterest);
    }

    [TestMethod]
    public async Task TheInterestPolicy_CanRefuseAParent_With115()
    {
        var server = InProcessOtpWithPolicy(new OnlyZonesBelow(10));
        await using var world = server;
        var client = await world.ClientAsync();
        Assert.AreEqual(0, (await world.InterestAsync(client, 1, 9)).Count);

        await client.AddInterestAsync(2, world.Realm.DoId, 10);

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.ForbiddenInterest), "not allowed");
    }

    [TestMethod]
    public async Task TooManyInterests_Ejects348()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxInterests = 2);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        await world.InterestAsync(client, 2, 2);

        await client.AddInterestAsync(3, world.Realm.DoId, 3);

        await client.ExpectEjectAsync(EjectCode.TooManyInterests);
    }

    [TestMethod]
    public async Task MoreMessagesThanTheRateLimit_Ejects347()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxMessagesPerSecond = 5);
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        using var burst = new PooledBufferWriter();
        for (int i = 0; i < 50; i++)
        {
            ClientFrames.WriteEmpty(burst, MessageType.Heartbeat);
        }

        await client.SendRawAsync(burst.WrittenSpan.ToArray());

        await client.ExpectEjectAsync(EjectCode.RateLimited);
    }

    private OtpWorld InProcessOtpWithPolicy(Pastry.Otp.ClientAgent.IInterestPolicy policy) => OtpWorld.Start(Transport, policy: policy);

    private sealed class OnlyZonesBelow(uint limit) : Pastry.Otp.ClientAgent.IInterestPolicy
    {
        public Pastry.Otp.ClientAgent.InterestVerdict Decide(Pastry.Otp.ClientAgent.InterestRequest request) =>
            request.Zones.All(z => z < limit) ? Pastry.Otp.ClientAgent.InterestVerdict.Allowed : Pastry.Otp.ClientAgent.InterestVerdict.Refused;
    }
}

/// <summary>Every test of <see cref="ClientAgentPermissionTests"/> over the WebSocket transport: a session behaves the same whichever way it came in.</summary>
[TestClass]
public sealed class ClientAgentPermissionTestsOverWebSocket : ClientAgentPermissionTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
