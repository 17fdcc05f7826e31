using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Pastry.Wire;

namespace Pastry.Bench;

/// <summary>
/// One account's session for <c>pastry bench churn --resume</c>: logged in once (setup), then in a loop a new
/// connection resumes it with the last single-use token, syncs an interest, closes it again and leaves without a
/// Disconnect, so the session parks for the next round. Raw frames on a socket, as a game client's would be.
/// </summary>
internal sealed class ResumingSession : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(30);
    private readonly IPEndPoint endpoint;
    private readonly ModelRegistry registry;
    private readonly PooledBufferWriter writer = new(256);
    private byte[] buffer = new byte[64 * 1024];
    private int start;
    private int end;
    private Socket? socket;
    private byte[] token = Array.Empty<byte>();
    private long receivedBytes;

    public ResumingSession(IPEndPoint endpoint, ModelRegistry registry)
    {
        this.endpoint = endpoint;
        this.registry = registry;
    }

    /// <summary>The account, once logged in.</summary>
    public DoId Account { get; private set; }

    /// <summary>Resumes that answered with a fresh snapshot rather than a replay.</summary>
    public int Snapshots { get; private set; }

    /// <summary>Connects, says Hello, logs in (the one password check of this session) and leaves.</summary>
    public async Task LogInAsync(string user, string password, CancellationToken cancellation)
    {
        await ConnectAsync(cancellation).ConfigureAwait(false);
        Send(w => ClientFrames.WriteHello(w, registry.SchemaHash, "1.0.0"));
        await ExpectAsync(MessageType.HelloResp, cancellation).ConfigureAwait(false);
        var login = registry.GetModel<LoginManager>();
        var method = login.GetMethod(nameof(LoginManager.Login));
        Send(w => ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, method, new object?[] { user, password }));
        var answer = await ExpectAsync(MessageType.CallMethod, cancellation).ConfigureAwait(false);
        var reader = new WireReader(answer.Span);
        reader.ReadDoId();
        int methodId = reader.ReadUInt16();
        var arguments = (login.FindMethodByWireId(methodId) ?? throw new BenchException($"login answered with unknown method {methodId}")).DecodeArguments(ref reader);
        if ((int)arguments[0]! != 0)
        {
            throw new BenchException($"login of {user} failed: {arguments[2]}");
        }

        Account = (DoId)arguments[1]!;
        Leave();
    }

    /// <summary>Connect, resume, AddInterest until InterestDone (returns the objects entered), RemoveInterest, leave.</summary>
    public async Task<int> ResumeAndSyncAsync(DoId parent, uint zone, CancellationToken cancellation)
    {
        await ConnectAsync(cancellation).ConfigureAwait(false);
        Send(w => ClientFrames.WriteResume(w, registry.SchemaHash, "1.0.0", Account, token, receivedBytes));
        var answer = await ExpectAsync(MessageType.ResumeResp, cancellation).ConfigureAwait(false);
        var status = (ResumeStatus)answer.Span[0];
        if (status != ResumeStatus.Ok)
        {
            throw new BenchException($"resume refused: {status}");
        }

        if (answer.Span[^1] == 1)
        {
            Snapshots++;
        }

        Send(w => ClientFrames.WriteAddInterest(w, 1, parent, new[] { zone }));
        int entered = 0;
        while (true)
        {
            var (type, _) = await NextAsync(cancellation).ConfigureAwait(false);
            if (type is MessageType.EnterObject or MessageType.EnterOwnedObject)
            {
                entered++;
            }
            else if (type == MessageType.InterestDone)
            {
                break;
            }
        }

        // Closing the interest before leaving keeps the parked session's view small; every Leave is read, so the
        // next resume replays (the client read all the server sent).
        Send(w => ClientFrames.WriteContext(w, MessageType.RemoveInterest, 1));
        for (int left = 0; left < entered;)
        {
            var (type, _) = await NextAsync(cancellation).ConfigureAwait(false);
            if (type == MessageType.LeaveObject)
            {
                left++;
            }
        }

        Leave();
        return entered;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Leave();
        writer.Dispose();
    }

    private async Task ConnectAsync(CancellationToken cancellation)
    {
        socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(StepTimeout);
        await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
        start = end = 0;
    }

    /// <summary>Drops the connection without a Disconnect: the server parks the session for the next resume.</summary>
    private void Leave()
    {
        socket?.Close(0);
        socket = null;
    }

    private void Send(Action<PooledBufferWriter> write)
    {
        writer.Reset();
        write(writer);
        socket!.Send(writer.WrittenSpan);
    }

    private async Task<ReadOnlyMemory<byte>> ExpectAsync(MessageType expected, CancellationToken cancellation)
    {
        while (true)
        {
            var (type, payload) = await NextAsync(cancellation).ConfigureAwait(false);
            if (type == expected)
            {
                return payload;
            }

        }
    }

    /// <summary>The next frame; ResumeToken frames are kept on the way, and every frame but an eject is counted as the server counts it.</summary>
    private async Task<(MessageType Type, ReadOnlyMemory<byte> Payload)> NextAsync(CancellationToken cancellation)
    {
        while (true)
        {
            if (end - start >= Frame.HeaderSize)
            {
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(start));
                if (end - start >= Frame.LengthSize + length)
                {
                    var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(start + Frame.LengthSize));
                    var payload = new ReadOnlyMemory<byte>(buffer, start + Frame.HeaderSize, length - 2);
                    start += Frame.LengthSize + length;
                    if (type != MessageType.Eject)
                    {
                        receivedBytes += Frame.LengthSize + length;
                    }

                    if (type == MessageType.Eject)
                    {
                        var eject = new WireReader(payload.Span);
                        throw new BenchException($"ejected with {eject.ReadUInt16()}: {eject.ReadString()}");
                    }

                    if (type == MessageType.ResumeToken)
                    {
                        token = new WireReader(payload.Span).ReadBytes();
                        continue;
                    }

                    return (type, payload);
                }

                if (Frame.LengthSize + length > buffer.Length)
                {
                    Array.Resize(ref buffer, Frame.LengthSize + length);
                }
            }

            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(StepTimeout);
            int read = await socket!.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            if (read == 0)
            {
                throw new BenchException("the server closed the connection");
            }

            end += read;
        }
    }
}
