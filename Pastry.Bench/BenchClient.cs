using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Pastry.Wire;

namespace Pastry.Bench;

/// <summary>What every client of a run shares: whether latencies are being recorded, and which field carries the send time.</summary>
internal sealed class BenchRunState
{
    private volatile bool measuring;
    private volatile bool stopping;

    public BenchRunState(int sentTicksFieldIndex)
    {
        SentTicksFieldIndex = sentTicksFieldIndex;
    }

    /// <summary>The field index of the send time (<see cref="BenchEntity.SentTicks"/> or <see cref="BenchAvatar.SentTicks"/>).</summary>
    public int SentTicksFieldIndex { get; }

    /// <summary>True during the measured window: clients record latencies.</summary>
    public bool Measuring
    {
        get => measuring;
        set => measuring = value;
    }

    /// <summary>True once the bench is ending: connections that close now were closed by the bench, not ejected.</summary>
    public bool Stopping
    {
        get => stopping;
        set => stopping = value;
    }
}

/// <summary>
/// Sees the frames a <see cref="BenchClient"/>'s receive loop does not handle itself (Location, InterestDone, Enter
/// and Leave), in its thread, in order. Scenarios in which clients react to the world (grid) implement it.
/// </summary>
internal interface IBenchFrameObserver
{
    /// <summary>One frame; <paramref name="now"/> is when its bytes arrived (Stopwatch ticks). Must not block.</summary>
    void OnFrame(BenchClient client, MessageType type, ReadOnlySpan<byte> payload, long now);
}

