using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>One frame received from the server.</summary>
internal sealed record ReceivedFrame(MessageType Type, byte[] Payload)
{
    public WireReader Reader() => new(Payload);
}

/// <summary>
/// A raw protocol client for end-to-end tests: real TCP, frames written by <see cref="ClientFrames"/>, and every
/// received frame queued so that tests await them with timeouts (no sleeps).
/// </summary>
internal sealed class RawClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    private readonly IDisposable connection;
    private readonly Stream stream;
    private readonly Channel<ReceivedFrame> received = System.Threading.Channels.Channel.CreateUnbounded<ReceivedFrame>();
    private readonly Task readLoop;
    private readonly PooledBufferWriter writer = new(256);

    private volatile TaskCompletionSource? paused;
    private long receivedBytes;

    private RawClient(TcpClient tcp)
        : this(tcp, tcp.GetStream())
    {
    }

    private RawClient(IDisposable connection, Stream stream)
    {
        this.connection = connection;
        this.stream = stream;
        readLoop = Task.Run(ReadAsync);
    }

    /// <summary>Completes when the server closes the connection.</summary>
    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DoId AccountId { get; private set; }

    /// <summary>The last resume token the server sent (ResumeToken frames are kept here, not queued).</summary>
    public byte[]? ResumeToken { get; private set; }

    /// <summary>Bytes of the session's frames read so far (ejects excepted), as a Resume reports them.</summary>
    public long ReceivedBytes => Interlocked.Read(ref receivedBytes);

    /// <summary>The session id from HelloResp (set by <see cref="LoggedInAsync"/>).</summary>
    public DoId SessionId { get; private set; }

    /// <summary>Connects; <paramref name="localAddress"/> (for example 127.0.0.2) makes the server see another client address.</summary>
    public static async Task<RawClient> ConnectAsync(IPEndPoint endpoint, int? receiveBufferBytes = null, IPAddress? localAddress = null)
    {
        var tcp = localAddress is null ? new TcpClient { NoDelay = true } : new TcpClient(new IPEndPoint(localAddress, 0)) { NoDelay = true };
        if (receiveBufferBytes is int size)
        {
            tcp.ReceiveBufferSize = size;
        }

        await tcp.ConnectAsync(endpoint.Address, endpoint.Port);
        return new RawClient(tcp);
    }

    /// <summary>Connects over the WebSocket transport: each frame written goes out in a binary message, as the agent reads them.</summary>
    public static async Task<RawClient> ConnectWebSocketAsync(Uri url, string? origin = null)
    {
        var socket = new System.Net.WebSockets.ClientWebSocket();
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        try
        {
            await socket.ConnectAsync(url, CancellationToken.None);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new RawClient(socket, new WebSocketFrameStream(socket, maxReadMessageBytes: 0, maxWriteMessageBytes: 64 * 1024));
    }

    /// <summary>Connects, says hello, creates an account and logs in.</summary>
    public static async Task<RawClient> LoggedInAsync(IPEndPoint endpoint, ModelRegistry registry, string user, string version = "1.0.0", int? receiveBufferBytes = null, IPAddress? localAddress = null) =>
        await LogInAsync(await ConnectAsync(endpoint, receiveBufferBytes, localAddress), registry, user, version);

    /// <summary>Says hello on a connected <paramref name="client"/>, creates an account and logs in.</summary>
    public static async Task<RawClient> LogInAsync(RawClient client, ModelRegistry registry, string user, string version = "1.0.0")
    {
        await client.HelloAsync(registry.SchemaHash, version);
        var hello = (await client.ExpectAsync(MessageType.HelloResp)).Reader();
        hello.ReadInt64();
        client.SessionId = hello.ReadDoId();
        await client.CallLoginAsync(registry, nameof(LoginManager.CreateAccount), user, "correct horse battery");
        var created = await client.ExpectCallAsync(registry);
        Assert.AreEqual(0, (int)created.Arguments[0]!, (string)created.Arguments[2]!);
        await client.CallLoginAsync(registry, nameof(LoginManager.Login), user, "correct horse battery");
        var login = await client.ExpectCallAsync(registry);
        Assert.AreEqual(0, (int)login.Arguments[0]!, (string)login.Arguments[2]!);
        client.AccountId = (DoId)login.Arguments[1]!;
        return client;
    }

    public Task HelloAsync(ulong hash, string version = "1.0.0") => SendAsync(w => ClientFrames.WriteHello(w, hash, version));

    public Task CallLoginAsync(ModelRegistry registry, string method, params object?[] arguments) =>
        SendAsync(w => ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, registry.GetModel<LoginManager>().GetMethod(method), arguments));

    public Task AddInterestAsync(uint context, DoId parent, params uint[] zones) => SendAsync(w => ClientFrames.WriteAddInterest(w, context, parent, zones));

    public Task RemoveInterestAsync(uint context) => SendAsync(w => ClientFrames.WriteContext(w, MessageType.RemoveInterest, context));

    public Task SetFieldAsync<TValue>(DoId target, FieldDescriptor<TValue> field, TValue value) => SendAsync(w => ClientFrames.WriteSetField(w, target, field, value));

    public Task CallAsync(DoId target, MethodDescriptor method, params object?[] arguments) => SendAsync(w => ClientFrames.WriteCallMethod(w, target, method, arguments));

    public async Task SendAsync(Action<PooledBufferWriter> write)
    {
        writer.Reset();
        write(writer);
        await stream.WriteAsync(writer.WrittenMemory);
    }

    public async Task SendRawAsync(byte[] bytes) => await stream.WriteAsync(bytes);

    /// <summary>Closes the sending half, as a client that sent all it had would (the server then sees end of stream).</summary>
    public async Task ShutdownSendAsync()
    {
        if (connection is System.Net.WebSockets.ClientWebSocket socket)
        {
            // A WebSocket's half-close is its close frame: the server reads the end of the stream, as with TCP.
            await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, string.Empty, CancellationToken.None);
            return;
        }

        ((TcpClient)connection).Client.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Stops reading from the socket (after the frame in progress), as a client that hangs would.</summary>
    public void PauseReading() => paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Reads again.</summary>
    public void ResumeReading()
    {
        var gate = paused;
        paused = null;
        gate?.TrySetResult();
    }

    /// <summary>The next frame of any type.</summary>
    public async Task<ReceivedFrame> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            return await received.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new AssertFailedException($"No frame within {(timeout ?? Timeout).TotalSeconds} s.");
        }
        catch (ChannelClosedException)
        {
            throw new AssertFailedException("The server closed the connection before sending the expected frame.");
        }
    }

    /// <summary>The next frame, which must be of <paramref name="type"/>.</summary>
    public async Task<ReceivedFrame> ExpectAsync(MessageType type)
    {
        var frame = await NextAsync();
        if (frame.Type != type)
        {
            Assert.Fail($"Expected {type}, got {frame.Type}{Describe(frame)}");
        }

        return frame;
    }

    /// <summary>The next frame must be an eject with <paramref name="code"/>; returns its reason, and the connection must then close.</summary>
    public async Task<string> ExpectEjectAsync(EjectCode code)
    {
        var frame = await ExpectAsync(MessageType.Eject);
        var reader = frame.Reader();
        var actual = (EjectCode)reader.ReadUInt16();
        string reason = reader.ReadString();
        Assert.AreEqual(code, actual, reason);
        Assert.IsFalse(string.IsNullOrWhiteSpace(reason), "An eject reason is never empty.");
        await Closed.Task.WaitAsync(Timeout);
        return reason;
    }

    /// <summary>The next frame must be a CallMethod; returns the target, method and decoded arguments.</summary>
    public async Task<(DoId Target, MethodDescriptor Method, object?[] Arguments)> ExpectCallAsync(ModelRegistry registry)
    {
        var frame = await ExpectAsync(MessageType.CallMethod);
        var reader = frame.Reader();
        var target = reader.ReadDoId();
        int index = reader.ReadUInt16();
        var model = target == LoginManager.WellKnownId ? registry.GetModel<LoginManager>() : null;
        if (model is null)
        {
            throw new AssertFailedException("ExpectCallAsync decodes UberDOG calls only; decode object RPCs with ReadCall.");
        }

        var method = model.Methods[index];
        return (target, method, method.DecodeArguments(ref reader));
    }

    /// <summary>
    /// After a Login call: its answer and the account's owned object (one), in whichever order they come; no other
    /// frame may arrive. Returns the object's enter.
    /// </summary>
    public async Task<EnterInfo> ExpectLoginAnswerAndOwnedObjectAsync(ModelRegistry registry)
    {
        bool answered = false;
        EnterInfo? owned = null;
        while (!answered || owned is null)
        {
            var frame = await NextAsync();
            if (frame.Type == MessageType.CallMethod)
            {
                answered = true;
            }
            else
            {
                Assert.AreEqual(MessageType.EnterOwnedObject, frame.Type, "only the login's answer and the account's objects arrive");
                owned = ReadEnter(frame, registry);
            }
        }

        return owned;
    }

    /// <summary>Every frame from now on, until the connection closes or <paramref name="cancellation"/> stops the reading.</summary>
    public IAsyncEnumerable<ReceivedFrame> ReadAllAsync(CancellationToken cancellation) => received.Reader.ReadAllAsync(cancellation);

    /// <summary>Asserts that nothing arrives for a short while (used only after a later frame proved ordering).</summary>
    public bool TryTakeNow(out ReceivedFrame? frame) => received.Reader.TryRead(out frame);

    public async ValueTask DisposeAsync()
    {
        connection.Dispose();

        // A paused read loop wakes to find the connection gone, and ends.
        ResumeReading();
        try
        {
            await readLoop;
        }
        catch
        {
        }

        writer.Dispose();
    }

    public static EnterInfo ReadEnter(ReceivedFrame frame, ModelRegistry registry)
    {
        var reader = frame.Reader();
        var id = reader.ReadDoId();
        uint classId = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        Assert.IsTrue(registry.TryGetModel(classId, out var model));
        int count = reader.ReadUInt16();
        var values = new Dictionary<string, object?>();
        for (int i = 0; i < count; i++)
        {
            var field = model.Fields[reader.ReadUInt16()];
            values[field.Name] = field.Codec.ReadBoxed(ref reader);
        }

        reader.EnsureAtEnd();
        return new EnterInfo(id, model, parent, zone, owner, values, frame.Type == MessageType.EnterOwnedObject);
    }

    public static (DoId Id, string Field, object? Value) ReadSetField(ReceivedFrame frame, ModelInfo model)
    {
        Assert.AreEqual(MessageType.SetField, frame.Type);
        var reader = frame.Reader();
        var id = reader.ReadDoId();
        var field = model.Fields[reader.ReadUInt16()];
        var value = field.Codec.ReadBoxed(ref reader);
        reader.EnsureAtEnd();
        return (id, field.Name, value);
    }

    public static (DoId Id, LeaveReason Reason) ReadLeave(ReceivedFrame frame)
    {
        Assert.AreEqual(MessageType.LeaveObject, frame.Type);
        var reader = frame.Reader();
        return (reader.ReadDoId(), (LeaveReason)reader.ReadByte());
    }

    private static string Describe(ReceivedFrame frame)
    {
        if (frame.Type != MessageType.Eject)
        {
            return string.Empty;
        }

        var reader = frame.Reader();
        return $" (eject {reader.ReadUInt16()}: {reader.ReadString()})";
    }

    private async Task ReadAsync()
    {
        var header = new byte[Frame.HeaderSize];
        try
        {
            while (true)
            {
                if (paused is { } gate)
                {
                    await gate.Task;
                }

                await stream.ReadExactlyAsync(header);
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
                var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4));
                var payload = new byte[length - 2];
                await stream.ReadExactlyAsync(payload);
                if (type != MessageType.Eject)
                {
                    Interlocked.Add(ref receivedBytes, Frame.LengthSize + length);
                }

                // The resume token a login (or resume) sends is kept aside, so that tests of other frames need not skip it.
                if (type == MessageType.ResumeToken)
                {
                    ResumeToken = new WireReader(payload).ReadBytes();
                    continue;
                }

                received.Writer.TryWrite(new ReceivedFrame(type, payload));
            }
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            received.Writer.TryComplete();
            Closed.TrySetResult();
        }
    }
}

internal sealed record EnterInfo(DoId Id, ModelInfo Model, DoId Parent, uint Zone, DoId Owner, Dictionary<string, object?> Values, bool Owned);
