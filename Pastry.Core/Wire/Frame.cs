using System.Buffers;
using System.Buffers.Binary;

namespace Pastry.Wire;

/// <summary>The result of looking for one frame in received bytes.</summary>
internal enum FrameStatus
{
    /// <summary>A whole frame was found.</summary>
    Complete,

    /// <summary>More bytes are needed.</summary>
    Incomplete,

    /// <summary>The declared length is larger than the maximum frame size (eject 106).</summary>
    Oversized,

    /// <summary>The declared length is too small to hold a message type (eject 109).</summary>
    Malformed,
}

/// <summary>
/// The frame format of ARCHITECTURE section 3: <c>uint32 length | uint16 msgtype | payload</c>, little-endian,
/// where length counts the bytes after the length field (message type and payload).
/// </summary>
internal static class Frame
{
    /// <summary>Bytes of the length field.</summary>
    public const int LengthSize = 4;

    /// <summary>Bytes of the length and message type.</summary>
    public const int HeaderSize = 6;

    /// <summary>The default maximum frame size: 64 KiB.</summary>
    public const int DefaultMaxSize = 64 * 1024;

    /// <summary>How many whole frames lie one after another at the start of <paramref name="frames"/> (a partial last frame is not counted).</summary>
    internal static int CountWhole(ReadOnlySpan<byte> frames)
    {
        int count = 0;
        while (frames.Length >= LengthSize)
        {
            long length = BinaryPrimitives.ReadUInt32LittleEndian(frames) + (long)LengthSize;
            if (length > frames.Length)
            {
                break;
            }

            frames = frames.Slice((int)length);
            count++;
        }

        return count;
    }

    /// <summary>
    /// Looks for one frame at the start of <paramref name="buffer"/>. On <see cref="FrameStatus.Complete"/> it returns
    /// the type and payload and advances <paramref name="buffer"/> past the frame.
    /// </summary>
    public static FrameStatus TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out ushort type, out ReadOnlySequence<byte> payload, out uint declaredLength)
    {
        type = 0;
        payload = default;
        declaredLength = 0;
        if (buffer.Length < LengthSize)
        {
            return FrameStatus.Incomplete;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        int headerBytes = (int)Math.Min(buffer.Length, HeaderSize);
        buffer.Slice(0, headerBytes).CopyTo(header);
        declaredLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (declaredLength > (uint)maxFrameSize)
        {
            return FrameStatus.Oversized;
        }

        if (declaredLength < 2)
        {
            return FrameStatus.Malformed;
        }

        if (buffer.Length < LengthSize + declaredLength)
        {
            return FrameStatus.Incomplete;
        }

        type = BinaryPrimitives.ReadUInt16LittleEndian(header.Slice(LengthSize));
        payload = buffer.Slice(HeaderSize, declaredLength - 2);
        buffer = buffer.Slice(LengthSize + declaredLength);
        return FrameStatus.Complete;
    }
}
