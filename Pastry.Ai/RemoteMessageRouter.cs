using System.Net.Sockets;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Ai;

/// <summary>
/// The Message Director as seen from another process: an <see cref="IMessageRouter"/> whose subscriptions and
/// publishes travel over one TCP link to <c>pastry serve --role otp</c>. Code written against
/// <see cref="IMessageRouter"/> runs unchanged in one process or across processes.
/// </summary>
public sealed class RemoteMessageRouter : IPostRemoveRouter, IAsyncDisposable
{
    private readonly object gate = new();
    private readonly Dictionary<Channel, List<IParticipant>> subscribers = new();
    private readonly List<(DoId Parent, uint Low, uint High, IParticipant Participant)> ranges = new();
    private readonly FrameOutbox outbox = new(MaxQueuedBytes);
    private readonly CancellationTokenSource stop = new();
    private readonly TcpClient client;
    private readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NetworkStream? stream;
    private int disposed;
    private Task receiveLoop = Task.CompletedTask;
    private Task sendLoop = Task.CompletedTask;

    /// <summary>
    /// The most bytes waiting to go to the Message Director. A link that falls this far behind is closed (see
    /// <see cref="Closed"/>) rather than buffered without bound, as the MD drops a link that reads too slowly.
    /// </summary>
    public const int MaxQueuedBytes = 64 * 1024 * 1024;

    /// <summary>The default of the largest frame the AI accepts from the Message Director (<c>Ai:MaxFrameBytes</c>): 16 MiB.</summary>
    public const int DefaultMaxFrameBytes = 16 * 1024 * 1024;

    private readonly int maxFrameBytes;

    private RemoteMessageRouter(TcpClient client, int maxFrameBytes)
    {
        this.client = client;
        this.maxFrameBytes = maxFrameBytes;
    }

    /// <summary>Completes when the link drops (with the reason), so that the owner can reconnect or stop.</summary>
    public Task Closed => closed.Task;

    /// <summary>
    /// Why the link closed, when that is known: the Message Director said so (a per-link limit, 362, a forbidden message,
    /// 363, or a frame larger than <c>MessageDirector:MaxFrameBytes</c>, 395), or it sent a frame larger than this side
    /// accepts (395, see <see cref="DefaultMaxFrameBytes"/>); null otherwise.
    /// </summary>
    public MessageDirectorRefusedException? Refusal { get; private set; }

    /// <summary>How long the Message Director has to answer the link's handshake.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Connects to the Message Director at <paramref name="host"/>:<paramref name="port"/> as a participant without a secret (a loopback MD without <c>MessageDirector:Secret</c>).</summary>
    /// <exception cref="SocketException">Nothing listens there.</exception>
    /// <exception cref="MessageDirectorRefusedException">The Message Director refused the handshake (it requires a secret, or speaks another link protocol version).</exception>
    public static Task<RemoteMessageRouter> ConnectAsync(string host, int port, CancellationToken cancellation = default) =>
        ConnectAsync(host, port, MessageDirectorCredentials.None, cancellation);

    /// <summary>
    /// Connects to the Message Director at <paramref name="host"/>:<paramref name="port"/> and completes the link
    /// handshake with <paramref name="credentials"/>: the secret is proven with HMAC-SHA256 over two nonces, never sent,
    /// and the Message Director must prove it too. Nothing is routed before the handshake succeeds.
    /// </summary>
    /// <exception cref="SocketException">Nothing listens there.</exception>
    /// <exception cref="MessageDirectorRefusedException">The handshake failed; the exception says why (code 360-364).</exception>
    public static Task<RemoteMessageRouter> ConnectAsync(string host, int port, MessageDirectorCredentials credentials, CancellationToken cancellation = default) =>
        ConnectAsync(host, port, credentials, DefaultMaxFrameBytes, cancellation);

