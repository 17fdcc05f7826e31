using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The Client Agent's per-session bounds and permission checks at their edges, against an in-process OTP over real
/// loopback sockets: a limit admits exactly its value and ejects one past it, and each refusal carries its code.
/// Written from mutation testing (TESTING.md): the existing tests hit each limit from far away, so an off-by-one
/// (<c>&gt;</c> turned into <c>&gt;=</c>) or a dropped term survived.
/// </summary>
[TestClass]
public class ClientAgentLimitTests
{
    /// <summary>The transport these tests run over; <see cref="ClientAgentLimitTestsOverWebSocket"/> runs them all again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    [TestMethod]
    public async Task AnInterest_WithExactlyMaxZonesPerInterest_IsServed_OneMoreEjects115()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxZonesPerInterest = 4);
        var client = await world.ClientAsync();

        await world.InterestAsync(client, 1, 1, 2, 3, 4);
        await client.AddInterestAsync(2, world.Realm.DoId, 5, 6, 7, 8, 9);

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.ForbiddenInterest), "names 5 zones; the limit is 4");
    }

    [TestMethod]
    public async Task AtMaxInterests_ReplacingAnOpenInterest_IsServed_ANewOneEjects348()
    {
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxInterests = 2);
        var knight = world.SpawnKnight(3);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        await world.InterestAsync(client, 2, 2);

        var entered = await world.InterestAsync(client, 2, 3);
        await client.AddInterestAsync(3, world.Realm.DoId, 4);

        Assert.AreEqual(knight.DoId, entered.Single().Id, "Context 2 now covers zone 3.");
        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TooManyInterests), "at most 2 interests");
    }

    [TestMethod]
    public async Task ZonesAcrossInterests_UpToMaxZonesPerSession_AreServed_OneMoreEjects348()
    {
        await using var world = OtpWorld.Start(Transport, o =>
        {
            o.ClientAgent.MaxZonesPerInterest = 4;
            o.ClientAgent.MaxZonesPerSession = 6;
        });
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1, 2, 3, 4);
        await world.InterestAsync(client, 2, 5, 6);

        // Replacing interest 2 counts its new zones instead of its old ones, and a repeated zone counts once.
        await world.InterestAsync(client, 2, 7, 7, 8);
        await client.AddInterestAsync(3, world.Realm.DoId, 9);

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.TooManyInterests), "would make 7 zones in all; a session may hold at most 6");
    }

    [TestMethod]
    public async Task InterestChanges_BeyondTheirRate_Eject347_AndRemovingCountsToo()
    {
        // The bucket holds twice the rate: two changes pass at once, the third of the same burst does not.
        await using var world = OtpWorld.Start(Transport, o => o.ClientAgent.MaxInterestChangesPerSecond = 1);
        var client = await world.ClientAsync();

        await client.SendAsync(w =>
        {
            ClientFrames.WriteAddInterest(w, 1, world.Realm.DoId, [1]);
            ClientFrames.WriteContext(w, MessageType.RemoveInterest, 1);
            ClientFrames.WriteAddInterest(w, 2, world.Realm.DoId, [2]);
        });

        // The first interest's InterestDone may come before or after the eject (it waits for the State Server).
        var frame = await client.NextAsync();
        if (frame.Type == MessageType.InterestDone)
        {
            frame = await client.NextAsync();
        }

        Assert.AreEqual(MessageType.Eject, frame.Type);
        var eject = frame.Reader();
        Assert.AreEqual(EjectCode.RateLimited, (EjectCode)eject.ReadUInt16());
        StringAssert.Contains(eject.ReadString(), "more than 1 interest changes per second");
    }

    [TestMethod]
    public async Task UberDogCalls_UpToMaxPending_AreAnswered_OneMoreEjects347()
    {
        // Each CreateAccount hashes a password (slowed down here), so calls sent in one write are all still pending
        // when the last of them is read.
        await using var world = OtpWorld.Start(Transport, o =>
        {
            o.ClientAgent.MaxPendingUberDogCalls = 2;
            o.Accounts.Pbkdf2Iterations = 100_000;
        });
        await using var patient = await HelloOnlyAsync(world);
        await using var greedy = await HelloOnlyAsync(world);
        var create = world.Registry.GetModel<LoginManager>().GetMethod(nameof(LoginManager.CreateAccount));

        await patient.SendAsync(w => WriteCreates(w, create, "ann", "bob"));
        await greedy.SendAsync(w => WriteCreates(w, create, "cat", "dan", "eve"));

        Assert.AreEqual(0, (int)(await patient.ExpectCallAsync(world.Registry)).Arguments[0]!);
        Assert.AreEqual(0, (int)(await patient.ExpectCallAsync(world.Registry)).Arguments[0]!);
        StringAssert.Contains(await greedy.ExpectEjectAsync(EjectCode.RateLimited), "more than 2 UberDOG calls waiting");
    }

    [TestMethod]
    public async Task FailedLogins_AtManyUsernames_FromOneAddress_AreThrottledPastTheAddresssFreeFailures()
    {
        // A guesser spraying one password at many usernames stays under each username's own count: only the count per
        // address stops it. The back-off is long, so a slow machine cannot outwait it between two attempts.
        await using var world = OtpWorld.Start(Transport, o =>
        {
            o.Accounts.FreeLoginFailuresPerAddress = 2;
            o.Accounts.FirstLoginBackOff = TimeSpan.FromMinutes(1);
        });
        await using var guesser = await HelloOnlyAsync(world);

        var answers = new List<AccountStatus>();
        foreach (string user in new[] { "ann", "bob", "cat", "dan" })
        {
            await guesser.CallLoginAsync(world.Registry, nameof(LoginManager.Login), user, "password123");
            answers.Add((AccountStatus)(int)(await guesser.ExpectCallAsync(world.Registry)).Arguments[0]!);
        }

        CollectionAssert.AreEqual(new[] { AccountStatus.LoginFailed, AccountStatus.LoginFailed, AccountStatus.LoginFailed, AccountStatus.Throttled }, answers, string.Join(", ", answers));
    }

    [TestMethod]
    public async Task AnAnonymousSession_RemovingInterest_OrSettingAField_Ejects113()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        await using var remover = await HelloOnlyAsync(world);
        await using var setter = await HelloOnlyAsync(world);

        await remover.RemoveInterestAsync(1);
        await setter.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 1);

        StringAssert.Contains(await remover.ExpectEjectAsync(EjectCode.AnonymousViolation), "RemoveInterest");
        StringAssert.Contains(await setter.ExpectEjectAsync(EjectCode.AnonymousViolation), "setting fields");
    }

    [TestMethod]
    public async Task SettingAFieldWithNeitherClSendNorOwnSend_Ejects118_EvenForItsOwner()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var knight = world.SpawnKnight(1, owner: owner.AccountId);
        await world.InterestAsync(owner, 1, 1);

        await owner.SetFieldAsync(knight.DoId, (FieldDescriptor<string>)knight.Model.GetField(nameof(Knight.Name)), "Mordred");

        StringAssert.Contains(await owner.ExpectEjectAsync(EjectCode.ForbiddenField), "neither [ClSend] nor [OwnSend]");
    }

    [TestMethod]
    public async Task SettingAnAiField_OfYourOwnObject_StillEjects118()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var knight = world.SpawnKnight(1, owner: owner.AccountId);
        await world.InterestAsync(owner, 1, 1);

        await owner.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Gold)), 99);

        StringAssert.Contains(await owner.ExpectEjectAsync(EjectCode.ForbiddenField), "[Ai]");
    }

    [TestMethod]
    public async Task AFieldIndexOnePastTheLast_Ejects118_NamingTheIndex()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        int past = knight.Model.Fields.Count;

        await client.SendAsync(w =>
        {
            int start = w.BeginFrame(MessageType.SetField);
            w.WriteDoId(knight.DoId);
            w.WriteUInt16((ushort)past);
            w.WriteInt32(1);
            w.EndFrame(start);
        });

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.ForbiddenField), $"Knight has no field {past}");
    }

    [TestMethod]
    public async Task AMethodIndexOnePastTheLast_Ejects118_OnAnObjectAndOnAnUberDog()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);
        await using var anonymous = await HelloOnlyAsync(world);
        var login = world.Registry.GetModel<LoginManager>();

        await client.SendAsync(w => WriteCall(w, knight.DoId, knight.Model.Methods.Count));
        await anonymous.SendAsync(w => WriteCall(w, LoginManager.WellKnownId, login.Methods.Count));

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.ForbiddenField), $"Knight has no method {knight.Model.Methods.Count}");
        StringAssert.Contains(await anonymous.ExpectEjectAsync(EjectCode.ForbiddenField), $"has no method {login.Methods.Count}");
    }

    private static void WriteCreates(PooledBufferWriter writer, MethodDescriptor create, params string[] users)
    {
        foreach (string user in users)
        {
            ClientFrames.WriteCallMethod(writer, LoginManager.WellKnownId, create, [user, "a fine password"]);
        }
    }

    private static void WriteCall(PooledBufferWriter writer, DoId target, int index)
    {
        int start = writer.BeginFrame(MessageType.CallMethod);
        writer.WriteDoId(target);
        writer.WriteUInt16((ushort)index);
        writer.EndFrame(start);
    }

    private static async Task<RawClient> HelloOnlyAsync(OtpWorld world)
    {
        var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        return client;
    }
}

/// <summary>Every test of <see cref="ClientAgentLimitTests"/> over the WebSocket transport: a session behaves the same whichever way it came in.</summary>
[TestClass]
public sealed class ClientAgentLimitTestsOverWebSocket : ClientAgentLimitTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
