using System.ComponentModel.DataAnnotations;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>A model for the activation tests: a Required name given by the AI, and a Db field loaded from the database.</summary>
public sealed class OilLamp : DistributedObject<OilLamp>
{
    [Required, Ram, Broadcast]
    public string Name { get => Get<string>(); set => Set(value); }

    [Db, Ram, Broadcast]
    public int Oil { get => Get<int>(); set => Set(value); }

    [Ram]
    public int Flicker { get => Get<int>(); set => Set(value); }
}

/// <summary>
/// Activation at the State Server (<c>StateServer.Activation.cs</c>), in process, with the test as the Database role:
/// each refusal of a request (its answer's status and reason), the load from the database, and the answers to a load
/// that fails or that something overtook.
/// </summary>
[TestClass]
public sealed class StateServerActivationTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(OilLamp), typeof(StreetLamp) });
    private static readonly ModelInfo Model = Registry.GetModel<OilLamp>();
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly DoId Stored = new(0, 0x5708ED);

    private StateServerRig rig = null!;
    private StateServerTests.Recorder database = null!;
    private StateServerTests.Recorder ai = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start() => Start(databaseEnabled: true);

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public async Task AnActivation_LoadsTheDbFields_PlacesTheObject_AndAnswersWithEveryValue()
    {
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 4));

        rig.Send(Activate(7, ("Name", "hall"), ("Flicker", 2)));
        var get = await database.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbGetAll, get.Type);
        Assert.AreEqual(Stored, get.Subject);
        Assert.AreEqual(0, location.Received.Count, "not placed before the database answered");
        rig.Send(GetAllResp(get, DatabaseStatus.Ok, ("Oil", 40)));

        var answer = await ai.NextAsync(TestContext);
        while (answer.Type == InternalMessageType.ObjectDeleted)
        {
            // The AI hears of its own objects' deletion too.
            answer = await ai.NextAsync(TestContext);
        }

        Assert.AreEqual(InternalMessageType.ActivateObjectResp, answer.Type);
        var reply = DatabaseMessages.ReadReply(answer, Model);
        Assert.AreEqual((7u, DatabaseStatus.Ok, string.Empty), (reply.Context, reply.Status, reply.Reason));
        Assert.AreEqual("hall", reply.Values["Name"]);
        Assert.AreEqual(40, reply.Values["Oil"]);
        Assert.AreEqual(2, reply.Values["Flicker"]);
        Assert.HasCount(3, reply.Values);
        Assert.AreEqual(InternalMessageType.EnterLocation, (await location.NextAsync(TestContext)).Type);
        Assert.AreEqual(1, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task AnActivationWithAnOwner_PlacesTheObjectAsTheirs_TheirAccountHearsItEnter()
    {
        var owner = new DoId(0, 0x0A11CE);
        var account = rig.Listen(Channel.ForAccount(owner));
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 4));

        rig.Send(DatabaseMessages.ActivateObject(8, Model, Stored, DoId.Empty, 4, owner, Ai, (Model.GetField("Name"), "porch")));
        var get = await database.NextAsync(TestContext);
        rig.Send(GetAllResp(get, DatabaseStatus.Ok, ("Oil", 12)));

        var entered = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.EnterLocation, entered.Type);
        Assert.AreEqual(owner, ObjectEntry.Parse(entered.Payload).Owner, "the entry names the owner");
        var heard = await account.NextAsync(TestContext);
        Assert.AreSame(entered, heard, "the owner's account hears the same enter, wherever the owner looks");
    }

    [TestMethod]
    public async Task ASecondActivation_WhileTheFirstWaits_OrAfterItEnded_IsAlreadyExists()
    {
        rig.Send(Activate(1, ("Name", "hall")));
        var get = await database.NextAsync(TestContext);
        rig.Send(Activate(2, ("Name", "hall")));
        await AssertRefusedAsync(2, DatabaseStatus.AlreadyExists, "it is already active");
        rig.Send(GetAllResp(get, DatabaseStatus.Ok, ("Oil", 1)));
        Assert.AreEqual(DatabaseStatus.Ok, DatabaseMessages.ReadReply(await ai.NextAsync(TestContext)).Status);

        rig.Send(Activate(3, ("Name", "hall")));
        await AssertRefusedAsync(3, DatabaseStatus.AlreadyExists, "it is already active");
        Assert.AreEqual(1, database.Received.Count, "only the first asked the database");
    }

    [TestMethod]
    public async Task ADatabaseFailure_IsPassedOn_WithItsStatusAndReason_AndTheObjectCanBeActivatedAgain()
    {
        rig.Send(Activate(5, ("Name", "hall")));
        rig.Send(GetAllResp(await database.NextAsync(TestContext), DatabaseStatus.NotFound, "no such row"));

        await AssertRefusedAsync(5, DatabaseStatus.NotFound, $"activate OilLamp {Stored}: no such row");
        Assert.AreEqual(0, rig.Server.ObjectCount);
        rig.Send(Activate(6, ("Name", "hall")));
        Assert.AreEqual(InternalMessageType.DbGetAll, (await database.NextAsync(TestContext)).Type, "no longer counted as activating");
    }

    [TestMethod]
    public async Task AMissingRequiredField_IsRefusedAfterTheLoad_AndNothingIsPlaced()
    {
        rig.Send(Activate(5));
        rig.Send(GetAllResp(await database.NextAsync(TestContext), DatabaseStatus.Ok, ("Oil", 1)));

        await AssertRefusedAsync(5, DatabaseStatus.Invalid, "missing Required field(s) Name");
        Assert.AreEqual(0, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task AParentDeletedWhileLoading_IsRefused_AndAnObjectCreatedMeanwhile_Too()
    {
        var parent = new StreetLamp { Name = "parent" };
        await rig.CreateAsync(parent, DoId.Empty, 1, Ai);
        rig.Send(Activate(5, parent.DoId, ("Name", "hall")));
        var get = await database.NextAsync(TestContext);
        rig.Send(InternalMessages.DeleteObject(parent.DoId, Ai));
        rig.Send(GetAllResp(get, DatabaseStatus.Ok, ("Oil", 1)));
        await AssertRefusedAsync(5, DatabaseStatus.Invalid, $"parent {parent.DoId} was deleted meanwhile");

        rig.Send(Activate(6, ("Name", "hall")));
        get = await database.NextAsync(TestContext);
        var created = new OilLamp { Name = "created" };
        var create = InternalMessages.CreateObject(created, DoId.Empty, 4, DoId.Empty, Ai);
        rig.Send(new Envelope(create.Type, create.Sender, Stored, create.Payload));
        rig.Send(GetAllResp(get, DatabaseStatus.Ok, ("Oil", 1)));
        await AssertRefusedAsync(6, DatabaseStatus.Invalid, "it was created meanwhile");
    }

    [TestMethod]
    public async Task Refusals_BeforeTheDatabaseIsAsked_EachNameTheirReason()
    {
        rig.Send(Activate(1, new DoId(0, 0xDEAD), ("Name", "hall")));
        await AssertRefusedAsync(1, DatabaseStatus.Invalid, $"parent {new DoId(0, 0xDEAD)} does not exist");

        rig.Send(Activate(2, ("Name", "hall"), ("Oil", 3)));
        await AssertRefusedAsync(2, DatabaseStatus.Invalid, "Oil is a Db field, loaded from the database");

        var lamp = Registry.GetModel<StreetLamp>();
        rig.Send(DatabaseMessages.ActivateObject(3, lamp, Stored, DoId.Empty, 4, DoId.Empty, Ai, (lamp.GetField("Name"), "lamp")));
        await AssertRefusedAsync(3, DatabaseStatus.Invalid, "has no Db fields");

        var empty = Activate(4, ("Name", "hall"));
        rig.Send(new Envelope(empty.Type, empty.Sender, DoId.Empty, empty.Payload));
        await AssertRefusedAsync(4, DatabaseStatus.Invalid, "the DoId is empty");

        Assert.IsEmpty(database.Received);
    }

    [TestMethod]
    public async Task WithoutTheDatabaseRole_AnActivationIsRefused()
    {
        await rig.DisposeAsync();
        Start(databaseEnabled: false);

        rig.Send(Activate(1, ("Name", "hall")));

        await AssertRefusedAsync(1, DatabaseStatus.Invalid, "the Database role is off");
    }

    [TestMethod]
    public async Task ARestrictedParticipant_MayActivateOnlyAsItself()
    {
        var intruder = Channel.ForParticipant(new DoId(0, 0x666));
        rig.Restrict(intruder);
        var heard = rig.Listen(intruder);
        var forged = Activate(1, ("Name", "hall"));

        rig.Send(new Envelope(forged.Type, intruder, forged.Subject, forged.Payload));

        var reply = DatabaseMessages.ReadReply(await heard.NextAsync(TestContext));
        Assert.AreEqual(DatabaseStatus.Invalid, reply.Status);
        StringAssert.Contains(reply.Reason, "may activate objects only as their AI");
        await rig.BarrierAsync();
        Assert.IsEmpty(database.Received);
    }

    [TestMethod]
    public async Task AnAnswerForNoPendingActivation_IsIgnored()
    {
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(999);
        writer.WriteByte((byte)DatabaseStatus.Ok);
        writer.WriteString(string.Empty);
        writer.WriteUInt16(0);

        rig.Send(new Envelope(InternalMessageType.DbGetAllResp, Channel.Database, Stored, writer.WrittenSpan.ToArray()));
        await rig.BarrierAsync();

        Assert.AreEqual(0, rig.Server.ObjectCount);
        Assert.IsEmpty(ai.Received);
    }

    private void Start(bool databaseEnabled)
    {
        rig = new StateServerRig(TestContext, Registry, databaseEnabled: databaseEnabled);
        database = rig.Listen(Channel.Database);
        ai = rig.Listen(Ai);
    }

    private async Task AssertRefusedAsync(uint context, DatabaseStatus status, string reason)
    {
        var answer = await ai.NextAsync(TestContext);
        while (answer.Type == InternalMessageType.ObjectDeleted)
        {
            // The AI hears of its own objects' deletion too.
            answer = await ai.NextAsync(TestContext);
        }

        Assert.AreEqual(InternalMessageType.ActivateObjectResp, answer.Type);
        var reply = DatabaseMessages.ReadReply(answer, Model);
        Assert.AreEqual((context, status), (reply.Context, reply.Status), reply.Reason);
        StringAssert.Contains(reply.Reason, reason);
        Assert.IsEmpty(reply.Values);
    }

    private static Envelope Activate(uint context, params (string Field, object? Value)[] values) => Activate(context, DoId.Empty, values);

    private static Envelope Activate(uint context, DoId parent, params (string Field, object? Value)[] values) =>
        DatabaseMessages.ActivateObject(context, Model, Stored, parent, 4, DoId.Empty, Ai, values.Select(v => (Model.GetField(v.Field), v.Value)).ToArray());

    /// <summary>The Database role's answer to <paramref name="get"/>.</summary>
    private static Envelope GetAllResp(Envelope get, DatabaseStatus status, params (string Field, object? Value)[] values) => GetAllResp(get, status, string.Empty, values);

    private static Envelope GetAllResp(Envelope get, DatabaseStatus status, string reason, params (string Field, object? Value)[] values)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt32(new WireReader(get.Payload.Span).ReadUInt32());
        writer.WriteByte((byte)status);
        writer.WriteString(reason);
        if (status == DatabaseStatus.Ok)
        {
            writer.WriteUInt16((ushort)values.Length);
            foreach (var (name, value) in values)
            {
                var field = Model.GetField(name);
                writer.WriteUInt16(field.WireId);
                field.Codec.WriteBoxed(writer, value);
            }
        }

        return new Envelope(InternalMessageType.DbGetAllResp, Channel.Database, get.Subject, writer.WrittenSpan.ToArray());
    }
}
