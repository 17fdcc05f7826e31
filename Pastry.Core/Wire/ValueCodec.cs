using System.Buffers;
using System.Globalization;
using System.Text;

namespace Pastry.Wire;

/// <summary>
/// Encodes, decodes, compares and prints the values of one field type. One instance exists per supported type;
/// see <see cref="ValueCodecs"/> for the list.
/// </summary>
internal abstract class ValueCodec
{
    /// <summary>The CLR type of the values.</summary>
    public abstract Type ClrType { get; }

    /// <summary>The type's name in the schema (for example <c>int32</c> or <c>string[]</c>).</summary>
    public abstract string SchemaName { get; }

    /// <summary>The fewest bytes one encoded value can take, used to bound hostile array counts.</summary>
    public abstract int MinEncodedSize { get; }

    /// <summary>Decodes one value and returns it boxed (for tools, tests and validators that need an object).</summary>
    public abstract object? ReadBoxed(ref WireReader reader);

    /// <summary>Encodes one boxed value.</summary>
    public abstract void WriteBoxed(IBufferWriter<byte> writer, object? value);

    /// <summary>Skips one encoded value, checking it as it goes.</summary>
    public virtual void Skip(ref WireReader reader) => ReadBoxed(ref reader);

    /// <summary>Prints a boxed value for logs (byte arrays as hex).</summary>
    public abstract string FormatBoxed(object? value);

    /// <summary>The default value, boxed.</summary>
    public abstract object? DefaultBoxed { get; }
}

/// <summary>The typed codec of one field type. Encoding and decoding of primitives neither boxes nor allocates.</summary>
/// <typeparam name="T">The CLR type.</typeparam>
internal abstract class ValueCodec<T> : ValueCodec
{
    /// <inheritdoc />
    public override Type ClrType => typeof(T);

    /// <summary>The value an unassigned field holds. Strings, bytes and arrays default to empty, never null.</summary>
    public abstract T Default { get; }

    /// <inheritdoc />
    public override object? DefaultBoxed => Default;

    /// <summary>Encodes one value.</summary>
    public abstract void Write(IBufferWriter<byte> writer, T value);

    /// <summary>Decodes one value; hostile bytes throw <see cref="WireFormatException"/>.</summary>
    public abstract T Read(ref WireReader reader);

    /// <summary>Whether two values are the same (arrays compare by content).</summary>
    public virtual bool ValueEquals(T left, T right) => EqualityComparer<T>.Default.Equals(left, right);

    /// <summary>
    /// Brings a value into the form the type stores: null strings, bytes and arrays become empty, and local
    /// DateTimes become UTC. Returns an error message when the value cannot be stored.
    /// </summary>
    public virtual string? Normalize(ref T value) => null;

    /// <summary>Prints a value for logs and schema dumps.</summary>
    public virtual string Format(T value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;

    /// <inheritdoc />
    public override object? ReadBoxed(ref WireReader reader) => Read(ref reader);

    /// <inheritdoc />
    public override void WriteBoxed(IBufferWriter<byte> writer, object? value) => Write(writer, value is null ? Default : (T)value);

    /// <inheritdoc />
    public override string FormatBoxed(object? value) => value is null ? "null" : Format((T)value);
}

/// <summary>The codecs of every supported field type, and lookup by CLR type.</summary>
internal static class ValueCodecs
{
    private static readonly Dictionary<Type, ValueCodec> ByType = new();

    static ValueCodecs()
    {
        Add(Int32Codec.Instance);
        Add(Int64Codec.Instance);
        Add(SingleCodec.Instance);
        Add(DoubleCodec.Instance);
        Add(BoolCodec.Instance);
        Add(StringCodec.Instance);
        Add(BytesCodec.Instance);
        Add(DateTimeCodec.Instance);
        Add(DoIdCodec.Instance);
        Add(new ArrayCodec<int>(Int32Codec.Instance));
        Add(new ArrayCodec<long>(Int64Codec.Instance));
        Add(new ArrayCodec<float>(SingleCodec.Instance));
        Add(new ArrayCodec<double>(DoubleCodec.Instance));
        Add(new ArrayCodec<bool>(BoolCodec.Instance));
        Add(new ArrayCodec<string>(StringCodec.Instance));
        Add(new ArrayCodec<byte[]>(BytesCodec.Instance));
        Add(new ArrayCodec<DateTime>(DateTimeCodec.Instance));
        Add(new ArrayCodec<DoId>(DoIdCodec.Instance));
    }

