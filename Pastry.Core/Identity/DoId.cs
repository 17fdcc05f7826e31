using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace Pastry;

/// <summary>
/// A distributed object id: a 128-bit UUID. New ids are time-ordered (UUID version 7), so that database
/// indexes stay local. Ordering compares the big-endian bytes, which is creation order for v7 ids.
/// </summary>
public readonly struct DoId : IEquatable<DoId>, IComparable<DoId>
{
    /// <summary>Bytes on the wire and in the database.</summary>
    public const int Size = 16;

    private static readonly object GenerateLock = new();
    private static long lastMilliseconds;
    private static ulong lastSequence;

    private readonly ulong high;
    private readonly ulong low;

    /// <summary>Creates an id from its two big-endian halves.</summary>
    public DoId(ulong high, ulong low)
    {
        this.high = high;
        this.low = low;
    }

    /// <summary>The all-zero id, used for "none" (for example: no owner, or the root parent).</summary>
    public static DoId Empty => default;

    /// <summary>The first 8 bytes, big-endian.</summary>
    public ulong High => high;

    /// <summary>The last 8 bytes, big-endian.</summary>
    public ulong Low => low;

    /// <summary>Whether this is <see cref="Empty"/>.</summary>
    public bool IsEmpty => high == 0 && low == 0;

    /// <summary>
    /// Creates a new time-ordered UUIDv7: 48 bits of Unix milliseconds, then a 74-bit counter seeded randomly
    /// each millisecond, so that ids made in one process are strictly increasing.
    /// </summary>
    public static DoId NewId()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        ulong r1 = BinaryPrimitives.ReadUInt64LittleEndian(random);
        ulong r2 = BinaryPrimitives.ReadUInt64LittleEndian(random.Slice(8));
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        ulong sequence;
        lock (GenerateLock)
        {
            if (now <= lastMilliseconds)
            {
                now = lastMilliseconds;
                sequence = lastSequence + 1 + (r1 & 0xFFFF);
                if (sequence >= (1UL << 42))
                {
                    now++;
                    sequence = r1 & 0xFFFFFFFF;
                }
            }
            else
            {
                sequence = r1 & 0xFFFFFFFF; // leave head room so the counter rarely overflows within a millisecond
            }

            lastMilliseconds = now;
            lastSequence = sequence;
        }

        // high: 48 bits time | 4 bits version (7) | 12 bits counter (top)
        // low:  2 bits variant (10) | 30 bits counter (bottom) | 32 bits random
        ulong high = ((ulong)now << 16) | (0x7UL << 12) | ((sequence >> 30) & 0xFFF);
        ulong low = (0x2UL << 62) | ((sequence & 0x3FFFFFFF) << 32) | (r2 & 0xFFFFFFFF);
        return new DoId(high, low);
    }

    /// <summary>Reads an id from 16 big-endian bytes.</summary>
    public static DoId Read(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(source), BinaryPrimitives.ReadUInt64BigEndian(source.Slice(8)));

    /// <summary>Writes the id as 16 big-endian bytes.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, high);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(8), low);
    }

    /// <summary>The id as a new 16-byte array.</summary>
    public byte[] ToByteArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    /// <summary>The Unix time in milliseconds stored in a version 7 id.</summary>
    public long UnixMilliseconds => (long)(high >> 16);

    /// <summary>Parses the canonical text form <c>xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx</c> (32 hex digits, dashes optional).</summary>
    public static DoId Parse(string text)
    {
        if (!TryParse(text, out var id))
        {
            throw new FormatException($"'{text}' is not a DoId: expected 32 hex digits such as 0190a4b2-7c1e-7d3a-8f00-123456789abc.");
        }

        return id;
    }

    /// <summary>Tries to parse the canonical text form.</summary>
    public static bool TryParse(string? text, out DoId id)
    {
        id = default;
        if (text is null)
        {
            return false;
        }

        ulong h = 0, l = 0;
        int digits = 0;
        foreach (char c in text)
        {
            if (c == '-')
            {
                continue;
            }

            int v = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => -1,
            };
            if (v < 0 || digits >= 32)
            {
                return false;
            }

            if (digits < 16)
            {
                h = (h << 4) | (uint)v;
            }
            else
            {
                l = (l << 4) | (uint)v;
            }

            digits++;
        }

        if (digits != 32)
        {
            return false;
        }

        id = new DoId(h, l);
        return true;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        string h = high.ToString("x16", CultureInfo.InvariantCulture);
        string l = low.ToString("x16", CultureInfo.InvariantCulture);
        return $"{h.Substring(0, 8)}-{h.Substring(8, 4)}-{h.Substring(12, 4)}-{l.Substring(0, 4)}-{l.Substring(4)}";
    }

    /// <inheritdoc />
    public bool Equals(DoId other) => high == other.high && low == other.low;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is DoId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => (high ^ (low * 0x9E3779B97F4A7C15UL)).GetHashCode();

    /// <inheritdoc />
    public int CompareTo(DoId other) => high != other.high ? high.CompareTo(other.high) : low.CompareTo(other.low);

    /// <summary>Equality.</summary>
    public static bool operator ==(DoId left, DoId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(DoId left, DoId right) => !left.Equals(right);

    /// <summary>Ordering.</summary>
    public static bool operator <(DoId left, DoId right) => left.CompareTo(right) < 0;

    /// <summary>Ordering.</summary>
    public static bool operator >(DoId left, DoId right) => left.CompareTo(right) > 0;

    /// <summary>Ordering.</summary>
    public static bool operator <=(DoId left, DoId right) => left.CompareTo(right) <= 0;

    /// <summary>Ordering.</summary>
    public static bool operator >=(DoId left, DoId right) => left.CompareTo(right) >= 0;
}
