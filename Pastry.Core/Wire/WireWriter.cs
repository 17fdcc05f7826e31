using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Pastry.Wire;

/// <summary>
/// Writes little-endian values to any <see cref="IBufferWriter{T}"/>. Primitives are written straight into the
/// writer's span, so encoding them allocates nothing.
/// </summary>
internal static class WireWriter
{
    /// <summary>Writes one byte.</summary>
    public static void WriteByte(this IBufferWriter<byte> writer, byte value)
    {
        writer.GetSpan(1)[0] = value;
        writer.Advance(1);
    }

    /// <summary>Writes a bool as one byte, 0 or 1.</summary>
    public static void WriteBool(this IBufferWriter<byte> writer, bool value) => writer.WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>Writes a 16-bit unsigned integer.</summary>
    public static void WriteUInt16(this IBufferWriter<byte> writer, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(writer.GetSpan(2), value);
        writer.Advance(2);
    }

    /// <summary>Writes a 32-bit signed integer.</summary>
    public static void WriteInt32(this IBufferWriter<byte> writer, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    /// <summary>Writes a 32-bit unsigned integer.</summary>
    public static void WriteUInt32(this IBufferWriter<byte> writer, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    /// <summary>Writes a 64-bit signed integer.</summary>
    public static void WriteInt64(this IBufferWriter<byte> writer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(writer.GetSpan(8), value);
        writer.Advance(8);
    }

    /// <summary>Writes a 64-bit unsigned integer.</summary>
    public static void WriteUInt64(this IBufferWriter<byte> writer, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(writer.GetSpan(8), value);
        writer.Advance(8);
    }

    /// <summary>Writes a 32-bit float.</summary>
    public static void WriteSingle(this IBufferWriter<byte> writer, float value) =>
        writer.WriteInt32(BitConverter.SingleToInt32Bits(value));

    /// <summary>Writes a 64-bit float.</summary>
    public static void WriteDouble(this IBufferWriter<byte> writer, double value) =>
        writer.WriteInt64(BitConverter.DoubleToInt64Bits(value));

    /// <summary>Writes a <see cref="DoId"/> as 16 big-endian bytes.</summary>
    public static void WriteDoId(this IBufferWriter<byte> writer, DoId value)
    {
        value.Write(writer.GetSpan(DoId.Size));
        writer.Advance(DoId.Size);
    }

    /// <summary>Writes a UTC <see cref="DateTime"/> as its tick count.</summary>
    public static void WriteDateTime(this IBufferWriter<byte> writer, DateTime value) => writer.WriteInt64(value.Ticks);

    /// <summary>Writes an unsigned LEB128 varint.</summary>
    public static void WriteVarUInt32(this IBufferWriter<byte> writer, uint value)
    {
        var span = writer.GetSpan(5);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        writer.Advance(i);
    }

    /// <summary>Writes a length-prefixed UTF-8 string.</summary>
    public static void WriteString(this IBufferWriter<byte> writer, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            writer.WriteByte(0);
            return;
        }

        int length = Encoding.UTF8.GetByteCount(value);
        writer.WriteVarUInt32((uint)length);
        var span = writer.GetSpan(length);
        Encoding.UTF8.GetBytes(value.AsSpan(), span);
        writer.Advance(length);
    }

    /// <summary>Writes a length-prefixed byte block.</summary>
    public static void WriteBytes(this IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        writer.WriteVarUInt32((uint)value.Length);
        writer.WriteRaw(value);
    }

    /// <summary>Copies bytes as they are, with no length prefix.</summary>
    public static void WriteRaw(this IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return;
        }

        value.CopyTo(writer.GetSpan(value.Length));
        writer.Advance(value.Length);
    }
}
