using System.Buffers;
using System.IO.Pipelines;

namespace Pastry.Wire;

/// <summary>How a <see cref="FrameReader"/> loop ended.</summary>
internal enum FrameReadEnd
{
    /// <summary>The handler asked to stop; bytes after the last handled frame stay in the reader.</summary>
    Stopped,

    /// <summary>The peer closed the connection at a frame boundary.</summary>
    Closed,

    /// <summary>The peer closed the connection in the middle of a frame (<see cref="FrameReadOutcome.BytesLeft"/>).</summary>
    ClosedMidFrame,

    /// <summary>A frame declared more than the limit (<see cref="FrameReadOutcome.DeclaredLength"/>); eject 106 on a client session.</summary>
    Oversized,

    /// <summary>A frame declared too few bytes to hold its message type; eject 109 on a client session.</summary>
    Malformed,
}

/// <summary>Why a frame read loop ended, with the numbers its log line or eject reason names.</summary>
internal readonly record struct FrameReadOutcome(FrameReadEnd End, uint DeclaredLength, long BytesLeft);

/// <summary>What one end does with the frames a <see cref="FrameReader"/> reads.</summary>
internal interface IFrameHandler
{
    /// <summary>
    /// Handles one whole frame. The payload is valid only during the call (it points into the reader's buffer or a
    /// pooled copy): an end that keeps it copies it. False stops reading after this frame.
    /// </summary>
    bool OnFrame(ushort type, ReadOnlySpan<byte> payload);

    /// <summary>
    /// Runs after the frames of one socket read were handled, before the next read: counts them and applies
    /// backpressure (the client waits here while its game thread is behind).
    /// </summary>
    ValueTask OnReadAsync(long bytes, int frames, CancellationToken cancellation);
}

/// <summary>
/// The one frame reader of every end: Client Agent sessions, both ends of the MD link and the client library, over a
/// TCP stream or the WebSocket stream adapter. It reads with System.IO.Pipelines (netstandard2.1 too, so it runs in
/// Unity and, single-threaded, in browser WebAssembly), splits <see cref="Frame"/>s, bounds every frame by the end's
/// limit, and leaves error policy (eject code, log line, dropped link) to the end.
/// </summary>
internal static class FrameReader
{
    /// <summary>
    /// A pipe reader over <paramref name="stream"/>, left open when the reader completes (the end owns the stream).
    /// Zero-byte reads: an idle connection waits for data without holding a receive buffer (bench idle), which also
    /// suits the WebSocket adapter; a busy one reads 4 KiB segments at least 512 bytes at a time.
    /// </summary>
    public static PipeReader Open(Stream stream) =>
        PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 512, leaveOpen: true, useZeroByteReads: true));

    /// <summary>
    /// Reads frames of at most <paramref name="maxFrameBytes"/> until the handler stops, the peer closes or a frame is
    /// invalid. Exceptions of the stream (I/O, cancellation, the WebSocket adapter's rules) reach the caller. The
    /// reader is not completed: a stopped read (a resume taking the connection over) leaves the unread bytes in it.
    /// </summary>
    public static async ValueTask<FrameReadOutcome> ReadAsync<THandler>(PipeReader reader, int maxFrameBytes, THandler handler, CancellationToken cancellation)
        where THandler : IFrameHandler
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellation).ConfigureAwait(false);
            var buffer = result.Buffer;
            long unread = buffer.Length;
            var (end, frames, declared) = HandleFrames(ref buffer, maxFrameBytes, handler);
            long consumed = unread - buffer.Length;
            long left = buffer.Length;
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (frames > 0 || consumed > 0)
            {
                await handler.OnReadAsync(consumed, frames, cancellation).ConfigureAwait(false);
            }

            if (end is { } stopped)
            {
                return new FrameReadOutcome(stopped, declared, left);
            }

            if (result.IsCompleted)
            {
                return new FrameReadOutcome(left > 0 ? FrameReadEnd.ClosedMidFrame : FrameReadEnd.Closed, 0, left);
            }
        }
    }

    /// <summary>Handles every whole frame at the start of <paramref name="buffer"/>; null while reading goes on.</summary>
    private static (FrameReadEnd? End, int Frames, uint Declared) HandleFrames<THandler>(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, THandler handler)
        where THandler : IFrameHandler
    {
        int frames = 0;
        while (true)
        {
            var status = Frame.TryRead(ref buffer, maxFrameBytes, out ushort type, out var payload, out uint declared);
            switch (status)
            {
                case FrameStatus.Incomplete:
                    return (null, frames, 0);
                case FrameStatus.Oversized:
                    return (FrameReadEnd.Oversized, frames, declared);
                case FrameStatus.Malformed:
                    return (FrameReadEnd.Malformed, frames, declared);
            }

            frames++;
            if (!Handle(handler, type, payload))
            {
                return (FrameReadEnd.Stopped, frames, declared);
            }
        }
    }

    private static bool Handle<THandler>(THandler handler, ushort type, ReadOnlySequence<byte> payload)
        where THandler : IFrameHandler
    {
        if (payload.IsSingleSegment)
        {
            return handler.OnFrame(type, payload.First.Span);
        }

        // A frame across two pipe segments: one pooled contiguous copy, returned as soon as the handler is done.
        int length = (int)payload.Length;
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(rented);
            return handler.OnFrame(type, rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
