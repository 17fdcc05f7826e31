using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The codec rules that round-trip tests cannot see: each type's schema name (what a schema lock file stores), a null
/// written as the type's default, how values print in logs, how arrays and byte blocks compare, when normalising an
/// array copies it, an empty write that must not grow a buffer, and a partial frame not counted as a frame.
/// </summary>
[TestClass]
public sealed class WireCodecEdgeTests
{
    [TestMethod]
    [DataRow(typeof(int), "int32")]
    [DataRow(typeof(long), "int64")]
    [DataRow(typeof(float), "float32")]
    [DataRow(typeof(double), "float64")]
    [DataRow(typeof(bool), "bool")]
    [DataRow(typeof(string), "string")]
    [DataRow(typeof(byte[]), "bytes")]
    [DataRow(typeof(DateTime), "datetime")]
    [DataRow(typeof(DoId), "doid")]
    [DataRow(typeof(long[]), "int64[]")]
    [DataRow(typeof(byte[][]), "bytes[]")]
    [DataRow(typeof(DoId[]), "doid[]")]
    public void EachType_HasTheSchemaNameThatLockFilesStore(Type type, string name)
    {
        Assert.IsTrue(ValueCodecs.TryGet(type, out var codec));
        Assert.AreEqual(name, codec.SchemaName);
    }

    [TestMethod]
    public void AnUnsupportedType_IsRefusedWithTheListOfSupportedOnes()
    {
        var refused = Assert.ThrowsExactly<NotSupportedException>(() => ValueCodecs.Get<decimal>());
        Assert.AreEqual($"Type System.Decimal is not a field type. Supported: {ValueCodecs.SupportedTypeList}.", refused.Message);
    }

    [TestMethod]
    public void ANullBoxedValue_IsWrittenAsTheTypesDefault()
    {
        Assert.AreEqual("00000000", Written(typeof(int), null));
        Assert.AreEqual("00", Written(typeof(bool), null), "false");
        Assert.AreEqual("00", Written(typeof(string), null), "an empty string");
        Assert.AreEqual("00", Written(typeof(bool[]), null), "an empty array");
        Assert.AreEqual("01", Written(typeof(bool), true));
        Assert.IsFalse(ValueCodecs.Get<bool>().Default);
        Assert.AreEqual(false, ValueCodecs.Get<bool>().DefaultBoxed);
    }

    [TestMethod]
    public void Values_PrintForLogs_InvariantAndExact()
    {
        Assert.AreEqual("-42", ValueCodecs.Get<int>().Format(-42));
        Assert.AreEqual("-9000000000", ValueCodecs.Get<long>().Format(-9_000_000_000));
        Assert.AreEqual("0.1", ValueCodecs.Get<float>().Format(0.1f));
        Assert.AreEqual("1.5E-07", ValueCodecs.Get<double>().Format(1.5e-7));
        Assert.AreEqual("2026-01-02T03:04:05.1234567Z", ValueCodecs.Get<DateTime>().Format(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1_234_567)));
        Assert.AreEqual("00ff10ab", ValueCodecs.Get<byte[]>().Format([0x00, 0xFF, 0x10, 0xAB]));
        Assert.AreEqual("\"a b\"", ValueCodecs.Get<string>().Format("a b"));
    }

    [TestMethod]
    public void ByteBlocks_CompareByContent()
    {
        var codec = ValueCodecs.Get<byte[]>();
        byte[] block = [1, 2];
        Assert.IsTrue(codec.ValueEquals(block, block));
        Assert.IsTrue(codec.ValueEquals([1, 2], [1, 2]), "two arrays, the same bytes");
        Assert.IsFalse(codec.ValueEquals([1, 2], [1, 3]));
        Assert.IsFalse(codec.ValueEquals([1, 2], [1, 2, 0]));
    }

    [TestMethod]
    public void Arrays_CompareByLengthAndEachElement()
    {
        var codec = ValueCodecs.Get<int[]>();
        int[] same = [1, 2, 3];
        Assert.IsTrue(codec.ValueEquals(same, same));
        Assert.IsTrue(codec.ValueEquals([1, 2, 3], [1, 2, 3]));
        Assert.IsTrue(codec.ValueEquals([], []));
        Assert.IsFalse(codec.ValueEquals([1, 2, 3], [1, 2]));
        Assert.IsFalse(codec.ValueEquals([1, 2, 3], [1, 2, 4]), "the last element differs");
        Assert.IsFalse(codec.ValueEquals([0, 2, 3], [1, 2, 3]), "the first element differs");
        Assert.IsTrue(ValueCodecs.Get<byte[][]>().ValueEquals([[1], [2, 3]], [[1], [2, 3]]), "elements compare with their own codec (by content)");
    }

    [TestMethod]
    public void AnEmptyArray_IsReadAsTheSharedEmptyArray()
    {
        var reader = new WireReader([0]);
        Assert.AreSame(Array.Empty<int>(), ValueCodecs.Get<int[]>().Read(ref reader), "reading an empty array allocates nothing");
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void NormalisingAnArray_KeepsItWhenNothingChanges_AndCopiesItOnceWhenSomethingDoes()
    {
        var codec = ValueCodecs.Get<string[]>();
        string[] clean = ["a", "b"];
        var value = clean;
        Assert.IsNull(codec.Normalize(ref value));
        Assert.AreSame(clean, value, "nothing to change, no copy");

        string[] withNulls = [null!, "b", null!];
        value = withNulls;
        Assert.IsNull(codec.Normalize(ref value));
        CollectionAssert.AreEqual(new[] { string.Empty, "b", string.Empty }, value, "every null element becomes empty, in one copy");
        Assert.IsNull(withNulls[0], "the caller's array is not changed");
    }

    [TestMethod]
    public void WritingNothing_DoesNotGrowAFullBuffer()
    {
        using var writer = new PooledBufferWriter(16);
        int capacity = writer.Capacity;
        writer.WriteRaw(new byte[capacity]);

        writer.WriteRaw(ReadOnlySpan<byte>.Empty);

        Assert.AreEqual(capacity, writer.Capacity);
        Assert.AreEqual(capacity, writer.WrittenCount);
    }

    [TestMethod]
    public void CountWhole_StopsAtAPartialLastFrame()
    {
        byte[] frames = [2, 0, 0, 0, 9, 9, 3, 0, 0, 0, 9, 9, 9, 5, 0, 0, 0, 1];
        Assert.AreEqual(2, Frame.CountWhole(frames));
        Assert.AreEqual(2, Frame.CountWhole(frames.AsSpan(0, 15)), "a length field cut short");
        Assert.AreEqual(1, Frame.CountWhole(frames.AsSpan(0, 12)));
    }

    private static string Written(Type type, object? value)
    {
        Assert.IsTrue(ValueCodecs.TryGet(type, out var codec));
        using var writer = new PooledBufferWriter();
        codec.WriteBoxed(writer, value);
        return Hex.Format(writer.WrittenSpan);
    }
}
