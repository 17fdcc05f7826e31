using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// What a participant of a link that is not privileged may change at the State Server (ARCHITECTURE 4: only objects it
/// created or was given), in process: the permission checks of <c>StateServer.Participants.cs</c>, each seen by its
/// effect (the relay that goes out or not, the Error to the sender, the database write forwarded or answered Forbidden).
/// </summary>
[TestClass]
public sealed class StateServerParticipantTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(StreetLamp) });
    private static readonly Channel Linked = Channel.ForParticipant(new DoId(0, 0x11));
    private static readonly Channel Other = Channel.ForParticipant(new DoId(0, 0x22));
    private static readonly DoId Street = new(0, 0x5757);

    private StateServerRig rig = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start() => rig = new StateServerRig(TestContext, Registry);

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public async Task ARestrictedParticipant_SetsItsOwnObject_ButNotAnothersObject_WhichIsRefusedWithAnError()
    {
        var mine = new StreetLamp { Name = "mine" };
        var theirs = new StreetLamp { Name = "theirs" };
        await rig.CreateAsync(mine, DoId.Empty, 7, Linked);
        await rig.CreateAsync(theirs, DoId.Empty, 7, Other);
        rig.Restrict(Linked);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));
        var linked = rig.Listen(Linked);

        mine.X = 5;
        theirs.X = 6;
        rig.Send(InternalMessages.SetField(theirs, theirs.Model.GetField(nameof(StreetLamp.X)), Linked));
        rig.Send(InternalMessages.SetField(mine, mine.Model.GetField(nameof(StreetLamp.X)), Linked));
        await rig.BarrierAsync();

        var error = await linked.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(theirs.DoId, error.Subject);
        StringAssert.Contains(new WireReader(error.Payload.Span).ReadString(), "neither created nor was given");
        Assert.AreEqual(1, location.Received.Count, "only the set of its own object went out");
        Assert.AreEqual(mine.DoId, location.Received[0].Subject);
        Assert.AreEqual(0, linked.Unread);
    }

    [TestMethod]
    public async Task ARestrictedParticipant_MaySetAnObjectGivenToIt_ItsOwnerIsTheParticipantsId()
    {
        var given = new StreetLamp { Name = "given" };
        await rig.CreateAsync(given, DoId.Empty, 7, Other, owner: Linked.Id);
        rig.Restrict(Linked);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));
        var linked = rig.Listen(Linked);

        given.X = 9;
        rig.Send(InternalMessages.SetField(given, given.Model.GetField(nameof(StreetLamp.X)), Linked));
        await rig.BarrierAsync();

        Assert.AreEqual(1, location.Received.Count);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, location.Received[0].Type);
        Assert.AreEqual(0, linked.Unread, "no Error");
    }

    [TestMethod]
    public async Task AReleasedParticipant_IsNoLongerChecked_AndAnUnrestrictedOneNeverWas()
    {
        var theirs = new StreetLamp { Name = "theirs" };
        await rig.CreateAsync(theirs, DoId.Empty, 7, Other);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));
        var linked = rig.Listen(Linked);
        var field = theirs.Model.GetField(nameof(StreetLamp.X));

        theirs.X = 1;
        rig.Send(InternalMessages.SetField(theirs, field, Linked));
        rig.Restrict(Linked);
        await rig.BarrierAsync();
        Assert.AreEqual(1, rig.Server.RestrictedParticipantCount);
        rig.Restrict(Linked, restricted: false);
        theirs.X = 2;
        rig.Send(InternalMessages.SetField(theirs, field, Linked));
        await rig.BarrierAsync();

        Assert.AreEqual(0, rig.Server.RestrictedParticipantCount);
        Assert.AreEqual(2, location.Received.Count, "both sets went out: before the restriction and after the release");
        Assert.AreEqual(0, linked.Unread);
    }

    [TestMethod]
    public async Task ARestrictedParticipant_MayNotNameAnotherAsTheAi_OfACreate_NorOfAnotherAisCleanup()
    {
        var victim = new StreetLamp { Name = "victim" };
        await rig.CreateAsync(victim, DoId.Empty, 7, Other);
        rig.Restrict(Linked);
        var linked = rig.Listen(Linked);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));

        var forged = InternalMessages.CreateObject(new StreetLamp { Name = "forged" }, DoId.Empty, 7, DoId.Empty, Other);
        rig.Send(new Envelope(forged.Type, Linked, forged.Subject, forged.Payload));
        var cleanup = InternalMessages.DeleteAiObjects(Other);
        rig.Send(new Envelope(cleanup.Type, Linked, cleanup.Subject, cleanup.Payload));
        await rig.BarrierAsync();

        for (int i = 0; i < 2; i++)
        {
            var error = await linked.NextAsync(TestContext);
            Assert.AreEqual(InternalMessageType.Error, error.Type);
            StringAssert.Contains(new WireReader(error.Payload.Span).ReadString(), "may act only as itself");
        }

        Assert.IsEmpty(location.Received, "nothing was created nor deleted");
        Assert.AreEqual(1, rig.Server.ObjectCount, "only the victim, still there");
    }

    [TestMethod]
    public async Task ARestrictedParticipant_MayNotDeleteNorMoveAnothersObject()
    {
        var theirs = new StreetLamp { Name = "theirs" };
        await rig.CreateAsync(theirs, DoId.Empty, 7, Other);
        rig.Restrict(Linked);
        var linked = rig.Listen(Linked);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));

        rig.Send(InternalMessages.DeleteObject(theirs.DoId, Linked));
        rig.Send(InternalMessages.SetLocation(theirs.DoId, DoId.Empty, 8, Linked));
        await rig.BarrierAsync();

        Assert.AreEqual(InternalMessageType.Error, (await linked.NextAsync(TestContext)).Type);
        Assert.AreEqual(InternalMessageType.Error, (await linked.NextAsync(TestContext)).Type);
        Assert.IsEmpty(location.Received);
        Assert.AreEqual(1, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task ADatabaseWrite_OfItsOwnLiveObject_GoesOnToTheDatabase_AnotherIsAnsweredForbidden()
    {
        var mine = new StreetLamp { Name = "mine" };
        await rig.CreateAsync(mine, DoId.Empty, 7, Linked);
        rig.Restrict(Linked);
        var database = rig.Listen(Channel.Database);
        var linked = rig.Listen(Linked);

        rig.Send(DatabaseWrite(mine.DoId, context: 41));
        rig.Send(DatabaseWrite(new DoId(0, 0x0FF1), context: 42));
        await rig.BarrierAsync();

        Assert.AreEqual(1, database.Received.Count, "only the write of its own object");
        Assert.AreEqual(mine.DoId, database.Received[0].Subject);
        var refused = await linked.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbSetFieldsAck, refused.Type);
        Assert.AreEqual(new DoId(0, 0x0FF1), refused.Subject);
        var reader = new WireReader(refused.Payload.Span);
        Assert.AreEqual(42u, reader.ReadUInt32());
        Assert.AreEqual(DatabaseStatus.Forbidden, (DatabaseStatus)reader.ReadByte());
        StringAssert.Contains(reader.ReadString(), "not an object it has live");
    }

    [TestMethod]
    public async Task AForbiddenDatabaseWrite_WithNoContext_OrTooShortToHoldOne_IsDroppedWithoutAnswer()
    {
        rig.Restrict(Linked);
        var database = rig.Listen(Channel.Database);
        var linked = rig.Listen(Linked);

        rig.Send(DatabaseWrite(new DoId(0, 0x0FF1), context: 0));
        rig.Send(new Envelope(InternalMessageType.DbSetFields, Linked, new DoId(0, 0x0FF1), new byte[] { 1, 2, 3 }));
        await rig.BarrierAsync();

        Assert.IsEmpty(database.Received);
        Assert.IsEmpty(linked.Received);
    }

    [TestMethod]
    public async Task AForbiddenDatabaseWrite_OfNothingButItsContext_IsStillAnswered()
    {
        rig.Restrict(Linked);
        var linked = rig.Listen(Linked);

        rig.Send(new Envelope(InternalMessageType.DbSetFields, Linked, new DoId(0, 0x0FF1), BitConverter.GetBytes(43u)));

        var refused = await linked.NextAsync(TestContext);
        var reader = new WireReader(refused.Payload.Span);
        Assert.AreEqual(43u, reader.ReadUInt32(), "four bytes hold a context: the sender is told");
        Assert.AreEqual(DatabaseStatus.Forbidden, (DatabaseStatus)reader.ReadByte());
    }

    [TestMethod]
    public async Task AnUnrestrictedSender_WritesAnyRow()
    {
        var database = rig.Listen(Channel.Database);

        rig.Send(DatabaseWrite(new DoId(0, 0x0FF1), context: 3));
        await rig.BarrierAsync();

        Assert.AreEqual(1, database.Received.Count);
    }

    /// <summary>A <c>DbSetFields</c> as a link sends it: the context first (the rest is the Database's business, not checked here).</summary>
    private static Envelope DatabaseWrite(DoId target, uint context)
    {
        using var writer = new PooledBufferWriter(16);
        writer.WriteUInt32(context);
        writer.WriteVarUInt32(0);
        return new Envelope(InternalMessageType.DbSetFields, Linked, target, writer.WrittenSpan.ToArray());
    }
}
