using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

[TestClass]
public class ClientAgentHelloTests
{
    /// <summary>The transport these tests run over; <see cref="ClientAgentHelloTestsOverWebSocket"/> runs them all again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    [TestMethod]
    public async Task Hello_WithMatchingHashAndVersion_GetsHelloResp()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        var reader = (await client.ExpectAsync(MessageType.HelloResp)).Reader();
        Assert.IsTrue(reader.ReadInt64() > 0, "HelloResp carries the server time.");
        Assert.IsFalse(reader.ReadDoId().IsEmpty, "HelloResp carries the session id.");
    }

    [TestMethod]
    public async Task Hello_WithOtherSchemaHash_Ejects125_SayingTheModelsDiffer()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash ^ 1);
        string reason = await client.ExpectEjectAsync(EjectCode.BadSchemaHash);
        StringAssert.Contains(reason, "built from different models");
    }

    [TestMethod]
    public async Task Hello_WithOlderVersion_Ejects124_SayingTheClientIsOutOfDate()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.AppVersion = "2.1.0");
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash, "2.0.9");
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.BadVersion), "the client is out of date");
    }

    [TestMethod]
    public async Task Hello_WithNewerVersion_Ejects124_SayingTheServerIsOutOfDate()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.AppVersion = "2.1.0");
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash, "3.0.0");
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.BadVersion), "the server is out of date");
    }

    [TestMethod]
    public async Task FirstMessageNotHello_Ejects107()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();
        await client.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.NoHello), "Hello");
    }

    [TestMethod]
    public async Task AnonymousSession_AddInterest_Ejects113()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        await client.AddInterestAsync(1, world.Realm.DoId, 1);
        await client.ExpectEjectAsync(EjectCode.AnonymousViolation);
    }

    [TestMethod]
    public async Task AnonymousSession_CallingAnObjectMethod_Ejects113()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        await client.CallAsync(knight.DoId, knight.Model.GetMethod(nameof(Knight.Wave)), "hi");
        await client.ExpectEjectAsync(EjectCode.AnonymousViolation);
    }

    [TestMethod]
    public async Task Login_RightPassword_Establishes_WrongPassword_FailsWithoutEject()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        await client.CallLoginAsync(world.Registry, nameof(LoginManager.CreateAccount), "ann", "a long password");
        var created = await client.ExpectCallAsync(world.Registry);
        Assert.AreEqual(0, created.Arguments[0]);

        await client.CallLoginAsync(world.Registry, nameof(LoginManager.Login), "ann", "not the password");
        var refused = await client.ExpectCallAsync(world.Registry);
        Assert.AreEqual(nameof(LoginManager.LoginResult), refused.Method.Name);
        Assert.AreNotEqual(0, refused.Arguments[0]);
        Assert.AreEqual(DoId.Empty, refused.Arguments[1]);

        await client.CallLoginAsync(world.Registry, nameof(LoginManager.Login), "ann", "a long password");
        var accepted = await client.ExpectCallAsync(world.Registry);
        Assert.AreEqual(0, accepted.Arguments[0], (string)accepted.Arguments[2]!);
        Assert.AreEqual(created.Arguments[1], accepted.Arguments[1]);
        var entered = await world.InterestAsync(client, 1, 1);
        Assert.AreEqual(0, entered.Count);
    }

    [TestMethod]
    public async Task UnknownMessageType_Ejects108()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ClientAsync();
        await client.SendAsync(w => w.EndFrame(w.BeginFrame((MessageType)4242)));
        await client.ExpectEjectAsync(EjectCode.UnknownMessageType);
    }

    [TestMethod]
    public async Task OversizedFrame_Ejects106()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxFrameBytes = 1024);
        await using var client = await world.ConnectAsync();
        var frame = new byte[6];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame, 1_000_000);
        await client.SendRawAsync(frame);
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.OversizedFrame), "1024");
    }

    [TestMethod]
    public async Task TruncatedPayload_Ejects109()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();
        await client.SendAsync(w =>
        {
            int start = w.BeginFrame(MessageType.Hello);
            w.WriteUInt32(7); // a schema hash needs 8 bytes
            w.EndFrame(start);
        });
        await client.ExpectEjectAsync(EjectCode.TruncatedFrame);
    }

    [TestMethod]
    public async Task SilentSession_Ejects345_AfterTheHeartbeatTimeout()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.HeartbeatTimeout = TimeSpan.FromMilliseconds(300));
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.HeartbeatTimeout), "heartbeat");
    }
}

/// <summary>Every test of <see cref="ClientAgentHelloTests"/> over the WebSocket transport: a session behaves the same whichever way it came in.</summary>
[TestClass]
public sealed class ClientAgentHelloTestsOverWebSocket : ClientAgentHelloTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
