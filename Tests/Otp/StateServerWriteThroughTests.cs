using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// What a set sends on from the State Server, checked byte for byte in process: the write-through of Db fields to the
/// Database role (only for a stored object, only its Db fields, never for values that came from the database), and the
/// copy for an owned object's owner (never echoed to the client that sent it). The Database tests prove the rows on a
/// real file; these prove the State Server's half, so that a mutant in it fails here in milliseconds.
/// </summary>
[TestClass]
public sealed class StateServerWriteThroughTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(OilLamp) });
    private static readonly ModelInfo Model = Registry.GetModel<OilLamp>();
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly DoId Owner = new(0, 0x0A11CE);

    private StateServerRig rig = null!;
    private StateServerTests.Recorder database = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start()
    {
        rig = new StateServerRig(TestContext, Registry, databaseEnabled: true);
        database = rig.Listen(Channel.Database);
    }

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public async Task ASetOfAStoredObject_WritesItsDbFieldsThrough_AndOnlyThose()
    {
        var lamp = await CreateAsync(stored: true);

        rig.Send(SetFields(lamp, ("Flicker", 3), ("Oil", 41), ("Name", "porch")));

        var write = await database.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbSetFields, write.Type);
        Assert.AreEqual(lamp, write.Subject);
        Assert.AreEqual(Ai, write.Sender);
        var expected = DatabaseMessages.SetFields(0, Model, lamp, Ai, (Model.GetField("Oil"), 41));
        CollectionAssert.AreEqual(expected.Payload.ToArray(), write.Payload.ToArray(), "the DbSetFields of Oil alone (one Db field of the three set), with context 0: no answer wanted");

        rig.Send(SetFields(lamp, ("Flicker", 4)));
        await rig.BarrierAsync();
        Assert.AreEqual(0, database.Unread, "a set of Ram fields alone writes nothing");
    }

    [TestMethod]
    [DataRow(true, DisplayName = "the stored lamp first")]
    [DataRow(false, DisplayName = "the RAM lamp first")]
    public async Task AStoredAndARamObjectOfOneModel_EachKeepsItsKind_WhicheverCameFirst(bool storedFirst)
    {
        var first = await CreateAsync(stored: storedFirst);
        var second = await CreateAsync(stored: !storedFirst, count: 2);
        var (stored, ram) = storedFirst ? (first, second) : (second, first);

        rig.Send(SetFields(ram, ("Oil", 30)));
        rig.Send(SetFields(stored, ("Oil", 31)));
        await rig.BarrierAsync();

        var write = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbSetFields, stored), (write.Type, write.Subject), "only the stored lamp's Oil is written through");
        CollectionAssert.AreEqual(DatabaseMessages.SetFields(0, Model, stored, Ai, (Model.GetField("Oil"), 31)).Payload.ToArray(), write.Payload.ToArray());
        Assert.AreEqual(0, database.Unread, "the RAM lamp's Oil stays in RAM");
    }

    [TestMethod]
    public async Task AClaimOfParkedObjects_TellsTheClaimingAiWhichOfThemAreStored()
    {
        const string Game = "Game.LampAi";
        var next = Channel.ForParticipant(new DoId(0, 0xA2));
        rig.Send(InternalMessages.ClaimAiObjects(1, Game, Ai));
        var stored = await CreateAsync(stored: true);
        var ram = await CreateAsync(stored: false, count: 2);
        rig.Send(InternalMessages.ParkAiObjects(Ai, Game));
        await rig.BarrierAsync();
        var claiming = rig.Listen(next);

        rig.Send(InternalMessages.ClaimAiObjects(2, Game, next));
        await rig.BarrierAsync();

        // ClaimedAiObject: context, then 1 for an object whose Db fields are written through (the AI keeps writing them).
        var claimed = claiming.Received.Where(e => e.Type == InternalMessageType.ClaimedAiObject).ToDictionary(e => e.Subject, e => e.Payload.Span[4]);
        Assert.HasCount(2, claimed);
        Assert.AreEqual((byte)1, claimed[stored], "the stored lamp");
        Assert.AreEqual((byte)0, claimed[ram], "the RAM lamp");
    }

    [TestMethod]
    public async Task ASetOfAnObjectThatIsNotStored_WritesNothing_EvenOfItsDbField()
    {
        var lamp = await CreateAsync(stored: false);

        rig.Send(SetFields(lamp, ("Oil", 41)));
        await rig.BarrierAsync();

        Assert.AreEqual(0, database.Unread);
    }

    [TestMethod]
    public async Task StoredValues_FromTheDatabase_AreNotWrittenBack()
    {
        var lamp = await CreateAsync(stored: true);

        rig.Send(SetFields(lamp, InternalMessageType.SetFieldsStored, ("Oil", 12)));
        await rig.BarrierAsync();

        Assert.AreEqual(0, database.Unread);
        Assert.AreEqual(1, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task AnOwnedObject_ItsOwnerHearsTheAisSet_ButNotItsOwnSet()
    {
        var lamp = await CreateAsync(stored: false, owner: Owner);
        var owner = rig.Listen(Channel.ForAccount(Owner));

        rig.Send(ClientSet(lamp, Owner, ("Flicker", 5)));
        await rig.BarrierAsync();
        Assert.AreEqual(0, owner.Unread, "an owner's own set is not echoed to it");

        rig.Send(ClientSet(lamp, new DoId(0, 0x0B0B), ("Flicker", 6)));
        var fromAnother = await owner.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayPrivate, fromAnother.Type, "another account's set reaches the owner");

        rig.Send(SetFields(lamp, ("Flicker", 7)));
        var fromAi = await owner.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayPrivate, fromAi.Type);
        Assert.AreEqual(lamp, fromAi.Subject);
    }

    [TestMethod]
    public async Task AnObjectWithNoOwner_SendsNoOwnerCopy()
    {
        var lamp = await CreateAsync(stored: false);
        var nobody = rig.Listen(Channel.ForAccount(DoId.Empty));

        rig.Send(SetFields(lamp, ("Flicker", 5)));
        await rig.BarrierAsync();

        Assert.AreEqual(0, nobody.Unread);
    }

    private async Task<DoId> CreateAsync(bool stored, DoId owner = default, int count = 1)
    {
        var lamp = new OilLamp { Name = "hall", Oil = 40, Flicker = 1 };
        rig.Send(InternalMessages.CreateObject(lamp, DoId.Empty, 4, owner, Ai, databaseBacked: stored));
        await rig.BarrierAsync();
        Assert.AreEqual(count, rig.Server.ObjectCount, "created");
        while (database.TryNext(out _))
        {
            // What the create itself sent to the Database role is not what these tests are about.
        }

        return lamp.DoId;
    }

    private static Envelope SetFields(DoId target, params (string Field, object Value)[] values) =>
        SetFields(target, InternalMessageType.SetFields, values);

    private static Envelope SetFields(DoId target, InternalMessageType type, params (string Field, object Value)[] values)
    {
        using var writer = new PooledBufferWriter(64);
        WriteFields(writer, values);
        return new Envelope(type, Ai, target, writer.WrittenSpan.ToArray());
    }

    /// <summary>A client's set as the Client Agent forwards it: the sending account, then the fields.</summary>
    private static Envelope ClientSet(DoId target, DoId account, params (string Field, object Value)[] values)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(account);
        WriteFields(writer, values);
        return new Envelope(InternalMessageType.ClientSetField, Channel.ForSession(account), target, writer.WrittenSpan.ToArray());
    }

    private static void WriteFields(PooledBufferWriter writer, (string Field, object Value)[] values)
    {
        writer.WriteUInt16((ushort)values.Length);
        foreach (var (name, value) in values)
        {
            var field = Model.GetField(name);
            writer.WriteUInt16(field.WireId);
            field.Codec.WriteBoxed(writer, value);
        }
    }
}