/// <summary>
/// One raw protocol client of <c>pastry bench</c> over real TCP. Setup (hello, account, login, interest) reads frames
/// one by one and may allocate; the receive loop of a run parses frames in place in one buffer and only counts them
/// and records latencies, so it allocates nothing per frame.
/// </summary>
internal sealed class BenchClient : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);
    private static readonly long TicksPerMicrosecond = Math.Max(1, Stopwatch.Frequency / 1_000_000);
    private static readonly byte[] HeartbeatFrame = BuildHeartbeat();

    // One of the two transports: a plain socket, or a WebSocket whose messages carry the same frames (--transport ws).
    private readonly Socket? socket;
    private readonly System.Net.WebSockets.ClientWebSocket? webSocket;
    private readonly WebSocketFrameStream? webSocketFrames;
    private readonly PooledBufferWriter writer = new(256);
    private readonly object sendGate = new();
    private byte[] buffer;
    private int start;
    private int end;
    private long deliveries;
    private long bytesReceived;
    private int closedByServer;

    private BenchClient(Socket socket, int bufferBytes)
    {
        this.socket = socket;
        buffer = new byte[bufferBytes];
    }

    private BenchClient(System.Net.WebSockets.ClientWebSocket webSocket, int bufferBytes)
    {
        this.webSocket = webSocket;
        webSocketFrames = new WebSocketFrameStream(webSocket, maxReadMessageBytes: 0, maxWriteMessageBytes: 64 * 1024, receiveBufferBytes: bufferBytes);
        buffer = new byte[bufferBytes];
    }

    /// <summary>SetField frames received so far (read from other threads).</summary>
    public long Deliveries => Volatile.Read(ref deliveries);

    /// <summary>Bytes received so far (read from other threads).</summary>
    public long BytesReceived => Volatile.Read(ref bytesReceived);

    /// <summary>Whether the server closed the connection or ejected the client.</summary>
    public bool ClosedByServer => Volatile.Read(ref closedByServer) != 0;

    /// <summary>The account this client logged in as.</summary>
    public DoId Account { get; private set; }

    /// <summary>Sees the frames the receive loop does not handle itself; set before <see cref="ReceiveAsync"/>.</summary>
    public IBenchFrameObserver? Observer { get; set; }

    /// <summary>Eject frames received.</summary>
    public int Ejects { get; private set; }

    /// <summary>The last eject's code and reason, for the report.</summary>
    public string? LastEject { get; private set; }

    /// <summary>Frames the client could not make sense of.</summary>
    public int ProtocolErrors { get; private set; }

    /// <summary>Latencies from the AI's send to this client's receive, recorded during the measured window.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>Connects to the server's Client Agent (over its WebSocket transport when it has one), says hello, creates an account <paramref name="user"/> and logs in.</summary>
    public static Task<BenchClient> LoggedInAsync(BenchServer server, ModelRegistry registry, string user, int bufferBytes, CancellationToken cancellation) =>
        server.WebSocketUrl is { } url
            ? LoggedInAsync(new BenchClient(new System.Net.WebSockets.ClientWebSocket { Options = { KeepAliveInterval = TimeSpan.Zero } }, bufferBytes), url, null, registry, user, cancellation)
            : LoggedInAsync(server.ClientEndPoint, registry, user, bufferBytes, cancellation);

    /// <summary>Connects over TCP, says hello, creates an account <paramref name="user"/> and logs in.</summary>
    public static Task<BenchClient> LoggedInAsync(IPEndPoint endpoint, ModelRegistry registry, string user, int bufferBytes, CancellationToken cancellation) =>
        LoggedInAsync(new BenchClient(new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }, bufferBytes), null, endpoint, registry, user, cancellation);

    private static async Task<BenchClient> LoggedInAsync(BenchClient client, Uri? url, IPEndPoint? endpoint, ModelRegistry registry, string user, CancellationToken cancellation)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(StepTimeout);
            if (client.webSocket is { } webSocket)
            {
                await webSocket.ConnectAsync(url!, timeout.Token).ConfigureAwait(false);
            }
            else
            {
                await client.socket!.ConnectAsync(endpoint!, timeout.Token).ConfigureAwait(false);
            }

            client.writer.Reset();
            ClientFrames.WriteHello(client.writer, registry.SchemaHash, "1.0.0");
            await client.SendAsync(timeout.Token).ConfigureAwait(false);
            await client.ExpectAsync(MessageType.HelloResp, timeout.Token).ConfigureAwait(false);

            var login = registry.GetModel<LoginManager>();
            const string Password = "bench-password";
            await client.CallLoginAsync(login.GetMethod(nameof(LoginManager.CreateAccount)), user, Password, timeout.Token).ConfigureAwait(false);
            client.Account = await client.CallLoginAsync(login.GetMethod(nameof(LoginManager.Login)), user, Password, timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            client.Dispose();
            throw new BenchException($"client {user}: no answer from the server within {StepTimeout.TotalSeconds:0} s during setup");
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Opens interest in <c>(parent, zone)</c> and waits for InterestDone; returns how many objects entered.</summary>
    public Task<int> AddInterestAsync(uint context, DoId parent, uint zone, CancellationToken cancellation) =>
        AddInterestAsync(context, parent, new[] { zone }, cancellation);

    /// <summary>Opens interest in <paramref name="zones"/> of <paramref name="parent"/> and waits for InterestDone; returns how many objects entered.</summary>
    public async Task<int> AddInterestAsync(uint context, DoId parent, uint[] zones, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(StepTimeout);
        writer.Reset();
        ClientFrames.WriteAddInterest(writer, context, parent, zones);
        await SendAsync(timeout.Token).ConfigureAwait(false);
        int entered = 0;
        while (true)
        {
            var (type, payload) = await NextFrameAsync(timeout.Token).ConfigureAwait(false);
            if (type is MessageType.EnterObject or MessageType.EnterOwnedObject)
            {
                entered++;
            }
            else if (type == MessageType.InterestDone && BinaryPrimitives.ReadUInt32LittleEndian(payload) == context)
            {
                return entered;
            }
        }
    }

    /// <summary>Sends a heartbeat so that the server's heartbeat timeout never ejects an idle client. Never throws.</summary>
    public void SendHeartbeat() => TrySend(HeartbeatFrame);

    /// <summary>
    /// Sends whole frames from any thread (sends are serialised, so frames never interleave); false when the
    /// connection is gone. Blocks only while the socket's send buffer is full. Allocates nothing.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> frames)
    {
        try
        {
            lock (sendGate)
            {
                if (webSocketFrames is not null)
                {
                    // Heartbeats and moves, a few per second: waiting for the WebSocket's send here is fine.
                    webSocketFrames.WriteAsync(frames.ToArray()).AsTask().GetAwaiter().GetResult();
                    return true;
                }

                while (!frames.IsEmpty)
                {
                    int sent = socket!.Send(frames, SocketFlags.None, out var error);
                    if (error != SocketError.Success || sent <= 0)
                    {
                        return false;
                    }

                    frames = frames.Slice(sent);
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or IOException or System.Net.WebSockets.WebSocketException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads until <paramref name="cancellation"/> or the server closes the connection, counting SetField(s) frames and
    /// recording the latency of those whose last value is the run's send-time field while the run is measuring.
    /// Location, InterestDone, Enter and Leave frames go to <see cref="Observer"/>.
    /// </summary>
    public async Task ReceiveAsync(BenchRunState run, CancellationToken cancellation)
    {
        try
        {
            while (true)
            {
                if (buffer.Length - end < 512)
                {
                    Compact();
                }

                int received = await ReceiveRawAsync(buffer.AsMemory(end), cancellation).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                long now = Stopwatch.GetTimestamp();
                end += received;
                Volatile.Write(ref bytesReceived, bytesReceived + received);
                if (!ParseReceived(run, now))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or System.Net.WebSockets.WebSocketException && run.Stopping)
        {
            return;
        }
        catch (Exception ex) when (ex is SocketException or IOException or System.Net.WebSockets.WebSocketException)
        {
        }

        if (!run.Stopping)
        {
            Volatile.Write(ref closedByServer, 1);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        socket?.Dispose();
        webSocket?.Abort();
        webSocket?.Dispose();
        writer.Dispose();
    }

    /// <summary>Reads what arrived: bytes from the socket, or the frames of the WebSocket's messages.</summary>
    private ValueTask<int> ReceiveRawAsync(Memory<byte> into, CancellationToken cancellation) =>
        webSocketFrames is not null ? webSocketFrames.ReadAsync(into, cancellation) : socket!.ReceiveAsync(into, SocketFlags.None, cancellation);

    private static byte[] BuildHeartbeat()
    {
        using var frame = new PooledBufferWriter(16);
        ClientFrames.WriteEmpty(frame, MessageType.Heartbeat);
        return frame.WrittenSpan.ToArray();
    }

    /// <summary>Parses every whole frame in the buffer. False when the connection must end (eject or bad frame).</summary>
    private bool ParseReceived(BenchRunState run, long now)
    {
        var data = buffer.AsSpan(start, end - start);
        int position = 0;
        long setFields = 0;
        bool keepGoing = true;
        bool measuring = run.Measuring;
        int latencyField = run.SentTicksFieldIndex;
        var observer = Observer;
        while (data.Length - position >= Frame.HeaderSize)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(position));
            if (length < 2 || length > 16 * 1024 * 1024)
            {
                ProtocolErrors++;
                keepGoing = false;
                break;
            }

            if (data.Length - position < Frame.LengthSize + length)
            {
                if (Frame.LengthSize + length > buffer.Length)
                {
                    Array.Resize(ref buffer, (int)(Frame.LengthSize + length));
                    data = buffer.AsSpan(start, end - start);
                }

                break;
            }

            var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(position + Frame.LengthSize));
            var payload = data.Slice(position + Frame.HeaderSize, (int)length - 2);
            position += Frame.LengthSize + (int)length;
            switch (type)
            {
                case MessageType.SetField:
                case MessageType.SetFields:
                    setFields++;

                    // The bench puts the send time last: field index (2) and int64 value (8) end the frame, after the
                    // doid (16) and, in a SetFields, the count and the other values.
                    if (measuring && payload.Length >= DoId.Size + 2 + 8 && BinaryPrimitives.ReadUInt16LittleEndian(payload.Slice(payload.Length - 10)) == latencyField)
                    {
                        long sent = BinaryPrimitives.ReadInt64LittleEndian(payload.Slice(payload.Length - 8));
                        Latency.Record((now - sent) / TicksPerMicrosecond);
                    }

                    break;
                case MessageType.Location:
                case MessageType.InterestDone:
                case MessageType.EnterObject:
                case MessageType.EnterOwnedObject:
                case MessageType.LeaveObject:
                    observer?.OnFrame(this, type, payload, now);
                    break;
                case MessageType.Eject:
                    Ejects++;
                    LastEject = DescribeEject(payload);
                    keepGoing = false;
                    break;
            }

            if (!keepGoing)
            {
                break;
            }
        }

        start += position;
        if (start == end)
        {
            start = end = 0;
        }

        if (setFields > 0)
        {
            Volatile.Write(ref deliveries, deliveries + setFields);
        }

        return keepGoing;
    }

    private void Compact()
    {
        if (start > 0)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }

        if (buffer.Length - end < 512)
        {
            Array.Resize(ref buffer, buffer.Length * 2);
        }
    }

    private static string DescribeEject(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new WireReader(payload);
            ushort code = reader.ReadUInt16();
            return $"{code}: {reader.ReadString()}";
        }
        catch (WireFormatException)
        {
            return "malformed eject";
        }
    }

    private async Task<DoId> CallLoginAsync(MethodDescriptor method, string user, string password, CancellationToken cancellation)
    {
        writer.Reset();
        ClientFrames.WriteCallMethod(writer, LoginManager.WellKnownId, method, new object?[] { user, password });
        await SendAsync(cancellation).ConfigureAwait(false);
        var (type, payload) = await ExpectAsync(MessageType.CallMethod, cancellation).ConfigureAwait(false);
        var reader = new WireReader(payload);
        var target = reader.ReadDoId();
        int index = reader.ReadUInt16();
        var login = method.Model;
        if (target != LoginManager.WellKnownId || login.FindMethodByWireId(index) is not { } answered)
        {
            throw new BenchException($"client {user}: unexpected call {index} on {target} in answer to {method.Name}");
        }

        var answer = answered.DecodeArguments(ref reader);
        if ((int)answer[0]! != 0)
        {
            throw new BenchException($"client {user}: {method.Name} failed with status {answer[0]}: {answer[2]}");
        }

        _ = type;
        return answer[1] is DoId accountId ? accountId : DoId.Empty;
    }

    private async Task SendAsync(CancellationToken cancellation)
    {
        var bytes = writer.WrittenMemory;
        if (webSocketFrames is not null)
        {
            await webSocketFrames.WriteAsync(bytes, cancellation).ConfigureAwait(false);
            return;
        }

        while (!bytes.IsEmpty)
        {
            int sent = await socket!.SendAsync(bytes, SocketFlags.None, cancellation).ConfigureAwait(false);
            bytes = bytes.Slice(sent);
        }
    }

    private async Task<(MessageType Type, byte[] Payload)> ExpectAsync(MessageType expected, CancellationToken cancellation)
    {
        var (type, payload) = await NextFrameAsync(cancellation).ConfigureAwait(false);

        // A login also sends a resume token; these bench clients never resume.
        while (type == MessageType.ResumeToken && expected != MessageType.ResumeToken)
        {
            (type, payload) = await NextFrameAsync(cancellation).ConfigureAwait(false);
        }

        if (type != expected)
        {
            throw new BenchException($"expected {expected} from the server, got {type}{(type == MessageType.Eject ? " " + DescribeEject(payload) : string.Empty)}");
        }

        return (type, payload);
    }

    /// <summary>The next whole frame during setup (copied out; setup may allocate).</summary>
    private async Task<(MessageType Type, byte[] Payload)> NextFrameAsync(CancellationToken cancellation)
    {
        while (true)
        {
            if (end - start >= Frame.HeaderSize)
            {
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(start));
                if (length < 2 || length > 16 * 1024 * 1024)
                {
                    throw new BenchException($"the server sent a frame with length {length}");
                }

                if (end - start >= Frame.LengthSize + length)
                {
                    var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(start + Frame.LengthSize));
                    var payload = buffer.AsSpan(start + Frame.HeaderSize, (int)length - 2).ToArray();
                    start += Frame.LengthSize + (int)length;
                    if (start == end)
                    {
                        start = end = 0;
                    }

                    return (type, payload);
                }

                if (Frame.LengthSize + length > buffer.Length)
                {
                    Array.Resize(ref buffer, (int)(Frame.LengthSize + length));
                }
            }

            if (buffer.Length - end < 512)
            {
                Compact();
            }

            int received = await ReceiveRawAsync(buffer.AsMemory(end), cancellation).ConfigureAwait(false);
            if (received == 0)
            {
                throw new BenchException("the server closed the connection during setup");
            }

            end += received;
            bytesReceived += received;
        }
    }
}

/// <summary>A bench that cannot go on (setup failed, the server died); reported with exit code 1.</summary>
internal sealed class BenchException(string message) : Exception(message);
