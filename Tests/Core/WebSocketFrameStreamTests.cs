using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Threading.Channels;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The WebSocket adapter the Client Agent, the client library and the bench read and write frames through. The RFC 6455
/// framing itself (masking, the 7/16/64-bit lengths, continuation frames, ping/pong, the close handshake) is .NET's
/// <see cref="WebSocket"/>; what this class adds, and what these tests pin, is the transport's rules on top of it: binary
/// messages only (371), a bound on one message however it is fragmented (370), whole frames per message sent, a read
/// that can be cancelled without aborting the socket, and a close that is polite when it can be and an abort when not.
/// Half the tests run over a real WebSocket pair on loopback TCP (or a hand-written hostile client's bytes); the rest
/// script a <see cref="WebSocket"/> so that a receive's size, a close that fails, and what was aborted are exact.
/// </summary>
[TestClass]
public sealed class WebSocketFrameStreamTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    // ---- over a real WebSocket pair on loopback ----

    [TestMethod]
    [DataRow(125)]
    [DataRow(126)]
    [DataRow(65535)]
    [DataRow(65536)]
    public async Task AMessageOfExactlyTheLimit_IsRead_AtEachLengthEncodingsEdge_AndOneByteMoreIsRefusedWith370(int size)
    {
        // 125 is the last 7-bit length, 126 the first 16-bit one, 65535 the last 16-bit one, 65536 the first 64-bit one;
        // the client masks every frame, the server unmasks it.
        byte[] message = Pattern(size);
        await using (var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: size))
        {
            await SendAsync(pair.Client, message, WebSocketMessageType.Binary, endOfMessage: true).WaitAsync(Timeout);
            CollectionAssert.AreEqual(message, await ReadExactlyAsync(pair.Stream, size));
        }

        await using (var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: size - 1))
        {
            var sending = SendAsync(pair.Client, message, WebSocketMessageType.Binary, endOfMessage: true);
            var refused = await Assert.ThrowsExactlyAsync<WebSocketFrameException>(() => ReadExactlyAsync(pair.Stream, size).WaitAsync(Timeout));
            Assert.AreEqual(EjectCode.WebSocketMessageTooLarge, refused.Code);
            Assert.AreEqual($"a WebSocket message of more than {size - 1} bytes (ClientAgent:WebSocket:MaxMessageBytes); send the frames in smaller messages", refused.Reason);
            Assert.AreEqual(refused.Reason, refused.Message);
            pair.Server.Abort();
            await sending.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(Timeout);
        }
    }

    [TestMethod]
    public async Task AFragmentedMessage_IsReadAsItsBytesInOrder_AndCountsWholeAgainstTheLimit()
    {
        await using var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: 100);
        byte[] message = Pattern(100);

        // Continuation frames: 60 + 40 = 100 bytes, exactly the limit.
        await SendAsync(pair.Client, message.AsMemory(0, 60), WebSocketMessageType.Binary, endOfMessage: false).WaitAsync(Timeout);
        await SendAsync(pair.Client, message.AsMemory(60), WebSocketMessageType.Binary, endOfMessage: true).WaitAsync(Timeout);
        CollectionAssert.AreEqual(message, await ReadExactlyAsync(pair.Stream, 100));

        // The count starts again with each message: a second message of 100 is fine too.
        await SendAsync(pair.Client, message, WebSocketMessageType.Binary, endOfMessage: true).WaitAsync(Timeout);
        CollectionAssert.AreEqual(message, await ReadExactlyAsync(pair.Stream, 100));

        // 60 + 41 in two fragments is one message of 101: refused, though each fragment is small.
        await SendAsync(pair.Client, message.AsMemory(0, 60), WebSocketMessageType.Binary, endOfMessage: false).WaitAsync(Timeout);
        await SendAsync(pair.Client, new byte[41], WebSocketMessageType.Binary, endOfMessage: true).WaitAsync(Timeout);
        var refused = await Assert.ThrowsExactlyAsync<WebSocketFrameException>(() => ReadExactlyAsync(pair.Stream, 101).WaitAsync(Timeout));
        Assert.AreEqual(EjectCode.WebSocketMessageTooLarge, refused.Code);
    }

    [TestMethod]
    public async Task ATextMessage_IsRefusedWith371()
    {
        await using var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: 0);
        await SendAsync(pair.Client, "{\"hello\":1}"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true).WaitAsync(Timeout);

        var refused = await Assert.ThrowsExactlyAsync<WebSocketFrameException>(() => pair.Stream.ReadAsync(new byte[64]).AsTask().WaitAsync(Timeout));

        Assert.AreEqual(EjectCode.WebSocketTextMessage, refused.Code);
        Assert.AreEqual("a text WebSocket message; Pastry frames travel in binary messages only", refused.Reason);
    }

    [TestMethod]
    public async Task WithNoLimit_ALargeMessageIsRead()
    {
        await using var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: 0);
        byte[] message = Pattern(200_000);
        var sending = SendAsync(pair.Client, message, WebSocketMessageType.Binary, endOfMessage: true);

        CollectionAssert.AreEqual(message, await ReadExactlyAsync(pair.Stream, message.Length));
        await sending.WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task AHostileFrameThatDeclaresPetabytes_IsRefusedAfterTheLimit_NotBuffered()
    {
        // A hand-written client frame: FIN + binary, masked, 64-bit length 2^50, then 5,000 bytes of payload. The stream
        // must refuse it once 1,000 bytes of it have arrived, without waiting for (or holding) the rest.
        using var tcp = await TcpPair.ConnectAsync();
        var server = WebSocket.CreateFromStream(tcp.ServerStream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        await using var stream = new WebSocketFrameStream(server, maxReadMessageBytes: 1000, maxWriteMessageBytes: 64 * 1024);
        var header = new byte[14];
        header[0] = 0x82;
        header[1] = 0x80 | 127;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), 1UL << 50);
        await tcp.Client.WriteAsync(header).AsTask().WaitAsync(Timeout);
        await tcp.Client.WriteAsync(new byte[5000]).AsTask().WaitAsync(Timeout);

        var refused = await Assert.ThrowsExactlyAsync<WebSocketFrameException>(() => ReadExactlyAsync(stream, 5000).WaitAsync(Timeout));

        Assert.AreEqual(EjectCode.WebSocketMessageTooLarge, refused.Code);
    }

    [TestMethod]
    public async Task APing_IsAnsweredByAPong_AndIsNotReadAsFrameBytes()
    {
        using var tcp = await TcpPair.ConnectAsync();
        var server = WebSocket.CreateFromStream(tcp.ServerStream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        await using var stream = new WebSocketFrameStream(server, maxReadMessageBytes: 100, maxWriteMessageBytes: 64 * 1024);

        // A masked ping carrying "hi", then a masked binary message "abc" (mask 0: the payload is sent as it is).
        await tcp.Client.WriteAsync(new byte[] { 0x89, 0x82, 0, 0, 0, 0, (byte)'h', (byte)'i', 0x82, 0x83, 0, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c' }).AsTask().WaitAsync(Timeout);

        CollectionAssert.AreEqual("abc"u8.ToArray(), await ReadExactlyAsync(stream, 3));
        var pong = new byte[4];
        await tcp.Client.ReadExactlyAsync(pong).AsTask().WaitAsync(Timeout);
        CollectionAssert.AreEqual(new byte[] { 0x8A, 2, (byte)'h', (byte)'i' }, pong, "an unmasked pong from the server, with the ping's payload");
    }

    [TestMethod]
    public async Task Writes_LeaveAsBinaryMessagesOfWholeFrames_WithinTheWriteLimit()
    {
        await using var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: 0, maxWriteMessageBytes: 2 * 16);
        byte[] frames = [.. FrameOf(10, 1), .. FrameOf(10, 2), .. FrameOf(10, 3)];

        await pair.Stream.WriteAsync(frames).AsTask().WaitAsync(Timeout);

        var buffer = new byte[1024];
        var first = await pair.Client.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.AreEqual((WebSocketMessageType.Binary, true, 32), (first.MessageType, first.EndOfMessage, first.Count), "two 16-byte frames fit in 32");
        CollectionAssert.AreEqual(frames[..32], buffer[..32]);
        var second = await pair.Client.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.AreEqual((WebSocketMessageType.Binary, true, 16), (second.MessageType, second.EndOfMessage, second.Count));
        CollectionAssert.AreEqual(frames[32..], buffer[..16]);
    }

    [TestMethod]
    public async Task ACancelledRead_LeavesTheSocketOpen_AndTheNextReadGetsWhatArrived()
    {
        await using var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: 0);
        using var cancel = new CancellationTokenSource();
        var read = pair.Stream.ReadAsync(new byte[16], cancel.Token).AsTask();
        Assert.IsFalse(read.IsCompleted, "nothing was sent yet");

        cancel.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => read.WaitAsync(Timeout));
        Assert.AreEqual(WebSocketState.Open, pair.Server.State, "cancelling a WebSocket's receive would abort it; the stream never does");

        // The receive started by the cancelled read is the one that gets this message (.NET allows one receive at a time).
        await SendAsync(pair.Client, new byte[] { 5, 6, 7 }, WebSocketMessageType.Binary, endOfMessage: true).WaitAsync(Timeout);
        CollectionAssert.AreEqual(new byte[] { 5, 6, 7 }, await ReadExactlyAsync(pair.Stream, 3));
        await pair.Stream.WriteAsync(FrameOf(2, 9)).AsTask().WaitAsync(Timeout);
        var echo = await pair.Client.ReceiveAsync(new byte[64].AsMemory(), CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.AreEqual(8, echo.Count, "a reader that stopped can still send its last frames");
    }

    [TestMethod]
    public async Task AClientsCloseMessage_EndsTheReads_AndCloseAnswersWithANormalClosure()
    {
        await using var pair = await WebSocketPair.ConnectAsync(maxReadMessageBytes: 0);
        Assert.IsFalse(pair.Stream.CloseReceived);
        await pair.Client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WaitAsync(Timeout);

        Assert.AreEqual(0, await pair.Stream.ReadAsync(new byte[16]).AsTask().WaitAsync(Timeout));
        Assert.IsTrue(pair.Stream.CloseReceived, "the peer left on purpose");
        Assert.AreEqual(0, await pair.Stream.ReadAsync(new byte[16]).AsTask().WaitAsync(Timeout), "and every later read ends too");

        await pair.Stream.CloseAsync(Timeout).WaitAsync(Timeout);
        var close = await pair.Client.ReceiveAsync(new byte[64].AsMemory(), CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.AreEqual(WebSocketMessageType.Close, close.MessageType);
        Assert.AreEqual(WebSocketCloseStatus.NormalClosure, pair.Client.CloseStatus);
        Assert.AreEqual(string.Empty, pair.Client.CloseStatusDescription);
        Assert.AreEqual(WebSocketState.Closed, pair.Client.State);
    }

    // ---- over a scripted WebSocket (exact receive sizes, failing closes, aborts) ----

    [TestMethod]
    public void ItIsAReadableWritableUnseekableStream_ReadAndWriteOnlyAsynchronously()
    {
        using var stream = new WebSocketFrameStream(new ScriptedWebSocket(), 0, 1024);

        Assert.IsTrue(stream.CanRead);
        Assert.IsTrue(stream.CanWrite);
        Assert.IsFalse(stream.CanSeek);
        Assert.AreEqual("Read a WebSocket with ReadAsync.", Assert.ThrowsExactly<NotSupportedException>(() => stream.Read(new byte[1], 0, 1)).Message);
        Assert.AreEqual("Write a WebSocket with WriteAsync.", Assert.ThrowsExactly<NotSupportedException>(() => stream.Write(new byte[1], 0, 1)).Message);
    }

    [TestMethod]
    [DataRow(100, 256, DisplayName = "a tiny buffer is raised to 256 bytes")]
    [DataRow(4096, 4096)]
    public async Task EachReceive_FillsTheStreamsOwnBuffer_OfAtLeast256Bytes(int asked, int expected)
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, 1024, receiveBufferBytes: asked);
        socket.Deliver(Pattern(10));

        Assert.AreEqual(10, await stream.ReadAsync(new byte[64]));
        Assert.AreEqual(expected, socket.ReceiveBufferSizes.Single());
    }

    [TestMethod]
    public async Task AMessageLargerThanTheCallersBuffer_IsReadInPieces_InOrder()
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, 1024);
        byte[] message = Pattern(10);
        socket.Deliver(message);

        var pieces = new List<byte[]>();
        for (int i = 0; i < 3; i++)
        {
            var buffer = new byte[4];
            int read = await stream.ReadAsync(buffer);
            pieces.Add(buffer[..read]);
        }

        CollectionAssert.AreEqual(new[] { 4, 4, 2 }, pieces.Select(p => p.Length).ToArray());
        CollectionAssert.AreEqual(message, pieces.SelectMany(p => p).ToArray());
        Assert.AreEqual(1, socket.ReceiveBufferSizes.Count, "one receive served the three reads");
    }

    [TestMethod]
    public async Task AZeroByteRead_ReturnsAtOnce_WithoutReceiving()
    {
        // PipeReader's zero-byte reads must not consume a close or an empty message that the next real read then misses.
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, 1024);
        socket.DeliverClose();

        var read = stream.ReadAsync(Memory<byte>.Empty);

        Assert.IsTrue(read.IsCompleted);
        Assert.AreEqual(0, await read);
        Assert.AreEqual(0, socket.ReceiveBufferSizes.Count);
        Assert.IsFalse(stream.CloseReceived, "the close is still there for the next read");
        Assert.AreEqual(0, await stream.ReadAsync(new byte[8]));
        Assert.IsTrue(stream.CloseReceived);
    }

    [TestMethod]
    public async Task AfterAClose_ReadsEndWithoutReceivingAgain()
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, 1024);
        socket.DeliverClose();
        Assert.AreEqual(0, await stream.ReadAsync(new byte[8]));

        var again = stream.ReadAsync(new byte[8]);

        Assert.IsTrue(again.IsCompleted, "the socket is still Open as far as its State says, yet the close was seen");
        Assert.AreEqual(0, await again);
        Assert.AreEqual(1, socket.ReceiveBufferSizes.Count);
    }

    [TestMethod]
    [DataRow(WebSocketState.CloseReceived)]
    [DataRow(WebSocketState.Closed)]
    [DataRow(WebSocketState.Aborted)]
    public async Task OnASocketThatIsClosingOrGone_AReadEndsAtOnce(WebSocketState state)
    {
        var socket = new ScriptedWebSocket { CurrentState = state };
        using var stream = new WebSocketFrameStream(socket, 0, 1024);

        var read = stream.ReadAsync(new byte[8]);

        Assert.IsTrue(read.IsCompleted);
        Assert.AreEqual(0, await read);
        Assert.AreEqual(0, socket.ReceiveBufferSizes.Count);
    }

    [TestMethod]
    public async Task BytesThatAlreadyArrived_AreReturned_EvenToAReadWhoseTokenIsCancelled()
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, 1024);
        socket.Deliver(new byte[] { 1, 2, 3 });

        Assert.AreEqual(3, await stream.ReadAsync(new byte[8], new CancellationToken(canceled: true)));
    }

    [TestMethod]
    public async Task ACancelledRead_KeepsItsReceive_ForTheNextRead()
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, 1024);
        using var cancel = new CancellationTokenSource();
        var read = stream.ReadAsync(new byte[8], cancel.Token).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => read.WaitAsync(Timeout));

        socket.Deliver(new byte[] { 4, 5 });
        var buffer = new byte[8];
        Assert.AreEqual(2, await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeout));

        CollectionAssert.AreEqual(new byte[] { 4, 5 }, buffer[..2]);
        Assert.AreEqual(1, socket.ReceiveBufferSizes.Count, "one receive, started by the cancelled read, finished for the next");
        Assert.IsTrue(socket.ReceiveTokens.All(t => !t.CanBeCanceled), "a WebSocket receive is never given a token: cancelling it aborts the socket");
    }

    [TestMethod]
    public async Task MessagesOfExactlyTheLimit_OneAfterAnother_AreRead_AndAFragmentedOneOverItIsRefused()
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, maxReadMessageBytes: 8, maxWriteMessageBytes: 1024);
        socket.Deliver(Pattern(8));
        socket.Deliver(Pattern(8));
        socket.Deliver(Pattern(5), endOfMessage: false);
        socket.Deliver(Pattern(4));

        CollectionAssert.AreEqual(Pattern(8), await ReadExactlyAsync(stream, 8));
        CollectionAssert.AreEqual(Pattern(8), await ReadExactlyAsync(stream, 8));
        CollectionAssert.AreEqual(Pattern(5), await ReadExactlyAsync(stream, 5), "the first fragment is within the limit");
        var refused = await Assert.ThrowsExactlyAsync<WebSocketFrameException>(() => stream.ReadAsync(new byte[8]).AsTask());
        Assert.AreEqual(EjectCode.WebSocketMessageTooLarge, refused.Code);
        Assert.AreEqual("a WebSocket message of more than 8 bytes (ClientAgent:WebSocket:MaxMessageBytes); send the frames in smaller messages", refused.Message);
    }

    [TestMethod]
    [DataRow(25, new[] { 20, 10 }, DisplayName = "two 10-byte frames per message")]
    [DataRow(30, new[] { 30 }, DisplayName = "exactly three frames fill the limit")]
    [DataRow(29, new[] { 20, 10 })]
    [DataRow(5, new[] { 10, 10, 10 }, DisplayName = "a frame larger than the limit goes alone")]
    [DataRow(0, new[] { 10, 10, 10 }, DisplayName = "no limit below a frame header")]
    public async Task AWrite_IsSentAsBinaryMessagesOfWholeFrames(int limit, int[] messages)
    {
        var socket = new ScriptedWebSocket();
        using var stream = new WebSocketFrameStream(socket, 0, maxWriteMessageBytes: limit);
        byte[] frames = [.. FrameOf(4, 1), .. FrameOf(4, 2), .. FrameOf(4, 3)];

        await stream.WriteAsync(frames.AsMemory(), CancellationToken.None);

        CollectionAssert.AreEqual(messages, socket.Sent.Select(s => s.Bytes.Length).ToArray());
        Assert.IsTrue(socket.Sent.All(s => s is { Type: WebSocketMessageType.Binary, EndOfMessage: true }));
        CollectionAssert.AreEqual(frames, socket.Sent.SelectMany(s => s.Bytes).ToArray());
        await stream.FlushAsync();
        stream.Flush();
    }

    [TestMethod]
    public void WholeFramesWithin_TakesAtLeastOneFrame_AndOnlyWholeOnes()
    {
        byte[] three = [.. FrameOf(4, 1), .. FrameOf(4, 2), .. FrameOf(4, 3)];
        Assert.AreEqual(20, WebSocketFrameStream.WholeFramesWithin(three, 25));
        Assert.AreEqual(20, WebSocketFrameStream.WholeFramesWithin(three, 20), "a frame that ends exactly at the limit fits");
        Assert.AreEqual(10, WebSocketFrameStream.WholeFramesWithin(three, 19));
        Assert.AreEqual(10, WebSocketFrameStream.WholeFramesWithin(three, 1), "the first frame goes even past the limit");
        Assert.AreEqual(30, WebSocketFrameStream.WholeFramesWithin(three, 1000));

        // Bytes that are not whole frames (raw writes) go as they are, never split inside.
        Assert.AreEqual(3, WebSocketFrameStream.WholeFramesWithin(new byte[] { 1, 2, 3 }, 100));
        byte[] frameThenPartialHeader = [.. FrameOf(4, 1), 100, 0, 0, 0];
        Assert.AreEqual(14, WebSocketFrameStream.WholeFramesWithin(frameThenPartialHeader, 100), "a frame then a length whose frame is not there: everything");
        Assert.AreEqual(14, WebSocketFrameStream.WholeFramesWithin(frameThenPartialHeader, 11));
        byte[] frameThenThreeBytes = [.. FrameOf(4, 1), 7, 7, 7];
        Assert.AreEqual(10, WebSocketFrameStream.WholeFramesWithin(frameThenThreeBytes, 100), "a tail shorter than a length field waits for the next message");
        Assert.AreEqual(0, WebSocketFrameStream.WholeFramesWithin(ReadOnlySpan<byte>.Empty, 100));
    }

    [TestMethod]
    public async Task CloseAsync_OnAnOpenSocket_SendsANormalClosure_DoesNotAbort_AndDisposesItOnce()
    {
        var socket = new ScriptedWebSocket();
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await stream.CloseAsync(Timeout);
        await stream.CloseAsync(Timeout);
        stream.Dispose();
        await stream.DisposeAsync();

        Assert.AreEqual((WebSocketCloseStatus.NormalClosure, string.Empty), socket.CloseOutputs.Single());
        Assert.AreEqual(0, socket.Aborts, "an abort after a clean close would reset the connection and lose the last frames");
        Assert.AreEqual(1, socket.Disposals);
    }

    [TestMethod]
    public async Task CloseAsync_AfterThePeersClose_AnswersIt()
    {
        var socket = new ScriptedWebSocket { CurrentState = WebSocketState.CloseReceived };
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await stream.CloseAsync(Timeout);

        Assert.AreEqual(1, socket.CloseOutputs.Count);
        Assert.AreEqual(0, socket.Aborts);
    }

    [TestMethod]
    [DataRow(WebSocketState.Closed)]
    [DataRow(WebSocketState.Aborted)]
    [DataRow(WebSocketState.CloseSent)]
    public async Task CloseAsync_OnASocketNoLongerOpen_SendsNothing_AndAbortsIt(WebSocketState state)
    {
        var socket = new ScriptedWebSocket { CurrentState = state };
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await stream.CloseAsync(Timeout);

        Assert.AreEqual(0, socket.CloseOutputs.Count);
        Assert.AreEqual(1, socket.Aborts);
        Assert.AreEqual(1, socket.Disposals);
    }

    [TestMethod]
    [DataRow(typeof(WebSocketException))]
    [DataRow(typeof(OperationCanceledException))]
    [DataRow(typeof(ObjectDisposedException))]
    [DataRow(typeof(IOException))]
    [DataRow(typeof(InvalidOperationException))]
    public async Task CloseAsync_WhenTheCloseFails_AbortsInstead_WithoutThrowing(Type failure)
    {
        var socket = new ScriptedWebSocket
        {
            CloseFailure = failure == typeof(ObjectDisposedException) ? new ObjectDisposedException("socket") : (Exception)Activator.CreateInstance(failure)!,
        };
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await stream.CloseAsync(Timeout);

        Assert.AreEqual(1, socket.CloseOutputs.Count);
        Assert.AreEqual(1, socket.Aborts);
        Assert.AreEqual(1, socket.Disposals);
    }

    [TestMethod]
    public async Task CloseAsync_PassesOnAnUnexpectedFailure_AfterAbortingTheSocket()
    {
        var socket = new ScriptedWebSocket { CloseFailure = new FormatException("not a transport failure") };
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await Assert.ThrowsExactlyAsync<FormatException>(() => stream.CloseAsync(Timeout));

        Assert.AreEqual(1, socket.Aborts);
        Assert.AreEqual(1, socket.Disposals);
    }

    [TestMethod]
    public async Task CloseAsync_GivesAPeerThatNeverAnswersOnlyTheTimeout_ThenAborts()
    {
        var socket = new ScriptedWebSocket { CloseHangs = true };
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await stream.CloseAsync(TimeSpan.FromMilliseconds(50)).WaitAsync(Timeout);

        Assert.AreEqual(1, socket.Aborts);
        Assert.AreEqual(1, socket.Disposals);
    }

    [TestMethod]
    public async Task DisposeAsync_ClosesPolitely()
    {
        var socket = new ScriptedWebSocket();
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        await stream.DisposeAsync();

        Assert.AreEqual(1, socket.CloseOutputs.Count);
        Assert.AreEqual(0, socket.Aborts);
        Assert.AreEqual(1, socket.Disposals);
    }

    [TestMethod]
    public async Task Dispose_AbortsAndDisposesTheSocketOnce_AndACloseAfterItSendsNothing()
    {
        var socket = new ScriptedWebSocket();
        var stream = new WebSocketFrameStream(socket, 0, 1024);

        stream.Dispose();
        stream.Dispose();
        await stream.CloseAsync(Timeout);

        Assert.AreEqual(1, socket.Aborts);
        Assert.AreEqual(1, socket.Disposals);
        Assert.AreEqual(0, socket.CloseOutputs.Count);
        Assert.AreSame(socket, stream.Socket);
    }

    // ---- helpers ----

    private static Task SendAsync(WebSocket socket, ReadOnlyMemory<byte> message, WebSocketMessageType type, bool endOfMessage) =>
        socket.SendAsync(message, type, endOfMessage, CancellationToken.None).AsTask();

    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();

    private static byte[] FrameOf(int payload, byte fill)
    {
        var frame = new byte[Frame.HeaderSize + payload];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(payload + 2));
        frame.AsSpan(Frame.LengthSize).Fill(fill);
        return frame;
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(read)).AsTask().WaitAsync(Timeout);
            if (n == 0)
            {
                throw new EndOfStreamException($"the stream ended after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>Two connected loopback TCP ends.</summary>
    private sealed class TcpPair : IDisposable
    {
        private readonly TcpListener listener;
        private readonly TcpClient client;
        private readonly Socket accepted;

        private TcpPair(TcpListener listener, TcpClient client, Socket accepted)
        {
            this.listener = listener;
            this.client = client;
            this.accepted = accepted;
            Client = client.GetStream();
            ServerStream = new NetworkStream(accepted, ownsSocket: true);
        }

        public NetworkStream Client { get; }

        public NetworkStream ServerStream { get; }

        public static async Task<TcpPair> ConnectAsync()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port).WaitAsync(Timeout);
            var accepted = await listener.AcceptSocketAsync().WaitAsync(Timeout);
            return new TcpPair(listener, client, accepted);
        }

        public void Dispose()
        {
            client.Dispose();
            accepted.Dispose();
            listener.Stop();
        }
    }

    /// <summary>A server WebSocket wrapped in the stream under test, and the client WebSocket at the other end, over loopback TCP.</summary>
    private sealed class WebSocketPair : IAsyncDisposable
    {
        private readonly TcpPair tcp;

        private WebSocketPair(TcpPair tcp, int maxReadMessageBytes, int maxWriteMessageBytes)
        {
            this.tcp = tcp;
            Server = WebSocket.CreateFromStream(tcp.ServerStream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
            Client = WebSocket.CreateFromStream(tcp.Client, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
            Stream = new WebSocketFrameStream(Server, maxReadMessageBytes, maxWriteMessageBytes);
        }

        public WebSocket Server { get; }

        public WebSocket Client { get; }

        public WebSocketFrameStream Stream { get; }

        public static async Task<WebSocketPair> ConnectAsync(int maxReadMessageBytes, int maxWriteMessageBytes = 64 * 1024) =>
            new(await TcpPair.ConnectAsync(), maxReadMessageBytes, maxWriteMessageBytes);

        public async ValueTask DisposeAsync()
        {
            Stream.Dispose();
            Client.Abort();
            Client.Dispose();
            tcp.Dispose();
            await Task.CompletedTask;
        }
    }

    /// <summary>
    /// A WebSocket whose receives return what the test delivered (split to the receive's buffer as .NET's does), and
    /// which records its sends, close messages, aborts and disposals. A receive with nothing delivered waits.
    /// </summary>
    private sealed class ScriptedWebSocket : WebSocket
    {
        private readonly Channel<(byte[] Bytes, WebSocketMessageType Type, bool EndOfMessage)> delivered = Channel.CreateUnbounded<(byte[], WebSocketMessageType, bool)>();
        private (byte[] Bytes, WebSocketMessageType Type, bool EndOfMessage)? carried;

        public WebSocketState CurrentState { get; set; } = WebSocketState.Open;

        public Exception? CloseFailure { get; init; }

        public bool CloseHangs { get; init; }

        public List<int> ReceiveBufferSizes { get; } = new();

        public List<CancellationToken> ReceiveTokens { get; } = new();

        public List<(byte[] Bytes, WebSocketMessageType Type, bool EndOfMessage)> Sent { get; } = new();

        public List<(WebSocketCloseStatus Status, string? Description)> CloseOutputs { get; } = new();

        public int Aborts { get; private set; }

        public int Disposals { get; private set; }

        public override WebSocketCloseStatus? CloseStatus => null;

        public override string? CloseStatusDescription => null;

        public override WebSocketState State => CurrentState;

        public override string? SubProtocol => null;

        public void Deliver(byte[] bytes, bool endOfMessage = true) => delivered.Writer.TryWrite((bytes, WebSocketMessageType.Binary, endOfMessage));

        public void DeliverClose() => delivered.Writer.TryWrite((Array.Empty<byte>(), WebSocketMessageType.Close, true));

        public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            ReceiveBufferSizes.Add(buffer.Length);
            ReceiveTokens.Add(cancellationToken);
            var next = carried ?? await delivered.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            carried = null;
            int count = Math.Min(next.Bytes.Length, buffer.Length);
            next.Bytes.AsSpan(0, count).CopyTo(buffer.Span);
            if (count < next.Bytes.Length)
            {
                carried = (next.Bytes[count..], next.Type, next.EndOfMessage);
                return new ValueWebSocketReceiveResult(count, next.Type, endOfMessage: false);
            }

            return new ValueWebSocketReceiveResult(count, next.Type, next.EndOfMessage);
        }

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            var result = await ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            return new WebSocketReceiveResult(result.Count, result.MessageType, result.EndOfMessage);
        }

        public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            // An empty message would mean the write made no progress (and a loop that makes none never ends).
            if (buffer.IsEmpty)
            {
                throw new InvalidOperationException("the stream sent an empty WebSocket message");
            }

            Sent.Add((buffer.ToArray(), messageType, endOfMessage));
            return ValueTask.CompletedTask;
        }

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
            SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

        public override async Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
        {
            CloseOutputs.Add((closeStatus, statusDescription));
            if (CloseFailure is not null)
            {
                throw CloseFailure;
            }

            if (CloseHangs)
            {
                await Task.Delay(System.Threading.Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }

            CurrentState = CurrentState == WebSocketState.CloseReceived ? WebSocketState.Closed : WebSocketState.CloseSent;
        }

        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
            CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

        public override void Abort()
        {
            Aborts++;
            CurrentState = WebSocketState.Aborted;
        }

        public override void Dispose() => Disposals++;
    }
}
