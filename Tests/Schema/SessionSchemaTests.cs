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
            [Ram, Broadcast] public int[] Marks { get => Get<int[]>(); set => Set(value); }
            [Ram, Broadcast] public float[] Splits { get => Get<float[]>(); set => Set(value); }
        }
        """;

    private const string New = """
        public sealed class Runner : DistributedObject<Runner>
        {
            [Ram, Broadcast] public string Team { get => Get<string>(); set => Set(value); }
            [Ram, Broadcast, ClSend] public double Speed { get => Get<double>(); set => Set(value); }
            [Ram, Broadcast] public long Laps { get => Get<long>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Cheer(string who, int times = 1) { }
            [Ram, Broadcast] public long[] Marks { get => Get<long[]>(); set => Set(value); }
            [Ram, Broadcast] public double[] Splits { get => Get<double[]>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave() { }
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
    public void AnEarlierVersion_WithAClassThatHasNoRpcs_OrNoFields_IsServed()
    {
        // A class with no [Distributed] method (or no field) is common; its view must build, or the Client Agent would
        // fail to start once a compatible change is locked.
        const string models = """
            public sealed class Flag : DistributedObject<Flag>
            {
                [Ram, Broadcast] public bool Raised { get => Get<bool>(); set => Set(value); }
            }

            public sealed class Marker : DistributedObject<Marker>
            {
                [Distributed, Broadcast] public void Ping() { }
            }
            """;
        const string later = models + """

            public sealed class Pennant : DistributedObject<Pennant>
            {
                [Ram, Broadcast] public string Colour { get => Get<string>(); set => Set(value); }
            }
            """;
        var oldLock = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(models)), previous: null);
        var newLock = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(later)), oldLock);
        var registry = ModelRegistry.FromAssemblies(ModelAssembly.Load(later, newLock.ToJson()));

        ModelInfo Model(string name) => registry.TryGetModel(name, out var model) ? model : throw new AssertFailedException($"no model {name}");

        var view = SessionSchema.For(newLock.History.Single(), registry);

        Assert.IsTrue(view.Knows(Model("Flag")));
        Assert.IsTrue(view.Knows(Model("Marker")));
        Assert.IsFalse(view.Knows(Model("Pennant")), "added after the client was built");
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

    [TestMethod]
    public void WidenedArrays_ReachAnOldClientInTheirOldTypes_AndAnArrayThatDoesNotFitIsNotSent()
    {
        var (view, model) = Build();
        var marks = model.GetField("Marks");
        var splits = model.GetField("Splits");

        var fits = Rewritten(view, model, (marks, new long[] { int.MinValue, 0, int.MaxValue }), (splits, new[] { 1.5, -2.25 }));
        Assert.AreEqual(2, fits.ReadUInt16());
        Assert.AreEqual(marks.WireId, fits.ReadUInt16());
        CollectionAssert.AreEqual(new[] { int.MinValue, 0, int.MaxValue }, (int[])view.OldCodecOf(model, marks.WireId)!.ReadBoxed(ref fits)!);
        Assert.AreEqual(splits.WireId, fits.ReadUInt16());
        CollectionAssert.AreEqual(new[] { 1.5f, -2.25f }, (float[])view.OldCodecOf(model, splits.WireId)!.ReadBoxed(ref fits)!);
        Assert.IsTrue(fits.IsAtEnd);

        foreach (long outside in new[] { (long)int.MaxValue + 1, (long)int.MinValue - 1 })
        {
            var dropped = Rewritten(view, model, (marks, new[] { 1, outside }), (splits, new[] { 0.5 }));
            Assert.AreEqual(1, dropped.ReadUInt16(), $"{outside} does not fit the old int32[], so Marks is left out.");
            Assert.AreEqual(splits.WireId, dropped.ReadUInt16());
        }
    }

    [TestMethod]
    public void ACallOfAMethodAddedSince_IsNotSent_AndAFrameThatNamesNoMember_PassesAsItIs()
    {
        var (view, model) = Build();
        var id = DoId.NewId();
        var into = new PooledBufferWriter();
        var call = new PooledBufferWriter();
        ClientFrames.WriteCallMethod(call, id, model.GetMethod("Wave"), Array.Empty<object?>());
        Assert.IsFalse(view.Rewrite(call.WrittenSpan, model, into));
        Assert.AreEqual(0, into.WrittenCount);

        var leave = new PooledBufferWriter();
        ClientFrames.WriteLeaveObject(leave, id, LeaveReason.Disabled);
        Assert.IsTrue(view.Rewrite(leave.WrittenSpan, model, into));
        CollectionAssert.AreEqual(leave.WrittenSpan.ToArray(), into.WrittenSpan.ToArray());
    }

    /// <summary>Rewrites a SetFields of <paramref name="values"/> for the old client; returns a reader at its count.</summary>
    private static WireReader Rewritten(SessionSchema view, ModelInfo model, params (FieldDescriptor Field, object Value)[] values)
    {
        var frame = new PooledBufferWriter();
        int start = frame.BeginFrame(MessageType.SetFields);
        frame.WriteDoId(DoId.NewId());
        frame.WriteUInt16((ushort)values.Length);
        foreach (var (field, value) in values)
        {
            frame.WriteUInt16(field.WireId);
            field.Codec.WriteBoxed(frame, value);
        }

        frame.EndFrame(start);
        var into = new PooledBufferWriter();
        Assert.IsTrue(view.Rewrite(frame.WrittenSpan, model, into));
        var reader = new WireReader(into.WrittenSpan.Slice(Frame.HeaderSize).ToArray());
        reader.ReadDoId();
        return reader;
    }
}