    /// <summary>
    /// As <see cref="ConnectAsync(string, int, MessageDirectorCredentials, CancellationToken)"/>, accepting frames of at
    /// most <paramref name="maxFrameBytes"/> from the Message Director (<c>Ai:MaxFrameBytes</c>): a larger one drops the
    /// link before any of it is buffered, with <see cref="Refusal"/> saying so (395), so neither a bug nor a peer can make
    /// this process allocate without bound. Keep it at least the OTP's <c>MessageDirector:MaxFrameBytes</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxFrameBytes"/> is below 1024.</exception>
    /// <exception cref="SocketException">Nothing listens there.</exception>
    /// <exception cref="MessageDirectorRefusedException">The handshake failed; the exception says why (code 360-364).</exception>
    public static async Task<RemoteMessageRouter> ConnectAsync(string host, int port, MessageDirectorCredentials credentials, int maxFrameBytes, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 1024);
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, port, cancellation).ConfigureAwait(false);
            await HandshakeAsync(client.GetStream(), credentials, cancellation).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        var router = new RemoteMessageRouter(client, maxFrameBytes);
        router.stream = client.GetStream();
        router.receiveLoop = router.ReceiveAsync();
        router.sendLoop = router.SendAsync(router.stream);
        return router;
    }

    /// <summary>The link's side of <see cref="LinkHandshake"/>, straight on the stream before the loops start.</summary>
    private static async Task HandshakeAsync(NetworkStream link, MessageDirectorCredentials credentials, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(HandshakeTimeout);
        try
        {
            var challenge = await ReadHandshakeFrameAsync(link, InternalMessageType.LinkChallenge, deadline.Token).ConfigureAwait(false);
            var reader = new WireReader(challenge);
            _ = reader.ReadUInt16();
            var directorNonce = reader.ReadRaw(LinkHandshake.NonceSize).ToArray();
            var linkNonce = LinkHandshake.NewNonce();
            string secret = credentials.Secret;
            bool privileged = credentials.Privileged;
            var proof = secret.Length == 0 ? Array.Empty<byte>() : LinkHandshake.LinkProof(secret, LinkHandshake.ProtocolVersion, privileged, directorNonce, linkNonce);
            await LinkHandshake.WriteFrameAsync(link, InternalMessageType.LinkAuthenticate, w =>
            {
                w.WriteUInt16(LinkHandshake.ProtocolVersion);
                w.WriteBool(privileged);
                w.WriteRaw(linkNonce);
                w.WriteBytes(proof);
            }, deadline.Token).ConfigureAwait(false);

            var welcome = await ReadHandshakeFrameAsync(link, InternalMessageType.LinkWelcome, deadline.Token).ConfigureAwait(false);
            reader = new WireReader(welcome);
            _ = reader.ReadUInt16();
            _ = reader.ReadBool();
            var directorProof = reader.ReadBytes();
            if (secret.Length > 0 && !LinkHandshake.ProofMatches(directorProof, LinkHandshake.DirectorProof(secret, LinkHandshake.ProtocolVersion, privileged, directorNonce, linkNonce)))
            {
                throw new MessageDirectorRefusedException(EjectCode.LinkAuthenticationFailed, "the Message Director did not prove the secret: it is configured without it (MessageDirector:Secret / PrivilegedSecret) or with another one");
            }
        }
        catch (WireFormatException ex)
        {
            throw new MessageDirectorRefusedException(EjectCode.LinkVersionMismatch, $"not a Pastry Message Director handshake: {ex.Message}");
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new MessageDirectorRefusedException(EjectCode.LinkHandshakeTimeout, $"the Message Director did not answer the handshake within {HandshakeTimeout}");
        }
    }

    /// <summary>Reads the next handshake frame, which must be <paramref name="expected"/>; a refusal becomes its exception.</summary>
    private static async Task<byte[]> ReadHandshakeFrameAsync(NetworkStream link, InternalMessageType expected, CancellationToken cancellation)
    {
        var (type, payload) = await LinkHandshake.ReadFrameAsync(link, cancellation).ConfigureAwait(false);
        if (type == InternalMessageType.LinkRefused)
        {
            var reader = new WireReader(payload);
            var code = (EjectCode)reader.ReadUInt16();
            throw new MessageDirectorRefusedException(code, reader.ReadString());
        }

        return type == expected
            ? payload
            : throw new MessageDirectorRefusedException(EjectCode.LinkVersionMismatch, $"the Message Director sent type {(ushort)type} where the handshake expects {expected}: it speaks another link protocol than {LinkHandshake.ProtocolVersion}");
    }

    /// <inheritdoc />
    public void Subscribe(IParticipant participant, Channel channel)
    {
        lock (gate)
        {
            if (!subscribers.TryGetValue(channel, out var list))
            {
                subscribers[channel] = list = new List<IParticipant>();
                SendControl(InternalMessageType.AddChannel, channel, static (w, c) => c.Write(w));
            }

            if (!list.Contains(participant))
            {
                list.Add(participant);
            }
        }
    }

    /// <inheritdoc />
    public void Unsubscribe(IParticipant participant, Channel channel)
    {
        lock (gate)
        {
            if (subscribers.TryGetValue(channel, out var list) && list.Remove(participant) && list.Count == 0)
            {
                subscribers.Remove(channel);
                SendControl(InternalMessageType.RemoveChannel, channel, static (w, c) => c.Write(w));
            }
        }
    }

    /// <inheritdoc />
    public void SubscribeRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        lock (gate)
        {
            ranges.Add((parent, low, high, participant));
            SendControl(InternalMessageType.AddRange, (parent, low, high), static (w, r) =>
            {
                w.WriteDoId(r.parent);
                w.WriteUInt32(r.low);
                w.WriteUInt32(r.high);
            });
        }
    }

    /// <inheritdoc />
    public void UnsubscribeRange(IParticipant participant, DoId parent, uint low, uint high)
    {
        lock (gate)
        {
            if (ranges.Remove((parent, low, high, participant)))
            {
                SendControl(InternalMessageType.RemoveRange, (parent, low, high), static (w, r) =>
                {
                    w.WriteDoId(r.parent);
                    w.WriteUInt32(r.low);
                    w.WriteUInt32(r.high);
                });
            }
        }
    }

    /// <inheritdoc />
    public void UnsubscribeAll(IParticipant participant)
    {
        lock (gate)
        {
            foreach (var channel in subscribers.Where(p => p.Value.Contains(participant)).Select(p => p.Key).ToList())
            {
                Unsubscribe(participant, channel);
            }

            foreach (var range in ranges.Where(r => ReferenceEquals(r.Participant, participant)).ToList())
            {
                UnsubscribeRange(participant, range.Parent, range.Low, range.High);
            }
        }
    }

    /// <inheritdoc />
    public void Publish(Envelope envelope, Channel target) => Publish(envelope, new[] { target });

    /// <inheritdoc />
    public void Publish(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        if (!envelope.TryAppendTo(outbox, targets))
        {
            Overflowed();
        }
    }

    /// <summary>
    /// Registers a message that the Message Director routes to <paramref name="targets"/> if this link drops
    /// (for example: delete every object this AI created).
    /// </summary>
    public void AddPostRemove(Envelope envelope, params Channel[] targets) =>
        SendControl(InternalMessageType.AddPostRemove, (envelope, targets), static (w, s) =>
        {
            w.WriteUInt16((ushort)s.envelope.Type);
            s.envelope.WriteBody(w, s.targets);
        });

    /// <summary>Forgets every post-remove message of this link.</summary>
    public void ClearPostRemoves() => SendControl(InternalMessageType.ClearPostRemoves, 0, static (_, _) => { });

    /// <inheritdoc />
    /// <remarks>Never raised: the Message Director runs the post-removes only when the link drops, which ends this router (<see cref="Closed"/>).</remarks>
    public event EventHandler? PostRemovesRan
    {
        add { }
        remove { }
    }

    /// <summary>Waits until everything published so far has been written to the socket.</summary>
    public async Task FlushAsync(CancellationToken cancellation = default)
    {
        while (outbox.HasQueued)
        {
            await Task.Delay(1, cancellation).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        stop.Cancel();
        client.Dispose();
        await Task.WhenAll(receiveLoop, sendLoop).ConfigureAwait(false);
        outbox.Dispose();

        stop.Dispose();
    }

    private void SendControl<TState>(InternalMessageType type, TState state, Action<PooledBufferWriter, TState> body)
    {
        bool queued = outbox.TryAppend((type, state, body), static (w, s) =>
        {
            int start = w.BeginFrame((MessageType)s.type);
            s.body(w, s.state);
            w.EndFrame(start);
        });
        if (!queued)
        {
            Overflowed();
        }
    }

    /// <summary>The outbox refused a frame: closed (nothing to do) or full, which closes the link.</summary>
    private void Overflowed()
    {
        if (!outbox.IsClosed && Volatile.Read(ref disposed) == 0)
        {
            // A link this far behind would only grow: close it, as the MD closes one that reads too slowly.
            stop.Cancel();
            client.Dispose();
        }
    }

    private async Task SendAsync(Stream link)
    {
        try
        {
            await outbox.RunAsync(link, stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            closed.TrySetResult();
        }
    }

    private async Task ReceiveAsync()
    {
        try
        {
            var reader = FrameReader.Open(stream!);
            try
            {
                // The MD is trusted, but a bug (or a privileged peer's huge message) must not make this process
                // allocate without bound: a frame over the limit drops the link before any of it is buffered.
                var outcome = await FrameReader.ReadAsync(reader, maxFrameBytes, new Inbound(this), stop.Token).ConfigureAwait(false);
                if (outcome.End == FrameReadEnd.Oversized)
                {
                    Refusal = new MessageDirectorRefusedException(EjectCode.LinkFrameTooLarge, $"the Message Director sent a frame of {outcome.DeclaredLength} bytes, more than this AI accepts (Ai:MaxFrameBytes, {maxFrameBytes}); the link was dropped");
                }
            }
            finally
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or WireFormatException)
        {
        }
        finally
        {
            stop.Cancel();
            closed.TrySetResult();
        }
    }

    /// <summary>The link's frames as the frame reader's handler: envelopes delivered locally, a refusal kept.</summary>
    private sealed class Inbound(RemoteMessageRouter router) : IFrameHandler
    {
        private readonly List<Channel> targets = new();

        public bool OnFrame(ushort type, ReadOnlySpan<byte> payload)
        {
            if (type == (ushort)InternalMessageType.LinkRefused)
            {
                // The MD closes the link after this frame (a per-link limit, or a message it may not send).
                var refusal = new WireReader(payload);
                var code = (EjectCode)refusal.ReadUInt16();
                router.Refusal = new MessageDirectorRefusedException(code, refusal.ReadString());
                return false;
            }

            var envelope = Envelope.Read(type, payload.ToArray(), targets);
            router.DeliverLocally(envelope, targets);
            return true;
        }

        public ValueTask OnReadAsync(long bytes, int frames, CancellationToken cancellation) => default;
    }

    private void DeliverLocally(Envelope envelope, List<Channel> targets)
    {
        // The MD forwards the publisher's targets; deliver once to every local participant subscribed to any of them.
        var recipients = new List<IParticipant>();
        lock (gate)
        {
            foreach (var target in targets)
            {
                if (subscribers.TryGetValue(target, out var list))
                {
                    foreach (var participant in list)
                    {
                        if (!recipients.Contains(participant))
                        {
                            recipients.Add(participant);
                        }
                    }
                }

                if (target.Kind == ChannelKind.Location)
                {
                    foreach (var range in ranges)
                    {
                        if (range.Parent == target.Id && target.Zone >= range.Low && target.Zone <= range.High && !recipients.Contains(range.Participant))
                        {
                            recipients.Add(range.Participant);
                        }
                    }
                }
            }
        }

        foreach (var participant in recipients)
        {
            participant.Deliver(envelope, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(targets));
        }
    }
}
