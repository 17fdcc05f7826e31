using System.Buffers.Binary;
using System.Net.WebSockets;

namespace Pastry.Wire;

/// <summary>
/// A <see cref="Stream"/> over a WebSocket that carries Pastry frames in binary messages, so that the one frame reader
/// and the one outbox serve WebSocket ends as they serve TCP ends. Each write goes out as whole frames in one or more
/// binary messages of at most the write limit; reads return the bytes of consecutive binary messages. A text message,
/// or a message past the read limit, ends the read with a <see cref="WebSocketFrameException"/> that carries the eject code.
/// </summary>
/// <remarks>
/// Nothing here blocks or starts a thread: it runs inside browser WebAssembly, where there is one thread. Reads and
/// writes may overlap each other, but never themselves (the frame reader and the outbox each have one loop).
/// </remarks>
internal sealed class WebSocketFrameStream : Stream
{
    private readonly WebSocket socket;
    private readonly int maxReadMessageBytes;
    private readonly int maxWriteMessageBytes;
    private readonly byte[] receiveBuffer;
    private Task<ValueWebSocketReceiveResult>? pendingReceive;
    private int unreadOffset;
    private int unreadCount;
    private bool closeReceived;

    /// <summary>
    /// Whether the peer sent a close message: it left on purpose (a browser sends one when its page closes), where a
    /// dropped network sends nothing.
    /// </summary>
    public bool CloseReceived => Volatile.Read(ref closeReceived);
    private long messageBytes;
    private int disposed;

    /// <summary>
    /// A stream over <paramref name="socket"/>; the limits are in bytes (0: no limit on the messages read), and
    /// <paramref name="receiveBufferBytes"/> is the stream's own receive buffer.
    /// </summary>
    public WebSocketFrameStream(WebSocket socket, int maxReadMessageBytes, int maxWriteMessageBytes, int receiveBufferBytes = 4096)
    {
        this.socket = socket;
        receiveBuffer = new byte[Math.Max(256, receiveBufferBytes)];
        this.maxReadMessageBytes = maxReadMessageBytes;
        this.maxWriteMessageBytes = Math.Max(Frame.HeaderSize, maxWriteMessageBytes);
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>The WebSocket this stream reads and writes.</summary>
    public WebSocket Socket => socket;

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // A zero-byte read is only a hint that data is wanted (PipeReader's useZeroByteReads); the socket's own receive
        // would consume a close or an empty message that the next real read then misses.
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            if (unreadCount > 0)
            {
                int count = Math.Min(unreadCount, buffer.Length);
                receiveBuffer.AsMemory(unreadOffset, count).CopyTo(buffer);
                unreadOffset += count;
                unreadCount -= count;
                return count;
            }

            if (closeReceived || socket.State is WebSocketState.CloseReceived or WebSocketState.Closed or WebSocketState.Aborted)
            {
                return 0;
            }

            // The receive runs into this stream's own buffer and is never cancelled: cancelling a WebSocket receive
            // aborts the WebSocket, and a reader that stops (an eject) must still be able to send its last frames.
            pendingReceive ??= socket.ReceiveAsync(receiveBuffer.AsMemory(), CancellationToken.None).AsTask();
            if (!pendingReceive.IsCompleted && cancellationToken.CanBeCanceled)
            {
                var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                using (cancellationToken.Register(static state => ((TaskCompletionSource<bool>)state!).TrySetResult(true), cancelled))
                {
                    await Task.WhenAny(pendingReceive, cancelled.Task).ConfigureAwait(false);
                }

                cancellationToken.ThrowIfCancellationRequested();
            }

            var result = await pendingReceive.ConfigureAwait(false);
            pendingReceive = null;
            if (result.MessageType == WebSocketMessageType.Close)
            {
                closeReceived = true;
                return 0;
            }

            if (result.MessageType == WebSocketMessageType.Text)
            {
                throw new WebSocketFrameException(EjectCode.WebSocketTextMessage, "a text WebSocket message; Pastry frames travel in binary messages only");
            }

            messageBytes += result.Count;
            if (maxReadMessageBytes > 0 && messageBytes > maxReadMessageBytes)
            {
                throw new WebSocketFrameException(EjectCode.WebSocketMessageTooLarge, $"a WebSocket message of more than {maxReadMessageBytes} bytes (ClientAgent:WebSocket:MaxMessageBytes); send the frames in smaller messages");
            }

            if (result.EndOfMessage)
            {
                messageBytes = 0;
            }

            unreadOffset = 0;
            unreadCount = result.Count;
        }
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Whole frames per message, so that a reader that handles one message at a time (a browser script) never sees
        // half a frame; a single frame larger than the limit goes alone.
        while (!buffer.IsEmpty)
        {
            int take = WholeFramesWithin(buffer.Span, maxWriteMessageBytes);
            await socket.SendAsync(buffer.Slice(0, take), WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            buffer = buffer.Slice(take);
        }
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <summary>Not supported: a WebSocket is read asynchronously only (there may be no second thread to block).</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read a WebSocket with ReadAsync.");

    /// <summary>Not supported: a WebSocket is written asynchronously only (there may be no second thread to block).</summary>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Write a WebSocket with WriteAsync.");

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Closes the WebSocket politely (a close frame, waiting at most <paramref name="timeout"/> for the peer's), then
    /// frees it. Safe to call more than once.
    /// </summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        bool closed = false;
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var deadline = new CancellationTokenSource(timeout);
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, deadline.Token).ConfigureAwait(false);
                closed = true;
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // The peer is gone or slow: the abort below ends it.
        }
        finally
        {
            // An abort after a clean close would reset the connection and lose what is still on its way out (an eject).
            if (!closed)
            {
                socket.Abort();
            }

            socket.Dispose();
        }
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref disposed, 1) == 0)
        {
            socket.Abort();
            socket.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>How many leading bytes of <paramref name="frames"/> are whole frames within <paramref name="limit"/> (at least one frame, or all that is left).</summary>
    internal static int WholeFramesWithin(ReadOnlySpan<byte> frames, int limit)
    {
        int taken = 0;
        while (frames.Length - taken >= Frame.LengthSize)
        {
            long next = Frame.LengthSize + (long)BinaryPrimitives.ReadUInt32LittleEndian(frames.Slice(taken));
            if (taken + next > frames.Length)
            {
                // Not a whole frame (the caller wrote raw bytes): send the rest as it is.
                return frames.Length;
            }

            if (taken > 0 && taken + next > limit)
            {
                return taken;
            }

            taken += (int)next;
        }

        return taken == 0 ? frames.Length : taken;
    }
}

/// <summary>A WebSocket peer broke the transport's rules (a text message, an oversized message); <see cref="Code"/> is the eject to send.</summary>
internal sealed class WebSocketFrameException : IOException
{
    /// <summary>Creates the exception.</summary>
    public WebSocketFrameException(EjectCode code, string reason)
        : base(reason)
    {
        Code = code;
        Reason = reason;
    }

    /// <summary>The eject code that names the broken rule.</summary>
    public EjectCode Code { get; }

    /// <summary>Why, for the eject and the log.</summary>
    public string Reason { get; }
}