    /// <summary>Every supported CLR type, in a fixed order.</summary>
    public static IReadOnlyCollection<Type> SupportedTypes => ByType.Keys;

    /// <summary>A readable list of the supported types, for error messages.</summary>
    public static string SupportedTypeList => DeclarationMessages.SupportedTypeList;

    /// <summary>Finds the codec for <paramref name="type"/>.</summary>
    public static bool TryGet(Type type, out ValueCodec codec) => ByType.TryGetValue(type, out codec!);

    /// <summary>The typed codec for <typeparamref name="T"/>; throws when the type is not supported.</summary>
    public static ValueCodec<T> Get<T>() =>
        TryGet(typeof(T), out var codec)
            ? (ValueCodec<T>)codec
            : throw new NotSupportedException($"Type {typeof(T)} is not a field type. Supported: {SupportedTypeList}.");

    private static void Add(ValueCodec codec) => ByType.Add(codec.ClrType, codec);
}

internal sealed class Int32Codec : ValueCodec<int>
{
    public static readonly Int32Codec Instance = new();

    public override string SchemaName => "int32";

    public override int MinEncodedSize => 4;

    public override int Default => 0;

    public override void Write(IBufferWriter<byte> writer, int value) => writer.WriteInt32(value);

    public override int Read(ref WireReader reader) => reader.ReadInt32();
}

internal sealed class Int64Codec : ValueCodec<long>
{
    public static readonly Int64Codec Instance = new();

    public override string SchemaName => "int64";

    public override int MinEncodedSize => 8;

    public override long Default => 0;

    public override void Write(IBufferWriter<byte> writer, long value) => writer.WriteInt64(value);

    public override long Read(ref WireReader reader) => reader.ReadInt64();
}

internal sealed class SingleCodec : ValueCodec<float>
{
    public static readonly SingleCodec Instance = new();

    public override string SchemaName => "float32";

    public override int MinEncodedSize => 4;

    public override float Default => 0;

    public override void Write(IBufferWriter<byte> writer, float value) => writer.WriteSingle(value);

    public override float Read(ref WireReader reader) => reader.ReadSingle();

    public override bool ValueEquals(float left, float right) => left.Equals(right);

    public override string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}

internal sealed class DoubleCodec : ValueCodec<double>
{
    public static readonly DoubleCodec Instance = new();

    public override string SchemaName => "float64";

    public override int MinEncodedSize => 8;

    public override double Default => 0;

    public override void Write(IBufferWriter<byte> writer, double value) => writer.WriteDouble(value);

    public override double Read(ref WireReader reader) => reader.ReadDouble();

    public override bool ValueEquals(double left, double right) => left.Equals(right);

    public override string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

internal sealed class BoolCodec : ValueCodec<bool>
{
    public static readonly BoolCodec Instance = new();

    public override string SchemaName => "bool";

    public override int MinEncodedSize => 1;

    public override bool Default => false;

    public override void Write(IBufferWriter<byte> writer, bool value) => writer.WriteBool(value);

    public override bool Read(ref WireReader reader) => reader.ReadBool();

    public override string Format(bool value) => value ? "true" : "false";
}

internal sealed class StringCodec : ValueCodec<string>
{
    public static readonly StringCodec Instance = new();

    public override string SchemaName => "string";

    public override int MinEncodedSize => 1;

    public override string Default => string.Empty;

    public override void Write(IBufferWriter<byte> writer, string value) => writer.WriteString(value);

    public override string Read(ref WireReader reader) => reader.ReadString();

    public override bool ValueEquals(string left, string right) => string.Equals(left, right, StringComparison.Ordinal);

    public override string? Normalize(ref string value)
    {
        value ??= string.Empty;
        return null;
    }

    public override string Format(string value) => "\"" + value + "\"";
}

internal sealed class BytesCodec : ValueCodec<byte[]>
{
    public static readonly BytesCodec Instance = new();

    public override string SchemaName => "bytes";

    public override int MinEncodedSize => 1;

    public override byte[] Default => Array.Empty<byte>();

    public override void Write(IBufferWriter<byte> writer, byte[] value) => writer.WriteBytes(value);

    public override byte[] Read(ref WireReader reader) => reader.ReadBytes();

    public override bool ValueEquals(byte[] left, byte[] right) => ReferenceEquals(left, right) || left.AsSpan().SequenceEqual(right);

    public override string? Normalize(ref byte[] value)
    {
        value ??= Array.Empty<byte>();
        return null;
    }

