using System.Buffers.Binary;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

/// <summary>
/// The layout of a <see cref="Messaging.InternalMessageType.RelayBroadcastBatch"/>'s payload: <c>parent: DoId, zone:
/// uint32, census: uint32, frames: uint32, flags: byte, clientFrame*</c>. The frame count saves every receiver from
/// counting the frames it forwards whole. The header lets a session send the frames as one shared
/// block, without looking at each: the census is how many objects were at the location when the frames were relayed,
/// and a session that sees that many there sees every object the frames are about (what it sees at a location is a
/// subset of what is there, kept in the State Server's order). The flag says a frame is about an owned object, which
/// its owner's sessions take from the account instead.
/// </summary>
internal static class RelayBatch
{
    /// <summary>Bytes before the first frame.</summary>
    public const int HeaderSize = DoId.Size + 4 + 4 + 4 + 1;

    private const int FramesOffset = DoId.Size + 4 + 4;

    private const int FlagsOffset = HeaderSize - 1;
    private const byte AboutOwnedFlag = 1;

    /// <summary>Writes the header at the start of an empty <paramref name="writer"/>; the flags start clear and the frame count at 0 (see <see cref="SetFrameCount"/>).</summary>
    public static void WriteHeader(PooledBufferWriter writer, Location location, int census)
    {
        writer.WriteDoId(location.Parent);
        writer.WriteUInt32(location.Zone);
        writer.WriteUInt32((uint)census);
        writer.WriteUInt32(0);
        writer.WriteRaw([0]);
    }

    /// <summary>Fills in how many frames follow the header of the batch in <paramref name="writer"/>.</summary>
    public static void SetFrameCount(PooledBufferWriter writer, int frames) => writer.PatchUInt32(FramesOffset, (uint)frames);

    /// <summary>Sets the flag that a frame of the batch in <paramref name="writer"/> is about an owned object.</summary>
    public static void MarkAboutOwned(PooledBufferWriter writer) => writer.Patch(FlagsOffset, AboutOwnedFlag);

    /// <summary>Reads a batch's header; false when the payload is too short to hold one.</summary>
    public static bool TryRead(ReadOnlyMemory<byte> payload, out Header header)
    {
        var span = payload.Span;
        if (span.Length < HeaderSize)
        {
            header = default;
            return false;
        }

        header = new Header(
            new Location(DoId.Read(span), BinaryPrimitives.ReadUInt32LittleEndian(span[DoId.Size..])),
            (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(DoId.Size + 4)..]),
            (int)BinaryPrimitives.ReadUInt32LittleEndian(span[FramesOffset..]),
            (span[FlagsOffset] & AboutOwnedFlag) != 0,
            payload[HeaderSize..]);
        return true;
    }

    /// <summary>A batch read: the location, its census, how many frames it holds, whether a frame is about an owned object, and the frames.</summary>
    public readonly record struct Header(Location Location, int Census, int FrameCount, bool AboutOwned, ReadOnlyMemory<byte> Frames);
}
