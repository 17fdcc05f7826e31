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
/// <remarks>
/// The port is a trust boundary (ARCHITECTURE 4). A link first completes a handshake (<see cref="LinkHandshake"/>:
/// protocol version and, when configured, an HMAC proof of the shared secret); nothing it sends before is routed.
/// A link that is not privileged is a <em>participant</em>: it speaks only from participant channels it subscribed to
/// (one link per channel), sends only requests to the server roles, and the State Server lets it change only objects it
/// created or was given. Every per-link structure (channels, ranges, post-removes) is bounded and freed on close.
/// </remarks>
internal sealed partial class MessageDirectorServer : IAsyncDisposable
{
    private readonly MessageDirectorOptions options;
    private readonly IMessageRouter router;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<RemoteLink, Task> links = new();

    // Participant channels spoken for by links that are not privileged, from the claim until the State Server has been
    // told of the release (after the link's post-removes): one link per channel, so no link can speak as another.
    private readonly Dictionary<Channel, RemoteLink> claims = new();
    private readonly object claimGate = new();
    private long subscriptions;
    private long postRemoves;
    private long postRemoveBytes;
    private long refusals;
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

    /// <summary>Connected links now (those still in their handshake included).</summary>
    public int LinkCount => links.Count;

    /// <summary>Channels and zone ranges subscribed by all links now (each bounded per link; freed on close).</summary>
    public long SubscriptionCount => Interlocked.Read(ref subscriptions);

    /// <summary>Post-remove messages registered by all links now (bounded per link; run, then freed, on close).</summary>
    public long PostRemoveCount => Interlocked.Read(ref postRemoves);

    /// <summary>Bytes of the post-remove messages registered by all links now.</summary>
    public long PostRemoveBytes => Interlocked.Read(ref postRemoveBytes);

    /// <summary>Links refused so far: failed handshakes, limits passed and forbidden messages.</summary>
    public long RefusedLinks => Interlocked.Read(ref refusals);

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

    /// <summary>
    /// Lets <paramref name="link"/> (not privileged) speak as <paramref name="channel"/>, unless another link or a
    /// participant of this process already does; the State Server then checks what that channel changes.
    /// </summary>
    private bool TryClaim(Channel channel, RemoteLink link)
    {
        lock (claimGate)
        {
            if (claims.TryGetValue(channel, out var holder))
            {
                return ReferenceEquals(holder, link);
            }

            if (router is InProcessRouter local && local.HasSubscribers(channel))
            {
                return false;
            }

            claims[channel] = link;
        }

        // Published on the link's own read loop, so it reaches the State Server before anything the link sends as it.
        router.Publish(ParticipantNotice(InternalMessageType.LinkParticipantRestricted, channel), Channel.StateServer);
        return true;
    }

    /// <summary>Ends a claim after the link's post-removes were routed, so they too are checked as the link's.</summary>
    private void Release(Channel channel, RemoteLink link)
    {
        router.Publish(ParticipantNotice(InternalMessageType.LinkParticipantReleased, channel), Channel.StateServer);
        lock (claimGate)
        {
            if (claims.TryGetValue(channel, out var holder) && ReferenceEquals(holder, link))
            {
                claims.Remove(channel);
            }
        }
    }

    private static Envelope ParticipantNotice(InternalMessageType type, Channel participant)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>(Channel.EncodedSize);
        participant.Write(writer);
        return new Envelope(type, default, DoId.Empty, writer.WrittenMemory);
    }

    private void Refused(string remote, EjectCode code, string reason)
    {
        Interlocked.Increment(ref refusals);
        logger.LogWarning("Message Director refused the link from {Address} ({Code} {Name}): {Reason}", remote, (int)code, code, reason);
    }
}
