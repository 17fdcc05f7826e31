using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.ClientAgent;
using Pastry.Wire;

namespace Pastry.Otp.MessageDirector;

/// <summary>
/// The Message Director's TCP endpoint: remote participants (AI processes, later other OTP nodes) connect,
/// subscribe to channels and send envelopes, which are routed like local ones. A link may register post-remove
/// messages, which the MD routes when the link drops: that is how a crashed AI gets its objects cleaned up.
/// </summary>
public sealed class MessageDirectorServer : IAsyncDisposable
{
    private readonly MessageDirectorOptions options;
    private readonly IMessageRouter router;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<RemoteLink, Task> links = new();
    private TcpAcceptor? acceptor;

    /// <summary>Creates the endpoint; call <see cref="Start"/> to listen.</summary>
    public MessageDirectorServer(MessageDirectorOptions options, IMessageRouter router, ILogger logger)
    {
        options.Validate();
        this.options = options;
        this.router = router;
        this.logger = logger;
    }

    /// <summary>The endpoint it listens on.</summary>
    public IPEndPoint? LocalEndPoint => acceptor?.LocalEndPoint;

    /// <summary>Connected links now.</summary>
    public int LinkCount => links.Count;

    /// <summary>Binds and starts accepting links.</summary>
    public void Start() => acceptor = new TcpAcceptor(options.Host, options.Port, 64, "Message Director", logger, OnAccepted);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (acceptor is not null)
        {
            await acceptor.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var link in links.Keys)
        {
            link.Close();
        }

        try
        {
            await Task.WhenAll(links.Values).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

    }

    private void OnAccepted(Socket socket)
    {
        var link = new RemoteLink(this, socket);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        links[link] = done.Task;
        _ = RunLinkAsync(link, done);
    }

    private async Task RunLinkAsync(RemoteLink link, TaskCompletionSource done)
    {
        try
        {
            await link.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            links.TryRemove(link, out _);
            done.TrySetResult();
        }
    }

    /// <summary>One connected remote participant.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed when RunAsync ends.")]
    private sealed class RemoteLink : IParticipant
    {
        private readonly MessageDirectorServer server;
        private readonly Socket socket;
        private readonly NetworkStream stream;
        private readonly FrameOutbox outbox;
        private readonly List<(Envelope Envelope, Channel[] Targets)> postRemoves = new();
        private readonly List<Channel> targets = new();
        private readonly CancellationTokenSource abort = new();
        private readonly object writeGate = new();
        private bool closed;

        public RemoteLink(MessageDirectorServer server, Socket socket)
        {
            this.server = server;
            this.socket = socket;
            stream = new NetworkStream(socket, ownsSocket: true);
            // No coalescing delay: a link carries few, large batches, and an AI should hear at once.
            outbox = new FrameOutbox(server.options.MaxOutgoingBytes);
            Name = $"md-link {socket.RemoteEndPoint}";
        }

        public string Name { get; }

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            lock (writeGate)
            {
                // A publisher may still hold this link in its subscriber list while the link closes: drop quietly,
                // never throw into the publisher.
                if (closed)
                {
                    return;
                }

                if (!envelope.TryAppendTo(outbox, targets))
                {
                    server.logger.LogError("{Link}: dropped: more than {Bytes} bytes waiting to be sent (the participant reads too slowly)", Name, server.options.MaxOutgoingBytes);
                    closed = true;
                    abort.Cancel();
                }
            }
        }

        public void Close()
        {
            lock (writeGate)
            {
                if (!closed)
                {
                    abort.Cancel();
                }
            }
        }

        public async Task RunAsync()
        {
            server.logger.LogInformation("{Link} connected", Name);
            var sending = outbox.RunAsync(stream, abort.Token);
            try
            {
                var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
                while (true)
                {
                    var result = await reader.ReadAsync(abort.Token).ConfigureAwait(false);
                    var buffer = result.Buffer;
                    while (true)
                    {
                        var status = Frame.TryRead(ref buffer, server.options.MaxFrameBytes, out ushort type, out var payload, out uint declared);
                        if (status == FrameStatus.Incomplete)
                        {
                            break;
                        }

                        if (status != FrameStatus.Complete)
                        {
                            server.logger.LogError("{Link}: bad frame ({Status}, {Length} bytes); dropping the link", Name, status, declared);
                            return;
                        }

                        byte[] body = System.Buffers.BuffersExtensions.ToArray(payload);
                        try
                        {
                            Handle(type, body);
                        }
                        catch (WireFormatException ex)
                        {
                            server.logger.LogError("{Link}: malformed message {Type}: {Message}; dropping the link", Name, type, ex.Message);
                            return;
                        }
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                server.router.UnsubscribeAll(this);
                RunPostRemoves();
                abort.Cancel();
                try
                {
                    await sending.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
                {
                }

                socket.Dispose();
                await stream.DisposeAsync().ConfigureAwait(false);
                lock (writeGate)
                {
                    closed = true;
                    outbox.Dispose();
                    abort.Dispose();
                }

                server.logger.LogInformation("{Link} disconnected", Name);
            }
        }

        private void Handle(ushort type, byte[] body)
        {
            var reader = new WireReader(body);
            switch ((InternalMessageType)type)
            {
                case InternalMessageType.AddChannel:
                    server.router.Subscribe(this, Channel.Read(ref reader));
                    return;
                case InternalMessageType.RemoveChannel:
                    server.router.Unsubscribe(this, Channel.Read(ref reader));
                    return;
                case InternalMessageType.AddRange:
                    server.router.SubscribeRange(this, reader.ReadDoId(), reader.ReadUInt32(), reader.ReadUInt32());
                    return;
                case InternalMessageType.RemoveRange:
                    server.router.UnsubscribeRange(this, reader.ReadDoId(), reader.ReadUInt32(), reader.ReadUInt32());
                    return;
                case InternalMessageType.AddPostRemove:
                    {
                        ushort innerType = reader.ReadUInt16();
                        var envelope = Envelope.Read(innerType, reader.ReadToEnd(), targets);
                        postRemoves.Add((envelope, targets.ToArray()));
                        return;
                    }

                case InternalMessageType.ClearPostRemoves:
                    postRemoves.Clear();
                    return;
            }

            var routed = Envelope.Read(type, body, targets);
            server.router.Publish(routed, System.Linq.Enumerable.ToArray(targets));
        }

        private void RunPostRemoves()
        {
            foreach (var (envelope, channels) in postRemoves)
            {
                server.logger.LogInformation("{Link}: routing post-remove {Envelope}", Name, envelope);
                server.router.Publish(envelope, channels);
            }

            postRemoves.Clear();
        }
    }
}
