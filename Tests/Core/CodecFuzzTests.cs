using System.Buffers;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// Hostile bytes must end in a <see cref="WireFormatException"/> and nothing else: no other exception type, no
/// out-of-range read, no allocation larger than the input. Seeded and bounded, so every run is the same and fast.
/// </summary>
[TestClass]
public sealed class CodecFuzzTests
{
    private const int Seed = 20240601;
    private const int Iterations = 400;
    private const long SmallAllocation = 64 * 1024;

    private static IEnumerable<ValueCodec> AllCodecs() =>
        ValueCodecs.SupportedTypes.Select(t => ValueCodecs.TryGet(t, out var codec) ? codec : throw new InvalidOperationException(t.Name));

    private static byte[] RandomBytes(Random random, int maxLength)
    {
        var bytes = new byte[random.Next(maxLength + 1)];
        random.NextBytes(bytes);

        // Small counts and lengths are where decoders take their interesting paths; bias the first byte towards them.
        if (bytes.Length > 0 && random.Next(2) == 0)
        {
            bytes[0] = (byte)random.Next(8);
        }

        return bytes;
    }

    private static void Fail(string what, byte[] input, Exception ex) =>
        Assert.Fail($"{what} on input {Hex.Format(input)} threw {ex.GetType().Name}: {ex.Message}");

    private static object? RandomValue(Type type, Random random)
    {
        object? Scalar(Type t) =>
            t == typeof(int) ? random.Next(int.MinValue, int.MaxValue)
            : t == typeof(long) ? random.NextInt64(long.MinValue, long.MaxValue)
            : t == typeof(float) ? (float)random.NextDouble()
            : t == typeof(double) ? random.NextDouble()
            : t == typeof(bool) ? random.Next(2) == 1
            : t == typeof(string) ? new string('é', random.Next(0, 40))
            : t == typeof(byte[]) ? RandomBytes(random, 40)
            : t == typeof(DateTime) ? new DateTime(random.NextInt64(DateTime.MaxValue.Ticks), DateTimeKind.Utc)
            : t == typeof(DoId) ? new DoId((ulong)random.NextInt64(), (ulong)random.NextInt64())
            : throw new InvalidOperationException(t.Name);

        if (type == typeof(byte[]) || !type.IsArray)
        {
            return Scalar(type);
        }

        var array = Array.CreateInstance(type.GetElementType()!, random.Next(1, 6));
        for (int i = 0; i < array.Length; i++)
        {
            array.SetValue(Scalar(type.GetElementType()!), i);
        }

        return array;
    }

