using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// Every message the State Server reads to its end is refused whole when bytes follow what it reads: a sender built
/// from other models, or a forged one, is told "malformed" instead of having half of its message taken. One row per
/// handler, each a valid message with one byte more (a Stryker run found that no test checked these ends).
/// </summary>
[TestClass]
public sealed class StateServerTrailingBytesTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Waymark) });
    private static readonly ModelInfo Model = Registry.GetModel<Waymark>();
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly Channel Other = Channel.ForParticipant(new DoId(0, 0xA2));

    private StateServerRig rig = null!;
    private StateServerTests.Recorder ai = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start()
    {
        rig = new StateServerRig(TestContext, Registry);
        ai = rig.Listen(Ai);
    }

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    [DataRow("CreateObject")]
    [DataRow("SetField")]
    [DataRow("SetFields")]
    [DataRow("CallMethod")]
    [DataRow("SetLocation")]
    [DataRow("SetOwner")]
    [DataRow("HandOverObject")]
    [DataRow("ServeDistricts")]
    [DataRow("ParkAiObjects")]
    [DataRow("ClaimAiObjects")]
    [DataRow("TakeOverAi")]
    [DataRow("AiHandedOver")]
    [DataRow("TakenOverAiStarted")]
    public async Task AMessageWithAByteAfterItsEnd_IsRefusedAsMalformed(string kind)
    {
        var mark = new Waymark { Text = "north", A = 1 };
        await rig.CreateAsync(mark, DoId.Empty, 1, Ai);
        var valid = Build(kind, mark);

        rig.Send(new Envelope(valid.Type, valid.Sender, valid.Subject, valid.Payload.ToArray().Append((byte)7).ToArray()));

        var error = await ai.NextAsync(TestContext);
        while (error.Type != InternalMessageType.Error)
        {
            error = await ai.NextAsync(TestContext);
        }

        string text = new WireReader(error.Payload.Span).ReadString();
        StringAssert.StartsWith(text, $"malformed {valid.Type}: ");
    }

    [TestMethod]
    public async Task AZoneQueryWithAByteAfterItsEnd_IsRefusedAsMalformed()
    {
        var session = Channel.ForSession(new DoId(0, 0x5E5));
        var asker = rig.Listen(session);
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(9);
        writer.WriteDoId(DoId.Empty);
        writer.WriteVarUInt32(1);
        writer.WriteUInt32(1);
        writer.WriteByte(0); // the optional "must be public" flag
        writer.WriteByte(7);

        rig.Send(new Envelope(InternalMessageType.QueryZones, session, DoId.Empty, writer.WrittenSpan.ToArray()));

        var error = await asker.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        StringAssert.StartsWith(new WireReader(error.Payload.Span).ReadString(), "malformed QueryZones: ");
    }

    private static Envelope Build(string kind, Waymark mark)
    {
        switch (kind)
        {
            case "CreateObject":
                // A create may end with the stored flag; one byte more than that is too many.
                var create = InternalMessages.CreateObject(new Waymark { Text = "south" }, DoId.Empty, 1, DoId.Empty, Ai);
                return new Envelope(create.Type, create.Sender, create.Subject, create.Payload.ToArray().Append((byte)0).ToArray());
            case "SetField":
                return InternalMessages.SetField(mark, Model.GetField("A"), Ai);
            case "SetFields":
                using (var writer = new PooledBufferWriter(16))
                {
                    writer.WriteUInt16(1);
                    writer.WriteUInt16(Model.GetField("B").WireId);
                    writer.WriteInt32(2);
                    return new Envelope(InternalMessageType.SetFields, Ai, mark.DoId, writer.WrittenSpan.ToArray());
                }

            case "CallMethod":
                return InternalMessages.CallMethod(mark.DoId, Model.Methods.Single(m => m.Name == "Poke"), [], Ai);
            case "SetLocation":
                return InternalMessages.SetLocation(mark.DoId, DoId.Empty, 2, Ai);
            case "SetOwner":
                return InternalMessages.SetOwner(mark.DoId, new DoId(0, 0xACC), Ai);
            case "HandOverObject":
                return InternalMessages.HandOverObject(mark.DoId, Other, Ai);
            case "ServeDistricts":
                return InternalMessages.ServeDistricts(Ai, [(DoId.Empty, 10u, 20u)]);
            case "ParkAiObjects":
                return InternalMessages.ParkAiObjects(Ai, "trailing");
            case "ClaimAiObjects":
                return InternalMessages.ClaimAiObjects(1, "trailing", Ai, "key");
            case "TakeOverAi":
                return InternalMessages.TakeOverAi(1, "trailing", "key", Ai);
            case "AiHandedOver":
                return InternalMessages.AiNotice(InternalMessageType.AiHandedOver, Ai);
            case "TakenOverAiStarted":
                return InternalMessages.AiNotice(InternalMessageType.TakenOverAiStarted, Ai);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }
}
