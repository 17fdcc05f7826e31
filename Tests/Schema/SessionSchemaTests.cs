using Pastry.Otp.ClientAgent;
using Pastry.Wire;

namespace Pastry.Tests.Schema;

/// <summary>How the Client Agent rewrites object frames for a client on an earlier compatible schema.</summary>
[TestClass]
public sealed class SessionSchemaTests
{
    private const string Old = """
        public sealed class Runner : DistributedObject<Runner>
        {
            [Ram, Broadcast, ClSend] public float Speed { get => Get<float>(); set => Set(value); }
            [Ram, Broadcast] public int Laps { get => Get<int>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Cheer(string who) { }
        }
        """;

    private const string New = """
        public sealed class Runner : DistributedObject<Runner>
        {
            [Ram, Broadcast] public string Team { get => Get<string>(); set => Set(value); }
            [Ram, Broadcast, ClSend] public double Speed { get => Get<double>(); set => Set(value); }
            [Ram, Broadcast] public long Laps { get => Get<long>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Cheer(string who, int times = 1) { }
        }
        """;

    private static (SessionSchema View, ModelInfo Model) Build()
    {
        var oldLock = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(Old)), previous: null);
        var newLock = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(New)), oldLock);
        var registry = ModelRegistry.FromAssemblies(ModelAssembly.Load(New, newLock.ToJson()));
        Assert.IsFalse(SchemaCompatibility.Compare(oldLock, newLock).Any(c => c.IsBreaking));
        registry.TryGetModel("Runner", out var model);
        return (SessionSchema.For(newLock.History.Single(), registry), model);
    }

    [TestMethod]
    public void SetFields_DropsFieldsTheClientDoesNotKnow_AndSendsWidenedOnesInTheOldType()
    {
        var (view, model) = Build();
        var id = DoId.NewId();
        var frame = new PooledBufferWriter();
        int start = frame.BeginFrame(MessageType.SetFields);
        frame.WriteDoId(id);
        frame.WriteUInt16(3);
        frame.WriteUInt16(model.GetField("Team").WireId);
        model.GetField("Team").Codec.WriteBoxed(frame, "red");
        frame.WriteUInt16(model.GetField("Speed").WireId);
        frame.WriteDouble(2.5);
        frame.WriteUInt16(model.GetField("Laps").WireId);
        frame.WriteInt64(5_000_000_000);
        frame.EndFrame(start);

        var into = new PooledBufferWriter();
        Assert.IsTrue(view.Rewrite(frame.WrittenSpan, model, into));
        var reader = new WireReader(into.WrittenSpan.Slice(Frame.HeaderSize));
        Assert.AreEqual(id, reader.ReadDoId());
        Assert.AreEqual(1, reader.ReadUInt16(), "Team is unknown to the old client, and 5e9 laps do not fit its int.");
        Assert.AreEqual(model.GetField("Speed").WireId, reader.ReadUInt16());
        Assert.AreEqual(2.5f, reader.ReadSingle());
        Assert.IsTrue(reader.IsAtEnd);
    }

    [TestMethod]
    public void ASetOfOnlyUnknownFields_IsNotSentAtAll_AndACallLosesTheArgumentsAddedSince()
    {
        var (view, model) = Build();
        var id = DoId.NewId();
        var set = new PooledBufferWriter();
        int start = set.BeginFrame(MessageType.SetField);
        set.WriteDoId(id);
        set.WriteUInt16(model.GetField("Team").WireId);
        model.GetField("Team").Codec.WriteBoxed(set, "red");
        set.EndFrame(start);
        var into = new PooledBufferWriter();
        Assert.IsFalse(view.Rewrite(set.WrittenSpan, model, into));
        Assert.AreEqual(0, into.WrittenCount);

        var call = new PooledBufferWriter();
        ClientFrames.WriteCallMethod(call, id, model.GetMethod("Cheer"), new object?[] { "ann", 3 });
        Assert.IsTrue(view.Rewrite(call.WrittenSpan, model, into));
        var reader = new WireReader(into.WrittenSpan.Slice(Frame.HeaderSize));
        reader.ReadDoId();
        Assert.AreEqual(model.GetMethod("Cheer").WireId, reader.ReadUInt16());
        Assert.AreEqual("ann", reader.ReadString());
        Assert.IsTrue(reader.IsAtEnd, "times was added after this client was built.");
    }

    [TestMethod]
    public void AWidenedFieldTheOldClientSends_IsReadInTheOldType_AndEncodedInTheNew()
    {
        var (view, model) = Build();
        var speed = model.GetField("Speed");
        var codec = view.OldCodecOf(model, speed.WireId);
        Assert.IsNotNull(codec);
        Assert.IsNull(view.OldCodecOf(model, model.GetField("Team").WireId));
        var sent = new PooledBufferWriter();
        sent.WriteSingle(1.5f);
        var reader = new WireReader(sent.WrittenSpan);
        var widened = new WireReader(SessionSchema.Widen(ref reader, codec, speed));
        Assert.AreEqual(1.5, widened.ReadDouble());
    }
}