    [TestMethod]
    public void EveryCodec_OnRandomBytes_ThrowsOnlyWireFormatException()
    {
        var random = new Random(Seed);
        foreach (var codec in AllCodecs())
        {
            for (int i = 0; i < Iterations; i++)
            {
                byte[] input = RandomBytes(random, 48);
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var reader = new WireReader(input);
                    codec.ReadBoxed(ref reader);
                    Assert.IsLessThanOrEqualTo(input.Length, reader.Position);
                }
                catch (WireFormatException)
                {
                }
                catch (Exception ex) when (ex is not AssertFailedException)
                {
                    Fail($"{codec.SchemaName} ReadBoxed", input, ex);
                }

                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.IsLessThan(SmallAllocation, allocated, $"{codec.SchemaName} allocated {allocated} bytes decoding {Hex.Format(input)}.");
            }
        }
    }

    [TestMethod]
    public void EveryCodec_OnATruncatedValidEncoding_ThrowsWireFormatException()
    {
        var random = new Random(Seed + 1);
        using var writer = new PooledBufferWriter();
        foreach (var codec in AllCodecs())
        {
            for (int i = 0; i < 20; i++)
            {
                writer.Reset();
                codec.WriteBoxed(writer, RandomValue(codec.ClrType, random));
                byte[] full = writer.WrittenSpan.ToArray();
                for (int length = 0; length < full.Length; length++)
                {
                    byte[] input = full.AsSpan(0, length).ToArray();
                    try
                    {
                        var reader = new WireReader(input);
                        codec.ReadBoxed(ref reader);
                        Assert.Fail($"{codec.SchemaName}: {length} of {full.Length} bytes ({Hex.Format(input)}) decoded as a whole value.");
                    }
                    catch (WireFormatException ex)
                    {
                        Assert.IsTrue(ex.Error is WireError.Truncated or WireError.LengthOutOfRange, $"{codec.SchemaName}: {ex.Error}");
                    }
                    catch (Exception ex) when (ex is not AssertFailedException)
                    {
                        Fail($"{codec.SchemaName} ReadBoxed (truncated)", input, ex);
                    }
                }
            }
        }
    }

    [TestMethod]
    public void WireReaderMethods_OnRandomBytes_ThrowOnlyWireFormatException()
    {
        var random = new Random(Seed + 2);
        for (int i = 0; i < Iterations * 4; i++)
        {
            byte[] input = RandomBytes(random, 24);
            int method = i % 19;
            try
            {
                var reader = new WireReader(input);
                _ = method switch
                {
                    0 => reader.ReadByte(),
                    1 => reader.ReadBool() ? 1 : 0,
                    2 => reader.ReadUInt16(),
                    3 => reader.ReadInt32(),
                    4 => reader.ReadUInt32(),
                    5 => reader.ReadInt64(),
                    6 => (object)reader.ReadUInt64(),
                    7 => reader.ReadSingle(),
                    8 => reader.ReadDouble(),
                    9 => reader.ReadDoId(),
                    10 => reader.ReadDateTime(),
                    11 => reader.ReadVarUInt32(),
                    12 => reader.ReadCount(random.Next(-1, 17)),
                    13 => reader.ReadString(),
                    14 => reader.ReadBytes(),
                    15 => reader.ReadBytesSpan().Length,
                    16 => reader.ReadRaw(random.Next(-2, 30)).Length,
                    17 => reader.ReadToEnd().Length,
                    _ => Ensure(reader),
                };
            }
            catch (WireFormatException)
            {
            }
            catch (Exception ex)
            {
                Fail($"WireReader method {method}", input, ex);
            }
        }

        static int Ensure(WireReader reader)
        {
            reader.EnsureAtEnd();
            return 0;
        }
    }

    [TestMethod]
    public void DecodeArguments_OnRandomBytes_ThrowsOnlyWireFormatException()
    {
        var random = new Random(Seed + 3);
        var methods = new[] { ModelInfo.For<Strongbox>().GetMethod("Stash"), ModelInfo.For<Goblin>().GetMethod("Taunt"), ModelInfo.For<Goblin>().GetMethod("Reward") };
        foreach (var method in methods)
        {
            for (int i = 0; i < Iterations; i++)
            {
                byte[] input = RandomBytes(random, 160);
                try
                {
                    var reader = new WireReader(input);
                    var arguments = method.DecodeArguments(ref reader);
                    Assert.HasCount(method.Parameters.Count, arguments);
                }
                catch (WireFormatException)
                {
                }
                catch (Exception ex) when (ex is not AssertFailedException)
                {
                    Fail($"{method} DecodeArguments", input, ex);
                }
            }
        }
    }

    [TestMethod]
    public void DecodeArguments_OfEncodedArguments_GivesThemBack()
    {
        var stash = ModelInfo.For<Strongbox>().GetMethod("Stash");
        var when = new DateTime(2024, 6, 1, 0, 0, 0, DateTimeKind.Utc);
        var id = DoId.NewId();
        object?[] arguments = { 3, 4L, 1.5f, 2.5, true, "Zoë 🍺 日本", new byte[] { 1, 2 }, when, id, new[] { "a", "b" }, new[] { id } };
        using var writer = new PooledBufferWriter();

        stash.EncodeArguments(writer, arguments);
        var reader = new WireReader(writer.WrittenSpan);
        var decoded = stash.DecodeArguments(ref reader);

        reader.EnsureAtEnd();
        for (int i = 0; i < arguments.Length; i++)
        {
            ValueAssert.AreIdentical(arguments[i], decoded[i], stash.Parameters[i].Name);
        }
    }

    [TestMethod]
    public void FrameTryRead_OnRandomBytes_NeverThrows()
    {
        var random = new Random(Seed + 4);
        for (int i = 0; i < Iterations * 4; i++)
        {
            byte[] input = RandomBytes(random, 40);
            if (input.Length >= 4 && random.Next(2) == 0)
            {
                input[1] = input[2] = input[3] = 0; // a plausible small length
            }

            int maxFrameSize = random.Next(3) switch { 0 => 16, 1 => Frame.DefaultMaxSize, _ => int.MaxValue };
            var buffer = new ReadOnlySequence<byte>(input);
            try
            {
                var status = Frame.TryRead(ref buffer, maxFrameSize, out _, out var payload, out uint declared);
                if (status == FrameStatus.Complete)
                {
                    Assert.AreEqual(declared - 2, (uint)payload.Length);
                    Assert.AreEqual(input.Length - 4 - declared, buffer.Length);
                }
                else
                {
                    Assert.AreEqual(input.Length, buffer.Length, "The buffer only moves past a complete frame.");
                }
            }
            catch (Exception ex) when (ex is not AssertFailedException)
            {
                Fail("Frame.TryRead", input, ex);
            }
        }
    }

    [TestMethod]
    public void HostileCount_LargerThanTheInput_ThrowsLengthOutOfRange_WithoutAllocatingIt()
    {
        // 2^31 as a varint, then a few bytes: far more elements than the input can hold.
        byte[] input = { 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3, 4, 5 };
        foreach (var codec in AllCodecs().Where(c => c.ClrType.IsArray))
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var error = ReadExpectingError(codec, input);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.AreEqual(WireError.LengthOutOfRange, error, codec.SchemaName);
            Assert.IsLessThan(SmallAllocation, allocated, $"{codec.SchemaName} allocated {allocated} bytes for a hostile count.");
        }
    }

    [TestMethod]
    [DataRow(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 1, 2, 3, 4, 5 }, DisplayName = "int.MaxValue")]
    [DataRow(new byte[] { 0x0B, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, DisplayName = "one more than is left")]
    [DataRow(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3, 4, 5 }, DisplayName = "2^31")]
    public void HostileCount_InAStringOrBytes_ThrowsLengthOutOfRange(byte[] input)
    {
        Assert.AreEqual(WireError.LengthOutOfRange, ReadExpectingError(ValueCodecs.Get<string>(), input));
        Assert.AreEqual(WireError.LengthOutOfRange, ReadExpectingError(ValueCodecs.Get<byte[]>(), input));
    }

    [TestMethod]
    public void ArrayCount_IsCheckedAgainstTheElementsSmallestEncoding()
    {
        // 3 DoIds need 48 bytes; 40 are left.
        byte[] input = new byte[41];
        input[0] = 3;

        Assert.AreEqual(WireError.LengthOutOfRange, ReadExpectingError(ValueCodecs.Get<DoId[]>(), input));
    }

    [TestMethod]
    [DataRow(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, DisplayName = "six bytes")]
    [DataRow(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x1F }, DisplayName = "more than 32 bits")]
    public void Varint_TooLong_ThrowsInvalidValue(byte[] input)
    {
        var error = Assert.ThrowsExactly<WireFormatException>(() =>
        {
            var reader = new WireReader(input);
            reader.ReadVarUInt32();
        });

        Assert.AreEqual(WireError.InvalidValue, error.Error);
    }

    [TestMethod]
    [DataRow(new byte[] { 2, 0xC3, 0x28 }, DisplayName = "bad continuation byte")]
    [DataRow(new byte[] { 2, 0xC0, 0x80 }, DisplayName = "overlong NUL")]
    [DataRow(new byte[] { 3, 0xED, 0xA0, 0x80 }, DisplayName = "encoded surrogate")]
    [DataRow(new byte[] { 1, 0xFF }, DisplayName = "0xFF")]
    [DataRow(new byte[] { 2, (byte)'a', 0xE6 }, DisplayName = "cut multi-byte sequence")]
    public void String_WithInvalidUtf8_ThrowsInvalidUtf8(byte[] input)
    {
        Assert.AreEqual(WireError.InvalidUtf8, ReadExpectingError(ValueCodecs.Get<string>(), input));
        Assert.AreEqual(WireError.InvalidUtf8, ReadExpectingError(ValueCodecs.Get<string[]>(), new byte[] { 1 }.Concat(input).ToArray()));
    }

    [TestMethod]
    public void Bool_OtherThanZeroOrOne_ThrowsInvalidValue()
    {
        Assert.AreEqual(WireError.InvalidValue, ReadExpectingError(ValueCodecs.Get<bool>(), new byte[] { 2 }));
    }

    [TestMethod]
    public void DateTime_WithTicksOutOfRange_ThrowsInvalidValue()
    {
        Assert.AreEqual(WireError.InvalidValue, ReadExpectingError(ValueCodecs.Get<DateTime>(), BitConverter.GetBytes(-1L)));
        Assert.AreEqual(WireError.InvalidValue, ReadExpectingError(ValueCodecs.Get<DateTime>(), BitConverter.GetBytes(DateTime.MaxValue.Ticks + 1)));
    }

    private static WireError ReadExpectingError(ValueCodec codec, byte[] input)
    {
        try
        {
            var reader = new WireReader(input);
            codec.ReadBoxed(ref reader);
        }
        catch (WireFormatException ex)
        {
            return ex.Error;
        }

        Assert.Fail($"{codec.SchemaName} decoded {Hex.Format(input)} without an error.");
        return 0;
    }
}
