using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// Edges of the client protocol's dispatch, against an in-process OTP over loopback: a message carrying bytes past its
/// layout is malformed (109), Hello is accepted once (108), a version that is not a version still gets a reason, the
/// clock sample echoes the client's ticks, and a SetFields batch is refused whole when one of its fields is forbidden.
/// Written from mutation testing (TESTING.md): removing these checks left every earlier test green.
/// </summary>
[TestClass]
public class ClientAgentFrameEdgeTests
{
    /// <summary>The transport these tests run over; <see cref="ClientAgentFrameEdgeTestsOverWebSocket"/> runs them all again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    [TestMethod]
    public async Task AHeartbeatWithAPayload_Ejects109()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await HelloAsync(world);

        await client.SendAsync(w =>
        {
            int start = w.BeginFrame(MessageType.Heartbeat);
            w.WriteByte(7);
            w.EndFrame(start);
        });

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TruncatedFrame), "malformed Heartbeat");
    }

    [TestMethod]
    public async Task ClosingInTheMiddleOfAFrame_Ejects109_NamingTheBytesLeft()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await HelloAsync(world);
        using var frame = new PooledBufferWriter();
        ClientFrames.WriteEmpty(frame, MessageType.Heartbeat);

        await client.SendRawAsync(frame.WrittenSpan[..3].ToArray());
        await client.ShutdownSendAsync();

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TruncatedFrame), "connection closed in the middle of a frame (3 bytes left)");
    }

    [TestMethod]
    public async Task ClosingBetweenFrames_EndsTheSession_WithoutAnEject()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await HelloAsync(world);

        await client.ShutdownSendAsync();

        await client.Closed.Task.WaitAsync(RawClient.Timeout);
        Assert.IsFalse(client.TryTakeNow(out var frame), $"A clean close is not ejected, yet the server sent {frame?.Type}.");
    }

    [TestMethod]
    public async Task AHelloWithTrailingBytes_Ejects109()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();

        await client.SendAsync(w =>
        {
            int start = w.BeginFrame(MessageType.Hello);
            w.WriteUInt64(world.Registry.SchemaHash);
            w.WriteString("1.0.0");
            w.WriteByte(0);
            w.EndFrame(start);
        });

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TruncatedFrame), "malformed Hello");
    }

    [TestMethod]
    public async Task ASecondHello_Ejects108()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await HelloAsync(world);

        await client.HelloAsync(world.Registry.SchemaHash);

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.UnknownMessageType), "Hello was already accepted");
    }

    [TestMethod]
    public async Task AVersionThatIsNotAVersion_Ejects124_SayingTheReleasesDiffer()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await world.ConnectAsync();

        await client.HelloAsync(world.Registry.SchemaHash, "nightly");

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.BadVersion), "client and server come from different releases");
    }

    [TestMethod]
    public async Task ClockSync_EchoesTheClientsTicks_WithTheServersTime()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await HelloAsync(world);
        long before = DateTimeOffset.UtcNow.UtcTicks;

        await client.SendAsync(w => ClientFrames.WriteClockSync(w, 123_456_789));

        var answer = (await client.ExpectAsync(MessageType.ClockSync)).Reader();
        long after = DateTimeOffset.UtcNow.UtcTicks;
        Assert.AreEqual(123_456_789L, answer.ReadInt64());
        long serverTicks = answer.ReadInt64();
        Assert.IsTrue(serverTicks >= before && serverTicks <= after, $"The server's time {serverTicks} lies between the send ({before}) and the answer ({after}).");
        answer.EnsureAtEnd();
    }

    [TestMethod]
    public async Task ASetFieldsBatch_WithOneForbiddenField_Ejects118_AndNoneOfItIsRelayed()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var cheater = await world.ClientAsync();
        var watcher = await world.ClientAsync();
        await world.InterestAsync(cheater, 1, 1);
        await world.InterestAsync(watcher, 1, 1);
        var x = (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X));
        var gold = (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Gold));

        await cheater.SendAsync(w =>
        {
            int start = w.BeginFrame(MessageType.SetFields);
            w.WriteDoId(knight.DoId);
            w.WriteUInt16(2);
            w.WriteUInt16((ushort)x.Index);
            x.TypedCodec.Write(w, 7);
            w.WriteUInt16((ushort)gold.Index);
            gold.TypedCodec.Write(w, 1_000_000);
            w.EndFrame(start);
        });

        StringAssert.Contains(await cheater.ExpectEjectAsync(EjectCode.ForbiddenField), "[Ai]");
        knight.Name = "Percival";
        world.Ai.Set(knight, nameof(Knight.Name));
        Assert.AreEqual("Name", RawClient.ReadSetField(await watcher.NextAsync(), knight.Model).Field, "Not even the allowed X of the refused batch was relayed.");
    }

    [TestMethod]
    public async Task ASetFieldsBatch_OfAllowedFields_ReachesTheAiWhole()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var knight = world.SpawnKnight(1, owner: owner.AccountId);
        await world.InterestAsync(owner, 1, 1);
        var x = (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X));
        var mood = (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Mood));

        await owner.SendAsync(w =>
        {
            int start = w.BeginFrame(MessageType.SetFields);
            w.WriteDoId(knight.DoId);
            w.WriteUInt16(2);
            w.WriteUInt16((ushort)x.Index);
            x.TypedCodec.Write(w, 7);
            w.WriteUInt16((ushort)mood.Index);
            mood.TypedCodec.Write(w, 8);
            w.EndFrame(start);
        });

        var heard = TestAi.ReadClientSet(await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientSetField), knight.Model);
        CollectionAssert.AreEqual(new[] { ("X", (object?)7), ("Mood", (object?)8) }, heard.Values);
    }

    [TestMethod]
    [DataRow("ClockSync")]
    [DataRow("AddInterest")]
    [DataRow("RemoveInterest")]
    [DataRow("SetField")]
    [DataRow("CallMethod")]
    [DataRow("UberDogCall")]
    public async Task AMessageWithATrailingByte_Ejects109(string message)
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        var login = world.Registry.GetModel<LoginManager>().GetMethod(nameof(LoginManager.Login));

        await client.SendAsync(w =>
        {
            var type = message switch
            {
                "ClockSync" => MessageType.ClockSync,
                "AddInterest" => MessageType.AddInterest,
                "RemoveInterest" => MessageType.RemoveInterest,
                "SetField" => MessageType.SetField,
                _ => MessageType.CallMethod,
            };
            int start = w.BeginFrame(type);
            switch (message)
            {
                case "ClockSync":
                    w.WriteInt64(1);
                    break;
                case "AddInterest":
                    w.WriteUInt32(2);
                    w.WriteDoId(world.Realm.DoId);
                    w.WriteVarUInt32(1);
                    w.WriteUInt32(2);
                    break;
                case "RemoveInterest":
                    w.WriteUInt32(1);
                    break;
                case "SetField":
                    w.WriteDoId(knight.DoId);
                    w.WriteUInt16((ushort)knight.Model.GetField(nameof(Knight.X)).Index);
                    w.WriteInt32(7);
                    break;
                case "CallMethod":
                    var wave = knight.Model.GetMethod(nameof(Knight.Wave));
                    w.WriteDoId(knight.DoId);
                    w.WriteUInt16((ushort)wave.Index);
                    wave.EncodeArguments(w, ["hi"]);
                    break;
                default:
                    w.WriteDoId(LoginManager.WellKnownId);
                    w.WriteUInt16((ushort)login.Index);
                    login.EncodeArguments(w, ["someone", "a fine password"]);
                    break;
            }

            w.WriteByte(0);
            w.EndFrame(start);
        });

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TruncatedFrame), "unexpected byte(s) after the end of the message");
    }

    [TestMethod]
    public async Task AnUberDogMethodThatIsNotAnonymous_Ejects113_BeforeLogin_And118_After()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var anonymous = await HelloAsync(world);
        var loggedIn = await world.ClientAsync();
        var answer = world.Registry.GetModel<LoginManager>().GetMethod(nameof(LoginManager.LoginResult));
        object?[] arguments = [0, DoId.Empty, "forged"];

        await anonymous.SendAsync(w => ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, answer, arguments));
        await loggedIn.SendAsync(w => ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, answer, arguments));

        StringAssert.Contains(await anonymous.ExpectEjectAsync(EjectCode.AnonymousViolation), "is not [Anonymous]; log in first");
        StringAssert.Contains(await loggedIn.ExpectEjectAsync(EjectCode.ForbiddenField), "may not be called by clients (it is not [ClSend])");
    }

    [TestMethod]
    public async Task CallingAnAiMethod_Ejects118_SayingOnlyTheAiMaySendIt()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        await client.CallAsync(knight.DoId, knight.Model.GetMethod(nameof(Knight.Shout)), "hi");

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.ForbiddenField), "is [Ai]: only the AI may send it");
    }

    [TestMethod]
    public async Task Disconnect_EndsTheSession_WithoutAnEject()
    {
        await using var world = OtpWorld.Start(Transport);
        await using var client = await HelloAsync(world);

        await client.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Disconnect));

        await client.Closed.Task.WaitAsync(RawClient.Timeout);
        Assert.IsFalse(client.TryTakeNow(out var frame), $"Disconnect is not answered, yet the server sent {frame?.Type}.");
    }

    [TestMethod]
    public async Task RemovingAnInterest_SendsALeaveForEveryObjectInIt()
    {
        await using var world = OtpWorld.Start(Transport);
        var first = world.SpawnKnight(1, "Gawain");
        var second = world.SpawnKnight(1, "Kay");
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        await client.RemoveInterestAsync(1);

        var left = new[] { RawClient.ReadLeave(await client.NextAsync()), RawClient.ReadLeave(await client.NextAsync()) };
        CollectionAssert.AreEquivalent(new[] { first.DoId, second.DoId }, left.Select(l => l.Id).ToArray());
        Assert.IsTrue(left.All(l => l.Reason == LeaveReason.Disabled));
    }

    [TestMethod]
    public async Task AfterAForwardedCall_TheSessionKeepsReading()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        await client.SendAsync(w =>
        {
            ClientFrames.WriteCallMethod(w, knight.DoId, knight.Model.GetMethod(nameof(Knight.Wave)), ["hi"]);
            ClientFrames.WriteClockSync(w, 42);
        });

        await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientCallMethod);
        Assert.AreEqual(42L, (await client.ExpectAsync(MessageType.ClockSync)).Reader().ReadInt64());
    }

    private static async Task<RawClient> HelloAsync(OtpWorld world)
    {
        var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        return client;
    }
}

/// <summary>Every test of <see cref="ClientAgentFrameEdgeTests"/> over the WebSocket transport: a session behaves the same whichever way it came in.</summary>
[TestClass]
public sealed class ClientAgentFrameEdgeTestsOverWebSocket : ClientAgentFrameEdgeTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
