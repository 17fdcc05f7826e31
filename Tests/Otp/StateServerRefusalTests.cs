using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;
using static Pastry.Tests.Otp.StateServerRig;

namespace Pastry.Tests.Otp;

/// <summary>A model for the refusal tests: a broadcast Required field, two broadcast ints, a private one, and calls (one with an optional parameter).</summary>
public sealed class Waymark : DistributedObject<Waymark>
{
    [Required, Ram, Broadcast]
    public string Text { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public int A { get => Get<int>(); set => Set(value); }

    [Ram, Broadcast]
    public int B { get => Get<int>(); set => Set(value); }

    [Ram, OwnSend]
    public int Note { get => Get<int>(); set => Set(value); }

    [Distributed, Broadcast, ClSend]
    public void Ring(int times, int volume = 3)
    {
    }

    [Distributed]
    public void Poke()
    {
    }
}

/// <summary>
/// The State Server's answers to what it must refuse or cannot find (StateServer.cs), in process: every refusal is
/// seen by its exact Error text to the sender (or its log line when the sender is a location or nobody), and every
/// accepted path by the messages it publishes and to whom, so that a mutant of a message, a condition or a target
/// is killed in milliseconds.
/// </summary>
[TestClass]
public sealed class StateServerRefusalTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Waymark) });
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly Channel Other = Channel.ForParticipant(new DoId(0, 0xA2));
    private static readonly Channel Session = Channel.ForSession(new DoId(0, 0x5E5));
    private static readonly DoId Owner = new(0, 0xACC);
    private static readonly DoId NewOwner = new(0, 0xACD);

    private readonly RecordingLogger logger = new();
    private StateServerRig rig = null!;
    private StateServerTests.Recorder ai = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start()
    {
        rig = new StateServerRig(TestContext, Registry, logger: logger);
        ai = rig.Listen(Ai);
    }

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public void TheStateServer_IsNamedStateServer()
    {
        Assert.AreEqual("state-server", rig.Server.Name);
    }

    [TestMethod]
    public async Task AMessageTypeItDoesNotHandle_IsRefusedToTheSender_WithItsTypeNamed_AndLogged()
    {
        var subject = new DoId(0, 0x77);
        rig.Send(new Envelope(InternalMessageType.MemoryQuery, Ai, subject, new byte[] { 0 }));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(Channel.StateServer, error.Sender);
        Assert.AreEqual(subject, error.Subject);
        Assert.AreEqual("the State Server does not handle MemoryQuery", Text(error));
        await rig.BarrierAsync();
        CollectionAssert.Contains(logger.At(LogLevel.Warning), $"State Server refused MemoryQuery from {Ai}: the State Server does not handle MemoryQuery");
    }

    [TestMethod]
    public async Task ARefusal_ToALocationOrToNobody_IsOnlyLogged_NoErrorIsPublished()
    {
        var location = Channel.ForLocation(DoId.Empty, 5);
        var atLocation = rig.Listen(location);
        rig.Send(new Envelope(InternalMessageType.MemoryQuery, location, DoId.Empty, new byte[] { 0 }));
        rig.Send(new Envelope(InternalMessageType.MemoryQuery, default, DoId.Empty, new byte[] { 0 }));
        rig.Send(new Envelope(InternalMessageType.MemoryQuery, Ai, DoId.Empty, new byte[] { 0 }));
        await rig.BarrierAsync();

        Assert.IsEmpty(atLocation.Received, "a location is not told");
        Assert.HasCount(1, ai.Received, "only the participant's refusal is published");
        var refusals = logger.At(LogLevel.Warning).Where(l => l.StartsWith("State Server refused MemoryQuery from ", StringComparison.Ordinal)).ToList();
        Assert.HasCount(3, refusals, "each refusal is logged, told or not");
        Assert.AreEqual($"State Server refused MemoryQuery from {location}: the State Server does not handle MemoryQuery", refusals[0]);
        Assert.AreEqual($"State Server refused MemoryQuery from {default(Channel)}: the State Server does not handle MemoryQuery", refusals[1]);
    }

    [TestMethod]
    public async Task ARefusalOfItsOwnMessage_IsOnlyLogged_SoAnErrorToItselfCannotLoop()
    {
        rig.Send(new Envelope(InternalMessageType.MemoryQuery, Channel.StateServer, DoId.Empty, new byte[] { 0 }));
        await rig.BarrierAsync();
        await rig.BarrierAsync();

        var refusals = logger.At(LogLevel.Warning).Where(l => l.StartsWith("State Server refused ", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, refusals, string.Join(" | ", refusals.Take(3)));
        Assert.AreEqual($"State Server refused MemoryQuery from {Channel.StateServer}: the State Server does not handle MemoryQuery", refusals[0]);
    }

    [TestMethod]
    public async Task AMalformedMessage_IsRefusedWithMalformedAndTheReadersReason_AndTheServerGoesOn()
    {
        var post = await CreateAsync("north", DoId.Empty, 1);
        var truncated = new byte[] { 1, 2, 3 };
        rig.Send(new Envelope(InternalMessageType.SetLocation, Ai, post.DoId, truncated));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(post.DoId, error.Subject);
        Assert.AreEqual($"malformed SetLocation: {ReadDoIdFailure(truncated)}", Text(error));
        Assert.IsEmpty(logger.At(LogLevel.Error), "a malformed message is not a bug of the server");
        await rig.BarrierAsync();
        Assert.AreEqual(1, rig.Server.ObjectCount, "the loop goes on");
    }

    [TestMethod]
    public async Task AClientCallShorterThanTheAccountThatLeadsIt_IsRefusedAsMalformed_NotAsAnInternalError()
    {
        var subject = new DoId(0, 0x99);
        var session = rig.Listen(Session);
        var truncated = new byte[] { 1, 2, 3 };
        rig.Send(new Envelope(InternalMessageType.ClientCallMethod, Session, subject, truncated));

        var error = await session.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(subject, error.Subject);
        Assert.AreEqual($"malformed ClientCallMethod: {ReadDoIdFailure(truncated)}", Text(error));
        await rig.BarrierAsync();
        Assert.IsEmpty(logger.At(LogLevel.Error));
    }

    [TestMethod]
    public async Task AnExceptionThatIsNotAWireError_IsLoggedAsAnErrorWithTheMessage_AndRefusedAsAnInternalError_AndTheServerGoesOn()
    {
        // A bug stands in as a participant whose delivery throws: the State Server publishes on its own task.
        var location = Channel.ForLocation(DoId.Empty, 8);
        var thrower = new Thrower();
        rig.Router.Subscribe(thrower, location);
        var post = new Waymark { Text = "unlucky" };
        rig.Send(InternalMessages.CreateObject(post, DoId.Empty, 8, DoId.Empty, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(post.DoId, error.Subject);
        Assert.AreEqual("internal error handling CreateObject", Text(error));
        await rig.BarrierAsync();
        var failure = logger.Lines.Single(l => l.Level == LogLevel.Error);
        StringAssert.StartsWith(failure.Message, "State Server failed on ");
        Assert.AreSame(thrower.Thrown, failure.Exception);
        CollectionAssert.Contains(logger.At(LogLevel.Warning), $"State Server refused CreateObject from {Ai}: internal error handling CreateObject");

        rig.Router.UnsubscribeAll(thrower);
        await CreateAsync("next", DoId.Empty, 8);
        Assert.AreEqual(2, rig.Server.ObjectCount, "the loop goes on");
    }

    [TestMethod]
    public async Task Create_WithAnUnknownClassId_IsRefusedNamingIt()
    {
        var post = new Waymark { Text = "lost" };
        var create = InternalMessages.CreateObject(post, DoId.Empty, 1, DoId.Empty, Ai);
        var payload = create.Payload.ToArray();
        BitConverter.GetBytes(0xDEADu).CopyTo(payload, 0);
        rig.Send(new Envelope(InternalMessageType.CreateObject, Ai, post.DoId, payload));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual($"create {post.DoId}: unknown class id 57005; are both sides built from the same models?", Text(error));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task Create_OfAnIdThatExistsOrIsEmpty_IsRefused_AndTheFirstObjectIsKept()
    {
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var post = await CreateAsync("first", DoId.Empty, 1);
        var again = new Waymark { DoId = post.DoId, Text = "second" };
        rig.Send(InternalMessages.CreateObject(again, DoId.Empty, 1, DoId.Empty, Ai));
        var empty = InternalMessages.CreateObject(new Waymark { Text = "nobody" }, DoId.Empty, 1, DoId.Empty, Ai);
        rig.Send(new Envelope(InternalMessageType.CreateObject, Ai, DoId.Empty, empty.Payload));

        Assert.AreEqual($"create Waymark: DoId {post.DoId} is empty or already exists", Text(await ai.NextAsync(TestContext)));
        Assert.AreEqual($"create Waymark: DoId {DoId.Empty} is empty or already exists", Text(await ai.NextAsync(TestContext)));
        await rig.BarrierAsync();
        Assert.AreEqual(1, rig.Server.ObjectCount);
        Assert.HasCount(1, location.Received, "only the first object entered");
    }

    [TestMethod]
    public async Task Create_UnderAParentThatDoesNotExist_IsRefusedNamingTheParent()
    {
        var missing = new DoId(0, 0xF00);
        var post = new Waymark { Text = "orphan" };
        rig.Send(InternalMessages.CreateObject(post, missing, 3, DoId.Empty, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(post.DoId, error.Subject);
        Assert.AreEqual($"create Waymark {post.DoId}: parent {missing} does not exist", Text(error));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task SetOwner_OfNoObject_IsRefused_AndOfAnotherAisObjectByARestrictedLink_IsRefused()
    {
        var missing = new DoId(0, 0xF01);
        var theirs = await CreateAsync("theirs", DoId.Empty, 1, Other, Owner);
        rig.Restrict(Ai);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));

        rig.Send(InternalMessages.SetOwner(missing, NewOwner, Ai));
        rig.Send(InternalMessages.SetOwner(theirs.DoId, NewOwner, Ai));

        Assert.AreEqual($"set owner: no object {missing}", Text(await ai.NextAsync(TestContext)));
        StringAssert.StartsWith(Text(await ai.NextAsync(TestContext)), $"SetOwner on Waymark {theirs.DoId}: {Ai} is a participant link that neither created nor was given this object");
        await rig.BarrierAsync();
        Assert.IsEmpty(location.Received, "no owner changed");
    }

    [TestMethod]
    public async Task SetOwner_PublishesChangingOwner_ToTheLocation_TheOldOwner_AndTheNewOwner_WithTheNewOwnerInTheEntry()
    {
        var post = await CreateAsync("owned", DoId.Empty, 1, Ai, Owner);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var oldOwner = rig.Listen(Channel.ForAccount(Owner));
        var newOwner = rig.Listen(Channel.ForAccount(NewOwner));

        rig.Send(InternalMessages.SetOwner(post.DoId, NewOwner, Ai));
        await rig.BarrierAsync();

        foreach (var recorder in new[] { location, oldOwner, newOwner })
        {
            Assert.HasCount(1, recorder.Received, recorder.Name);
            var changing = recorder.Received[0];
            Assert.AreEqual(InternalMessageType.ChangingOwner, changing.Type);
            Assert.AreEqual(Ai, changing.Sender);
            Assert.AreEqual(post.DoId, changing.Subject);
            Assert.AreEqual(NewOwner, ObjectEntry.Parse(changing.Payload).Owner);
        }

        Assert.IsEmpty(ai.Received);
    }

    [TestMethod]
    public async Task SetFields_OfTwoBroadcastFields_RelaysOneSetFieldsFrameWithBoth_ToTheLocationAndTheOwner()
    {
        var post = await CreateAsync("two", DoId.Empty, 1, Ai, Owner);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var owner = rig.Listen(Channel.ForAccount(Owner));
        var a = post.Model.GetField(nameof(Waymark.A));
        var b = post.Model.GetField(nameof(Waymark.B));
        using (var writer = new PooledBufferWriter(64))
        {
            writer.WriteUInt16(2);
            writer.WriteUInt16(a.WireId);
            writer.WriteInt32(5);
            writer.WriteUInt16(b.WireId);
            writer.WriteInt32(6);
            rig.Send(new Envelope(InternalMessageType.SetFields, Ai, post.DoId, writer.WrittenSpan.ToArray()));
        }

        await rig.BarrierAsync();

        byte[] expected = SetFieldsFrame(post.DoId, (a.WireId, 5), (b.WireId, 6));
        Assert.HasCount(1, location.Received);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, location.Received[0].Type);
        CollectionAssert.AreEqual(expected, location.Received[0].Payload.ToArray());
        Assert.HasCount(1, owner.Received);
        Assert.AreEqual(InternalMessageType.RelayPrivate, owner.Received[0].Type);
        CollectionAssert.AreEqual(expected, owner.Received[0].Payload.ToArray());
    }

    [TestMethod]
    public async Task CallMethod_OnNoObject_ByARestrictedStranger_OrOfAnUnknownMethod_IsRefusedEach()
    {
        var missing = new DoId(0, 0xF02);
        var theirs = await CreateAsync("theirs", DoId.Empty, 1, Other);
        rig.Restrict(Ai);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var ring = Ring();

        rig.Send(InternalMessages.CallMethod(missing, ring, new object?[] { 1, 2 }, Ai));
        rig.Send(InternalMessages.CallMethod(theirs.DoId, ring, new object?[] { 1, 2 }, Ai));
        var other = rig.Listen(Other);
        rig.Send(new Envelope(InternalMessageType.CallMethod, Other, theirs.DoId, BitConverter.GetBytes((ushort)999)));
        var session = rig.Listen(Session);
        rig.Send(new Envelope(InternalMessageType.ClientCallMethod, Session, missing, new byte[DoId.Size + 2]));

        Assert.AreEqual($"CallMethod: no object {missing}", Text(await ai.NextAsync(TestContext)));
        StringAssert.StartsWith(Text(await ai.NextAsync(TestContext)), $"CallMethod on Waymark {theirs.DoId}: {Ai} is a participant link that neither created nor was given this object");
        Assert.AreEqual("Waymark has no method 999", Text(await other.NextAsync(TestContext)));
        Assert.AreEqual($"ClientCallMethod: no object {missing}", Text(await session.NextAsync(TestContext)));
        await rig.BarrierAsync();
        Assert.IsEmpty(location.Received, "no call went out");
        Assert.AreEqual(0, ai.Unread);
    }

    [TestMethod]
    public async Task CallMethod_WithoutItsOptionalParameter_IsRelayedAsSent_ToTheLocationAndTheOwner()
    {
        var post = await CreateAsync("bell", DoId.Empty, 1, Ai, Owner);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        var owner = rig.Listen(Channel.ForAccount(Owner));
        var ring = Ring();
        using var call = new PooledBufferWriter(32);
        call.WriteUInt16(ring.WireId);
        call.WriteInt32(4);

        rig.Send(new Envelope(InternalMessageType.CallMethod, Ai, post.DoId, call.WrittenSpan.ToArray()));
        await rig.BarrierAsync();

        using var frame = new PooledBufferWriter(64);
        int start = frame.BeginFrame(MessageType.CallMethod);
        frame.WriteDoId(post.DoId);
        frame.WriteRaw(call.WrittenSpan);
        frame.EndFrame(start);
        Assert.HasCount(1, location.Received);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, location.Received[0].Type);
        CollectionAssert.AreEqual(frame.WrittenSpan.ToArray(), location.Received[0].Payload.ToArray());
        Assert.HasCount(1, owner.Received);
        Assert.AreEqual(InternalMessageType.RelayPrivate, owner.Received[0].Type);
        Assert.AreEqual(Ai, owner.Received[0].Sender);
        CollectionAssert.AreEqual(frame.WrittenSpan.ToArray(), owner.Received[0].Payload.ToArray());

        // With the optional parameter given, it is read too.
        rig.Send(InternalMessages.CallMethod(post.DoId, ring, new object?[] { 4, 9 }, Ai));
        await rig.BarrierAsync();
        Assert.HasCount(2, location.Received);
        Assert.IsEmpty(ai.Received, "nothing refused");
    }

    [TestMethod]
    public async Task SetLocation_OfNoObject_OrUnderAParentThatDoesNotExist_IsRefused_AndTheObjectStays()
    {
        var missing = new DoId(0, 0xF03);
        var post = await CreateAsync("stay", DoId.Empty, 1);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));

        rig.Send(InternalMessages.SetLocation(missing, DoId.Empty, 2, Ai));
        rig.Send(InternalMessages.SetLocation(post.DoId, missing, 2, Ai));

        Assert.AreEqual($"set location: no object {missing}", Text(await ai.NextAsync(TestContext)));
        Assert.AreEqual($"set location of {post.DoId}: parent {missing} does not exist", Text(await ai.NextAsync(TestContext)));
        await rig.BarrierAsync();
        Assert.IsEmpty(location.Received, "nothing moved");
        Assert.AreEqual(post.DoId, (await QueryAsync(DoId.Empty, 1)).Single());
    }

    [TestMethod]
    public async Task Delete_OfNoObject_IsRefused_AndByARestrictedStranger_IsRefused_AndTheObjectStays()
    {
        var missing = new DoId(0, 0xF04);
        var theirs = await CreateAsync("theirs", DoId.Empty, 1, Other);
        rig.Restrict(Ai);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));

        rig.Send(InternalMessages.DeleteObject(missing, Ai));
        rig.Send(InternalMessages.DeleteObject(theirs.DoId, Ai));

        Assert.AreEqual($"delete: no object {missing}", Text(await ai.NextAsync(TestContext)));
        StringAssert.StartsWith(Text(await ai.NextAsync(TestContext)), $"DeleteObject on Waymark {theirs.DoId}: {Ai} is a participant link that neither created nor was given this object");
        await rig.BarrierAsync();
        Assert.IsEmpty(location.Received);
        Assert.AreEqual(1, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task QueryOwned_OfTheEmptyOwner_AnswersOnlyDone_NotTheObjectsNobodyOwns()
    {
        await CreateAsync("nobodys", DoId.Empty, 1);
        var asker = Channel.ForSession(new DoId(0, 0x5E8));
        var answers = rig.Listen(asker);
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(3);
        writer.WriteDoId(DoId.Empty);

        rig.Send(new Envelope(InternalMessageType.QueryOwned, asker, DoId.Empty, writer.WrittenSpan.ToArray()));
        await rig.BarrierAsync();

        Assert.AreEqual(InternalMessageType.QueryDone, answers.Received.Single().Type);
    }

    [TestMethod]
    public async Task QueryOwned_AnswersAnEntryPerObjectOfThatOwner_WithTheContext_ThenDone()
    {
        var first = await CreateAsync("first", DoId.Empty, 1, Ai, Owner);
        await CreateAsync("stranger", DoId.Empty, 1, Ai, NewOwner);
        await CreateAsync("nobodys", DoId.Empty, 1);
        var second = await CreateAsync("second", DoId.Empty, 2, Ai, Owner);
        var asker = Channel.ForSession(new DoId(0, 0x5E6));
        var answers = rig.Listen(asker);
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(0xC0FFEE);
        writer.WriteDoId(Owner);

        rig.Send(new Envelope(InternalMessageType.QueryOwned, asker, DoId.Empty, writer.WrittenSpan.ToArray()));
        await rig.BarrierAsync();

        var received = answers.Received;
        Assert.HasCount(3, received);
        CollectionAssert.AreEquivalent(new[] { first.DoId, second.DoId }, received.Take(2).Select(e => e.Subject).ToArray());
        foreach (var entry in received.Take(2))
        {
            Assert.AreEqual(InternalMessageType.QueryEntry, entry.Type);
            Assert.AreEqual(0xC0FFEEu, new WireReader(entry.Payload.Span).ReadUInt32());
            Assert.AreEqual(Owner, ObjectEntry.Parse(entry.Payload, 4).Owner);
        }

        Assert.AreEqual(InternalMessageType.QueryDone, received[2].Type);
        CollectionAssert.AreEqual(BitConverter.GetBytes(0xC0FFEEu), received[2].Payload.ToArray());
    }

    [TestMethod]
    public async Task QueryZones_ThatMustBePublic_UnderAParentNotAtTheRoot_IsRefused_WithTheRefusedByte_AndNoEntry()
    {
        var street = await CreateAsync("street", DoId.Empty, 1);
        var house = await CreateAsync("house", street.DoId, 2);
        await CreateAsync("room", house.DoId, 3);
        await CreateAsync("porch", street.DoId, 3);
        var asker = Channel.ForSession(new DoId(0, 0x5E7));
        var answers = rig.Listen(asker);

        rig.Send(QueryZones(asker, 7, house.DoId, 3, mustBePublic: true));
        rig.Send(QueryZones(asker, 8, street.DoId, 3, mustBePublic: true));
        rig.Send(QueryZones(asker, 9, DoId.Empty, 1, mustBePublic: true));
        await rig.BarrierAsync();

        var received = answers.Received;
        Assert.HasCount(5, received);
        Assert.AreEqual(street.DoId, received[3].Subject, "the root is public");
        CollectionAssert.AreEqual(new byte[] { 9, 0, 0, 0 }, received[4].Payload.ToArray());
        Assert.AreEqual(InternalMessageType.QueryDone, received[0].Type);
        CollectionAssert.AreEqual(new byte[] { 7, 0, 0, 0, 1 }, received[0].Payload.ToArray(), "refused: the done says so");
        Assert.AreEqual(InternalMessageType.QueryEntry, received[1].Type, "a parent at the root is public");
        Assert.AreEqual(InternalMessageType.QueryDone, received[2].Type);
        CollectionAssert.AreEqual(new byte[] { 8, 0, 0, 0 }, received[2].Payload.ToArray());
    }

    [TestMethod]
    public async Task MoveMessagesWithNoMoveUnderWay_AndAnExpiryOfNoHandOver_AreDroppedQuietly()
    {
        var post = await CreateAsync("here", DoId.Empty, 1);
        var toServer = rig.Listen(Channel.StateServer);

        rig.Send(new Envelope(InternalMessageType.ObjectMoveCancelled, Ai, post.DoId, Array.Empty<byte>()));
        rig.Send(new Envelope(InternalMessageType.ObjectMoveProbe, Ai, post.DoId, Array.Empty<byte>()));
        rig.Send(new Envelope(InternalMessageType.TakeOverAi, Channel.StateServer, DoId.Empty, Array.Empty<byte>()));
        await rig.BarrierAsync();

        Assert.IsEmpty(ai.Received, "no Error: the State Server handles them");
        Assert.IsFalse(toServer.Received.Any(e => e.Type == InternalMessageType.Error), "an expiry of no hand-over is not read as a take-over");
        Assert.IsEmpty(logger.At(LogLevel.Warning));
        Assert.AreEqual(1, rig.Server.ObjectCount);
    }

    /// <summary>A participant whose delivery throws, as a bug in the handling of a message would.</summary>
    private sealed class Thrower : IParticipant
    {
        public InvalidOperationException Thrown { get; } = new("a bug");

        public string Name => "thrower";

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets) => throw Thrown;
    }

    private static MethodDescriptor Ring() => Registry.GetModel<Waymark>().Methods.Single(m => m.Name == nameof(Waymark.Ring));

    private static string ReadDoIdFailure(byte[] payload)
    {
        try
        {
            var reader = new WireReader(payload);
            reader.ReadDoId();
        }
        catch (WireFormatException ex)
        {
            return ex.Message;
        }

        throw new AssertFailedException("the payload was expected to be too short");
    }

    private static byte[] SetFieldsFrame(DoId id, params (ushort WireId, int Value)[] fields)
    {
        using var writer = new PooledBufferWriter(64);
        int start = writer.BeginFrame(MessageType.SetFields);
        writer.WriteDoId(id);
        writer.WriteUInt16((ushort)fields.Length);
        foreach (var (wireId, value) in fields)
        {
            writer.WriteUInt16(wireId);
            writer.WriteInt32(value);
        }

        writer.EndFrame(start);
        return writer.WrittenSpan.ToArray();
    }

    private static Envelope QueryZones(Channel sender, uint context, DoId parent, uint zone, bool mustBePublic)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt32(context);
        writer.WriteDoId(parent);
        writer.WriteVarUInt32(1);
        writer.WriteUInt32(zone);
        if (mustBePublic)
        {
            writer.WriteByte(1);
        }

        return new Envelope(InternalMessageType.QueryZones, sender, DoId.Empty, writer.WrittenSpan.ToArray());
    }

    private async Task<List<DoId>> QueryAsync(DoId parent, uint zone)
    {
        var asker = Channel.ForSession(new DoId(0, 0x5EA));
        var answers = rig.Listen(asker);
        rig.Send(QueryZones(asker, 1, parent, zone, mustBePublic: false));
        await rig.BarrierAsync();
        rig.Router.UnsubscribeAll(answers);
        return answers.Received.Where(e => e.Type == InternalMessageType.QueryEntry).Select(e => e.Subject).ToList();
    }

    private async Task<Waymark> CreateAsync(string text, DoId parent, uint zone, Channel? creator = null, DoId owner = default)
    {
        var post = new Waymark { Text = text };
        await rig.CreateAsync(post, parent, zone, creator ?? Ai, owner);
        return post;
    }
}
