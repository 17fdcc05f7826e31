using System.Buffers;
using System.Buffers.Binary;

namespace Pastry.Wire;

/// <summary>
/// A growable <see cref="IBufferWriter{T}"/> over arrays rented from <see cref="ArrayPool{T}.Shared"/>. It can write
/// whole frames (<see cref="BeginFrame"/> / <see cref="EndFrame"/>) because it may patch the length afterwards.
/// Dispose returns the array; a writer whose buffer grew past <see cref="MaxRetainedBytes"/> gives it back on
/// <see cref="Reset"/> so that one huge message does not pin memory for ever.
/// </summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>Buffers larger than this are returned to the pool on <see cref="Reset"/>.</summary>
    public const int MaxRetainedBytes = 1 << 20;

    private byte[] buffer;
    private int written;

    /// <summary>Creates a writer with at least <paramref name="initialCapacity"/> bytes.</summary>
    public PooledBufferWriter(int initialCapacity = 256)
    {
        buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 16));
    }

    /// <summary>Bytes written so far.</summary>
    public int WrittenCount => written;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => buffer.AsSpan(0, written);

    /// <summary>The bytes written so far.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => buffer.AsMemory(0, written);

    /// <summary>Forgets what was written and keeps the buffer (unless it grew very large).</summary>
    public void Reset()
    {
        written = 0;
        if (buffer.Length > MaxRetainedBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(256);
        }
    }

    /// <summary>The size of the buffer it holds now.</summary>
    internal int Capacity => buffer.Length;

    /// <summary>Overwrites the byte at <paramref name="offset"/> of what was written (a header filled in afterwards).</summary>
    internal void Patch(int offset, byte value) => buffer.AsSpan(0, written)[offset] = value;

    /// <summary>Overwrites the four bytes at <paramref name="offset"/> of what was written with <paramref name="value"/>, little-endian.</summary>
    internal void PatchUInt32(int offset, uint value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset, written - offset), value);

    /// <summary>Takes back everything written after the first <paramref name="count"/> bytes.</summary>
    internal void Rewind(int count)
    {
        if (count < 0 || count > written)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        written = count;
    }

    /// <summary>
    /// When nothing is written and the buffer is larger than <paramref name="maxBytes"/>, lets go of it and keeps a
    /// small one, so that a burst does not pin its peak size. The large buffer is left to the GC, not returned to the
    /// shared pool, which would keep it for the next burst (and the pool keeps dozens of each size). Returns whether it did.
    /// </summary>
    internal bool Shrink(int maxBytes)
    {
        if (written > 0 || buffer.Length <= maxBytes)
        {
            return false;
        }

        buffer = ArrayPool<byte>.Shared.Rent(256);
        return true;
    }

    /// <inheritdoc />
    public void Advance(int count)
    {
        if (count < 0 || written + count > buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        written += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return buffer.AsMemory(written);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return buffer.AsSpan(written);
    }

    /// <summary>Starts a frame: reserves the length and writes the message type. Returns the frame's start offset.</summary>
    public int BeginFrame(MessageType type)
    {
        int start = written;
        Ensure(Frame.HeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(written + 4), (ushort)type);
        written += Frame.HeaderSize;
        return start;
    }

    /// <summary>Starts a frame whose body writes its own message type first: reserves only the length. Returns the start offset.</summary>
    public int BeginFrameRaw()
    {
        int start = written;
        Ensure(Frame.LengthSize);
        written += Frame.LengthSize;
        return start;
    }

    /// <summary>Ends the frame started at <paramref name="start"/> by writing its length.</summary>
    public void EndFrame(int start)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(start), (uint)(written - start - Frame.LengthSize));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var old = buffer;
        buffer = Array.Empty<byte>();
        written = 0;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1)
        {
            sizeHint = 1;
        }

        if (buffer.Length - written >= sizeHint)
        {
            return;
        }

        int newSize = Math.Max(buffer.Length * 2, written + sizeHint);
        var next = ArrayPool<byte>.Shared.Rent(newSize);
        buffer.AsSpan(0, written).CopyTo(next);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        buffer = next;
    }
}
