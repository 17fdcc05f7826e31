using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Pastry.Wire;

/// <summary>
/// Reads little-endian values from a span. Every read checks the remaining length first, so hostile bytes end in a
/// <see cref="WireFormatException"/> and never in an out-of-range read or an allocation larger than the input.
/// </summary>
internal ref struct WireReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> data;
    private int position;

    /// <summary>Starts reading at the first byte of <paramref name="data"/>.</summary>
    public WireReader(ReadOnlySpan<byte> data)
    {
        this.data = data;
        position = 0;
    }

    /// <summary>Bytes read so far.</summary>
    public readonly int Position => position;

    /// <summary>Bytes left.</summary>
    public readonly int Remaining => data.Length - position;

    /// <summary>Whether every byte has been read.</summary>
    public readonly bool IsAtEnd => position == data.Length;

    /// <summary>Throws <see cref="WireError.TrailingBytes"/> unless every byte was read.</summary>
    public readonly void EnsureAtEnd()
    {
        if (position != data.Length)
        {
            throw new WireFormatException(WireError.TrailingBytes, $"{data.Length - position} unexpected byte(s) after the end of the message.");
        }
    }

    /// <summary>Reads one byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>Reads a bool encoded as one byte, 0 or 1.</summary>
    public bool ReadBool()
    {
        byte b = ReadByte();
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw new WireFormatException(WireError.InvalidValue, $"A bool must be 0 or 1, got {b}."),
        };
    }

    /// <summary>Reads a 16-bit unsigned integer.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    /// <summary>Reads a 32-bit signed integer.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    /// <summary>Reads a 32-bit unsigned integer.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    /// <summary>Reads a 64-bit signed integer.</summary>
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    /// <summary>Reads a 64-bit unsigned integer.</summary>
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>Reads a 32-bit float.</summary>
    public float ReadSingle() => BitConverter.Int32BitsToSingle(ReadInt32());

    /// <summary>Reads a 64-bit float.</summary>
    public double ReadDouble() => BitConverter.Int64BitsToDouble(ReadInt64());

    /// <summary>Reads a <see cref="DoId"/> (16 big-endian bytes).</summary>
    public DoId ReadDoId() => DoId.Read(Take(DoId.Size));

    /// <summary>Reads a UTC <see cref="DateTime"/> stored as its 64-bit tick count.</summary>
    public DateTime ReadDateTime()
    {
        long ticks = ReadInt64();
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
        {
            throw new WireFormatException(WireError.InvalidValue, $"DateTime ticks {ticks} are out of range.");
        }

        return new DateTime(ticks, DateTimeKind.Utc);
    }

    /// <summary>Reads an unsigned LEB128 varint of at most 5 bytes.</summary>
    public uint ReadVarUInt32()
    {
        uint result = 0;
        for (int shift = 0; shift < 35; shift += 7)
        {
            byte b = ReadByte();
            if (shift == 28 && b > 0x0F)
            {
                throw new WireFormatException(WireError.InvalidValue, "A varint does not fit in 32 bits.");
            }

            result |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new WireFormatException(WireError.InvalidValue, "A varint is longer than 5 bytes.");
    }

    /// <summary>
    /// Reads a length or element count and checks that <paramref name="minBytesPerItem"/> times it fits in what is left,
    /// so that a hostile count can never make the caller allocate more than the frame holds.
    /// </summary>
    public int ReadCount(int minBytesPerItem)
    {
        uint count = ReadVarUInt32();
        long needed = (long)count * Math.Max(minBytesPerItem, 0);
        if (count > int.MaxValue || needed > Remaining)
        {
            throw new WireFormatException(WireError.LengthOutOfRange, $"A count of {count} needs at least {needed} bytes, but only {Remaining} are left.");
        }

        return (int)count;
    }

    /// <summary>Reads a length-prefixed UTF-8 string; invalid UTF-8 is an error, not a replacement character.</summary>
    public string ReadString()
    {
        int length = ReadCount(1);
        if (length == 0)
        {
            return string.Empty;
        }

        var bytes = Take(length);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new WireFormatException(WireError.InvalidUtf8, $"A string of {length} bytes is not valid UTF-8.");
        }
    }

    /// <summary>Reads a length-prefixed byte array.</summary>
    public byte[] ReadBytes()
    {
        int length = ReadCount(1);
        return length == 0 ? Array.Empty<byte>() : Take(length).ToArray();
    }

    /// <summary>Reads a length-prefixed byte block without copying it.</summary>
    public ReadOnlySpan<byte> ReadBytesSpan()
    {
        int length = ReadCount(1);
        return Take(length);
    }

    /// <summary>Returns the next <paramref name="count"/> bytes without copying them.</summary>
    public ReadOnlySpan<byte> ReadRaw(int count) => Take(count);

    /// <summary>Returns the rest of the data without copying it.</summary>
    public ReadOnlySpan<byte> ReadToEnd() => Take(Remaining);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(data.Length - position))
        {
            ThrowTruncated(count);
        }

        var slice = data.Slice(position, count);
        position += count;
        return slice;
    }

    private readonly void ThrowTruncated(int count) =>
        throw new WireFormatException(WireError.Truncated, $"Needed {count} byte(s) at offset {position}, but only {data.Length - position} are left.");
}