    public override string Format(byte[] value) => Hex.Format(value);
}

internal sealed class DateTimeCodec : ValueCodec<DateTime>
{
    public static readonly DateTimeCodec Instance = new();

    public override string SchemaName => "datetime";

    public override int MinEncodedSize => 8;

    public override DateTime Default => new(0, DateTimeKind.Utc);

    public override void Write(IBufferWriter<byte> writer, DateTime value) => writer.WriteDateTime(value);

    public override DateTime Read(ref WireReader reader) => reader.ReadDateTime();

    // Kind counts: a Local and a UTC value with the same ticks are different instants, and array normalisation
    // relies on this to notice a Local element that it converted (on a UTC machine the ticks do not move).
    public override bool ValueEquals(DateTime left, DateTime right) => left.Ticks == right.Ticks && left.Kind == right.Kind;

    // DateTime fields are always UTC: Local values are converted, Unspecified ones are rejected because
    // their meaning is a guess (see README "Field types").
    public override string? Normalize(ref DateTime value)
    {
        switch (value.Kind)
        {
            case DateTimeKind.Utc:
                return null;
            case DateTimeKind.Local:
                value = value.ToUniversalTime();
                return null;
            default:
                return "DateTime values must be UTC (or Local, which is converted); this one has Kind Unspecified. Use DateTime.SpecifyKind(value, DateTimeKind.Utc).";
        }
    }

    public override string Format(DateTime value) => value.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}

internal sealed class DoIdCodec : ValueCodec<DoId>
{
    public static readonly DoIdCodec Instance = new();

    public override string SchemaName => "doid";

    public override int MinEncodedSize => DoId.Size;

    public override DoId Default => DoId.Empty;

    public override void Write(IBufferWriter<byte> writer, DoId value) => writer.WriteDoId(value);

    public override DoId Read(ref WireReader reader) => reader.ReadDoId();

    public override string Format(DoId value) => value.ToString();
}

internal sealed class ArrayCodec<TElement> : ValueCodec<TElement[]>
{
    private readonly ValueCodec<TElement> element;

    public ArrayCodec(ValueCodec<TElement> element)
    {
        this.element = element;
    }

    public override string SchemaName => element.SchemaName + "[]";

    public override int MinEncodedSize => 1;

    public override TElement[] Default => Array.Empty<TElement>();

    public override void Write(IBufferWriter<byte> writer, TElement[] value)
    {
        writer.WriteVarUInt32((uint)value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            element.Write(writer, value[i]);
        }
    }

    public override TElement[] Read(ref WireReader reader)
    {
        int count = reader.ReadCount(element.MinEncodedSize);
        if (count == 0)
        {
            return Array.Empty<TElement>();
        }

        var result = new TElement[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = element.Read(ref reader);
        }

        return result;
    }

    public override bool ValueEquals(TElement[] left, TElement[] right)
    {
        if (ReferenceEquals(left, right))
        {
            return true;
        }

        if (left.Length != right.Length)
        {
            return false;
        }

        for (int i = 0; i < left.Length; i++)
        {
            if (!element.ValueEquals(left[i], right[i]))
            {
                return false;
            }
        }

        return true;
    }

    public override string? Normalize(ref TElement[] value)
    {
        if (value is null)
        {
            value = Array.Empty<TElement>();
            return null;
        }

        TElement[]? copy = null;
        for (int i = 0; i < value.Length; i++)
        {
            var item = value[i];
            string? error = element.Normalize(ref item);
            if (error is not null)
            {
                return $"Element {i}: {error}";
            }

            if (!element.ValueEquals(item, value[i]) || (item is not null && value[i] is null))
            {
                copy ??= (TElement[])value.Clone();
                copy[i] = item;
            }
        }

        if (copy is not null)
        {
            value = copy;
        }

        return null;
    }

    public override string Format(TElement[] value)
    {
        var text = new StringBuilder("[");
        for (int i = 0; i < value.Length; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            text.Append(element.Format(value[i]));
        }

        return text.Append(']').ToString();
    }
}

/// <summary>Lower-case hex printing of bytes, for logs.</summary>
public static class Hex
{
    /// <summary>Prints <paramref name="bytes"/> as lower-case hex, for example <c>0a1bff</c>.</summary>
    public static string Format(ReadOnlySpan<byte> bytes)
    {
        const string digits = "0123456789abcdef";
        var chars = new char[bytes.Length * 2];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[2 * i] = digits[bytes[i] >> 4];
            chars[(2 * i) + 1] = digits[bytes[i] & 0xF];
        }

        return new string(chars);
    }
}
