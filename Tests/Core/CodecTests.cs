using Pastry.Wire;

namespace Pastry.Tests.Core;

[TestClass]
public sealed class CodecTests
{
    private const string NonAscii = "Zoë 🍺 日本";

    private static readonly DoId SomeId = DoId.Parse("0190a4b2-7c1e-7d3a-8f00-123456789abc");
    private static readonly DoId MaxId = new(ulong.MaxValue, ulong.MaxValue);
    private static readonly DateTime MinUtc = DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc);
    private static readonly DateTime MaxUtc = DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc);
    private static readonly DateTime SomeUtc = new DateTime(2024, 2, 29, 12, 34, 56, DateTimeKind.Utc).AddTicks(7890123);

    /// <summary>One value of a field type.</summary>
    public sealed record CodecCase(string Name, object Value);

    /// <summary>Every field type, with its edge values and empty arrays.</summary>
    public static IEnumerable<TestDataRow<CodecCase>> Values =>
        new CodecCase[]
        {
            new("int 0", 0),
            new("int -1", -1),
            new("int min", int.MinValue),
            new("int max", int.MaxValue),
            new("long 0", 0L),
            new("long min", long.MinValue),
            new("long max", long.MaxValue),
            new("float 0", 0f),
            new("float -0", -0f),
            new("float 1.5", 1.5f),
            new("float NaN", float.NaN),
            new("float +inf", float.PositiveInfinity),
            new("float -inf", float.NegativeInfinity),
            new("float min", float.MinValue),
            new("float max", float.MaxValue),
            new("float epsilon", float.Epsilon),
            new("double 0", 0d),
            new("double -0", -0d),
            new("double pi", Math.PI),
            new("double NaN", double.NaN),
            new("double +inf", double.PositiveInfinity),
            new("double -inf", double.NegativeInfinity),
            new("double min", double.MinValue),
            new("double max", double.MaxValue),
            new("double epsilon", double.Epsilon),
            new("bool true", true),
            new("bool false", false),
            new("string empty", string.Empty),
            new("string ascii", "a"),
            new("string non-ascii", NonAscii),
            new("string 300 chars", new string('x', 300)),
            new("bytes empty", Array.Empty<byte>()),
            new("bytes edges", new byte[] { 0, 1, 127, 128, 255 }),
            new("bytes 200", Enumerable.Range(0, 200).Select(i => (byte)i).ToArray()),
            new("datetime min", MinUtc),
            new("datetime max", MaxUtc),
            new("datetime some", SomeUtc),
            new("doid empty", DoId.Empty),
            new("doid some", SomeId),
            new("doid max", MaxId),
            new("int[] empty", Array.Empty<int>()),
            new("int[] edges", new[] { int.MinValue, 0, int.MaxValue }),
            new("long[] empty", Array.Empty<long>()),
            new("long[] edges", new[] { long.MinValue, 0L, long.MaxValue }),
            new("float[] empty", Array.Empty<float>()),
            new("float[] edges", new[] { float.NaN, -0f, float.PositiveInfinity, float.NegativeInfinity, 1.5f }),
            new("double[] empty", Array.Empty<double>()),
            new("double[] edges", new[] { double.NaN, -0d, double.PositiveInfinity, double.NegativeInfinity, Math.E }),
            new("bool[] empty", Array.Empty<bool>()),
            new("bool[] some", new[] { true, false, true }),
            new("string[] empty", Array.Empty<string>()),
            new("string[] some", new[] { string.Empty, NonAscii, "x" }),
            new("bytes[] empty", Array.Empty<byte[]>()),
            new("bytes[] some", new[] { Array.Empty<byte>(), new byte[] { 1, 2, 255 } }),
            new("datetime[] empty", Array.Empty<DateTime>()),
            new("datetime[] edges", new[] { MinUtc, SomeUtc, MaxUtc }),
            new("doid[] empty", Array.Empty<DoId>()),
            new("doid[] some", new[] { DoId.Empty, SomeId, MaxId }),
        }.Select(c => new TestDataRow<CodecCase>(c) { DisplayName = c.Name });

    [TestMethod]
    public void Values_CoverEverySupportedType()
    {
        var covered = Values.Select(row => row.Value.Value.GetType()).ToHashSet();

        CollectionAssert.AreEquivalent(ValueCodecs.SupportedTypes.ToList(), covered.ToList());
    }

    [TestMethod]
    [DynamicData(nameof(Values))]
    public void Value_RoundTripsThroughItsCodec(CodecCase row)
    {
        Assert.IsTrue(ValueCodecs.TryGet(row.Value.GetType(), out var codec), row.Name);
        using var writer = new PooledBufferWriter();

        codec.WriteBoxed(writer, row.Value);
        var reader = new WireReader(writer.WrittenSpan);
        object? decoded = codec.ReadBoxed(ref reader);

        Assert.IsTrue(reader.IsAtEnd, $"{row.Name}: the decoder must consume exactly the encoded bytes");
        ValueAssert.AreIdentical(row.Value, decoded, row.Name);
        Assert.IsGreaterThanOrEqualTo(codec.MinEncodedSize, writer.WrittenCount, $"{row.Name}: MinEncodedSize must be a lower bound");
    }

    [TestMethod]
    [DynamicData(nameof(Values))]
    public void Value_RoundTripsThroughAFieldOfAModel(CodecCase row)
    {
        var source = new Strongbox();
        var field = source.Model.Fields.Single(f => f.ClrType == row.Value.GetType());
        field.SetBoxed(source, row.Value);
        using var writer = new PooledBufferWriter();

        field.Encode(source, writer);
        var target = new Strongbox();
        var reader = new WireReader(writer.WrittenSpan);
        field.DecodeAndApply(target, ref reader, ChangeOrigin.Remote, validate: true);

        Assert.IsTrue(reader.IsAtEnd, row.Name);
        ValueAssert.AreIdentical(row.Value, field.GetBoxed(target), row.Name);
        Assert.IsTrue(target.IsAssigned(field), row.Name);
    }

    [TestMethod]
    public void WireWriter_WritesLittleEndianFixedInts_AndTheReaderReadsThemBack()
    {
        using var writer = new PooledBufferWriter();
        writer.WriteByte(0xAB);
        writer.WriteUInt16(0x0102);
        writer.WriteInt32(0x01020304);
        writer.WriteUInt32(0xFFFFFFFE);
        writer.WriteInt64(-2);
        writer.WriteUInt64(0x0102030405060708);
        writer.WriteBool(true);

        CollectionAssert.AreEqual(
            new byte[]
            {
                0xAB, 0x02, 0x01, 0x04, 0x03, 0x02, 0x01, 0xFE, 0xFF, 0xFF, 0xFF,
                0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x01,
            },
            writer.WrittenSpan.ToArray());

        var reader = new WireReader(writer.WrittenSpan);
        Assert.AreEqual((byte)0xAB, reader.ReadByte());
        Assert.AreEqual((ushort)0x0102, reader.ReadUInt16());
        Assert.AreEqual(0x01020304, reader.ReadInt32());
        Assert.AreEqual(0xFFFFFFFEu, reader.ReadUInt32());
        Assert.AreEqual(-2L, reader.ReadInt64());
        Assert.AreEqual(0x0102030405060708UL, reader.ReadUInt64());
        Assert.IsTrue(reader.ReadBool());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    [DataRow(0u, new byte[] { 0x00 })]
    [DataRow(1u, new byte[] { 0x01 })]
    [DataRow(127u, new byte[] { 0x7F })]
    [DataRow(128u, new byte[] { 0x80, 0x01 })]
    [DataRow(300u, new byte[] { 0xAC, 0x02 })]
    [DataRow(16383u, new byte[] { 0xFF, 0x7F })]
    [DataRow(16384u, new byte[] { 0x80, 0x80, 0x01 })]
    [DataRow(uint.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    public void VarUInt32_IsLeb128_AndRoundTrips(uint value, byte[] encoded)
    {
        using var writer = new PooledBufferWriter();
        writer.WriteVarUInt32(value);

        CollectionAssert.AreEqual(encoded, writer.WrittenSpan.ToArray());
        var reader = new WireReader(encoded);
        Assert.AreEqual(value, reader.ReadVarUInt32());
        Assert.IsTrue(reader.IsAtEnd);
    }

    [TestMethod]
    public void String_IsAVarintByteLengthThenUtf8()
    {
        using var writer = new PooledBufferWriter();
        writer.WriteString("Zoë");
        writer.WriteString(null);
        writer.WriteString(string.Empty);

        CollectionAssert.AreEqual(new byte[] { 4, (byte)'Z', (byte)'o', 0xC3, 0xAB, 0, 0 }, writer.WrittenSpan.ToArray());
        var reader = new WireReader(writer.WrittenSpan);
        Assert.AreEqual("Zoë", reader.ReadString());
        Assert.AreEqual(string.Empty, reader.ReadString());
        Assert.AreEqual(string.Empty, reader.ReadString());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void Bytes_DoIdAndDateTime_RoundTripThroughTheWireWriterAndReader()
    {
        using var writer = new PooledBufferWriter();
        writer.WriteBytes(new byte[] { 9, 8, 7 });
        writer.WriteBytes(ReadOnlySpan<byte>.Empty);
        writer.WriteDoId(SomeId);
        writer.WriteDateTime(SomeUtc);
        writer.WriteSingle(-0f);
        writer.WriteDouble(double.NaN);

        var reader = new WireReader(writer.WrittenSpan);
        CollectionAssert.AreEqual(new byte[] { 9, 8, 7 }, reader.ReadBytes());
        Assert.AreEqual(0, reader.ReadBytesSpan().Length);
        Assert.AreEqual(SomeId, reader.ReadDoId());
        var when = reader.ReadDateTime();
        Assert.AreEqual(SomeUtc.Ticks, when.Ticks);
        Assert.AreEqual(DateTimeKind.Utc, when.Kind);
        Assert.AreEqual(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(reader.ReadSingle()));
        Assert.IsTrue(double.IsNaN(reader.ReadDouble()));
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void DoId_IsWrittenBigEndian_SoByteOrderIsCreationOrder()
    {
        using var writer = new PooledBufferWriter();
        writer.WriteDoId(new DoId(0x0102030405060708, 0x090A0B0C0D0E0F10));

        CollectionAssert.AreEqual(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray(), writer.WrittenSpan.ToArray());
    }

    [TestMethod]
    public void EnsureAtEnd_WithBytesLeft_ThrowsTrailingBytes()
    {
        var reader = new WireReader(new byte[] { 1, 2, 3 });
        reader.ReadByte();

        try
        {
            reader.EnsureAtEnd();
            Assert.Fail("EnsureAtEnd must throw when bytes are left.");
        }
        catch (WireFormatException ex)
        {
            Assert.AreEqual(WireError.TrailingBytes, ex.Error);
        }
    }

    [TestMethod]
    public void Set_LocalDateTime_IsConvertedToUtc()
    {
        var box = new Strongbox();
        var local = new DateTime(2024, 6, 1, 12, 0, 0, DateTimeKind.Local);

        box.DateTimeValue = local;

        Assert.AreEqual(DateTimeKind.Utc, box.DateTimeValue.Kind);
        Assert.AreEqual(local.ToUniversalTime().Ticks, box.DateTimeValue.Ticks);
    }

    [TestMethod]
    public void Set_LocalDateTimesInAnArray_AreConvertedToUtc()
    {
        var box = new Strongbox();
        var local = new DateTime(2024, 6, 1, 12, 0, 0, DateTimeKind.Local);

        box.DateTimeArray = new[] { SomeUtc, local };

        Assert.AreEqual(DateTimeKind.Utc, box.DateTimeArray[0].Kind);
        Assert.AreEqual(DateTimeKind.Utc, box.DateTimeArray[1].Kind, "Local elements are stored as UTC, whatever the machine's time zone.");
        Assert.AreEqual(local.ToUniversalTime().Ticks, box.DateTimeArray[1].Ticks);
    }

    [TestMethod]
    public void Set_UnspecifiedDateTime_Throws_AndLeavesValueUnchanged()
    {
        var box = new Strongbox { DateTimeValue = SomeUtc };

        var error = Assert.ThrowsExactly<ModelValidationException>(() => box.DateTimeValue = new DateTime(2024, 6, 1, 12, 0, 0, DateTimeKind.Unspecified));

        StringAssert.Contains(error.Errors[nameof(Strongbox.DateTimeValue)].Single(), "Unspecified");
        Assert.AreEqual(SomeUtc, box.DateTimeValue);
    }

    [TestMethod]
    public void Set_UnspecifiedDateTimeInAnArray_Throws_NamingTheElement_AndLeavesValueUnchanged()
    {
        var box = new Strongbox { DateTimeArray = new[] { SomeUtc } };

        var error = Assert.ThrowsExactly<ModelValidationException>(() => box.DateTimeArray = new[] { SomeUtc, new DateTime(2024, 6, 1) });

        StringAssert.StartsWith(error.Errors[nameof(Strongbox.DateTimeArray)].Single(), "Element 1:");
        CollectionAssert.AreEqual(new[] { SomeUtc }, box.DateTimeArray);
    }

    [TestMethod]
    public void Set_Null_StoresTheEmptyValue()
    {
        var box = new Strongbox
        {
            StringValue = null!,
            BytesValue = null!,
            Int32Array = null!,
            StringArray = new string[] { null!, "a" },
            BytesArray = new byte[][] { null! },
        };

        Assert.AreEqual(string.Empty, box.StringValue);
        Assert.IsEmpty(box.BytesValue);
        Assert.IsEmpty(box.Int32Array);
        CollectionAssert.AreEqual(new[] { string.Empty, "a" }, box.StringArray);
        Assert.IsEmpty(box.BytesArray.Single());
    }

    [TestMethod]
    public void ToString_PrintsBytesAsHex()
    {
        var box = new Strongbox { BytesValue = new byte[] { 0x0A, 0x1B, 0xFF } };

        StringAssert.Contains(box.ToString(), "BytesValue=0a1bff");
        Assert.AreEqual("0a1bff", box.Model.GetField("BytesValue").FormatBoxed(box.BytesValue));
    }

    [TestMethod]
    public void EncodingAndDecodingPrimitives_AllocatesNothing()
    {
        using var writer = new PooledBufferWriter(4096);
        var box = new Strongbox { Int32Value = 42, DoubleValue = 2.5, DoIdValue = SomeId, StringValue = NonAscii };
        long checksum = 0;
        for (int i = 0; i < 2_000; i++)
        {
            checksum += EncodeAndDecodePrimitives(writer, box, i);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            checksum += EncodeAndDecodePrimitives(writer, box, i);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.AreEqual(0L, allocated, "Encoding and decoding primitives must not allocate.");
        Assert.AreNotEqual(0L, checksum);
    }

    private static long EncodeAndDecodePrimitives(PooledBufferWriter writer, Strongbox box, int i)
    {
        writer.Reset();
        ValueCodecs.Get<int>().Write(writer, i);
        ValueCodecs.Get<long>().Write(writer, long.MaxValue - i);
        ValueCodecs.Get<float>().Write(writer, i * 0.5f);
        ValueCodecs.Get<double>().Write(writer, i * 0.25);
        ValueCodecs.Get<bool>().Write(writer, (i & 1) == 0);
        ValueCodecs.Get<DateTime>().Write(writer, SomeUtc);
        ValueCodecs.Get<DoId>().Write(writer, SomeId);
        ValueCodecs.Get<string>().Write(writer, NonAscii);
        writer.WriteVarUInt32((uint)i);
        box.Model.Fields[0].Encode(box, writer);
        box.Model.Fields[3].Encode(box, writer);
        box.Model.Fields[8].Encode(box, writer);
        int frame = writer.BeginFrame(MessageType.Heartbeat);
        writer.WriteUInt16(7);
        writer.EndFrame(frame);

        var reader = new WireReader(writer.WrittenSpan);
        long sum = ValueCodecs.Get<int>().Read(ref reader);
        sum += ValueCodecs.Get<long>().Read(ref reader);
        sum += (long)ValueCodecs.Get<float>().Read(ref reader);
        sum += (long)ValueCodecs.Get<double>().Read(ref reader);
        sum += ValueCodecs.Get<bool>().Read(ref reader) ? 1 : 0;
        sum += ValueCodecs.Get<DateTime>().Read(ref reader).Ticks;
        sum += (long)ValueCodecs.Get<DoId>().Read(ref reader).Low;
        sum += reader.ReadBytesSpan().Length;
        sum += reader.ReadVarUInt32();
        sum += reader.ReadInt32();
        sum += (long)reader.ReadDouble();
        sum += (long)reader.ReadDoId().High;
        sum += reader.ReadUInt32() + reader.ReadUInt16() + reader.ReadUInt16();
        reader.EnsureAtEnd();
        return sum;
    }
}
