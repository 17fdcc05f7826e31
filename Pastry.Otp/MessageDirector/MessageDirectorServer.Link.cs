using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.ClientAgent;
using Pastry.Wire;

namespace Pastry.Otp.MessageDirector;

// One remote participant: its handshake, what it may send, its bounded per-link state and its cleanup.
internal sealed partial class MessageDirectorServer
{
    /// <summary>Why a link is closed: an MD-link code (360-364) and a reason for the log and the peer.</summary>
    private readonly record struct LinkRefusal(EjectCode Code, string Reason);

    /// <summary>One connected remote participant.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed when RunAsync ends.")]
    private sealed class RemoteLink : IParticipant, IFrameHandler
    {
        private static readonly TimeSpan RefusalDrain = TimeSpan.FromSeconds(2);

        private readonly MessageDirectorServer server;
        private readonly MessageDirectorOptions options;
        private readonly Socket socket;
        private readonly NetworkStream stream;
        private readonly FrameOutbox outbox;
        private readonly string remote;
        private readonly List<(Envelope Envelope, Channel[] Targets, int Bytes)> postRemoves = new();
        private readonly HashSet<Channel> channels = new();
        private readonly HashSet<(DoId Parent, uint Low, uint High)> ranges = new();
        private readonly List<Channel> claimed = new();
        private readonly List<Channel> targets = new();
        private readonly CancellationTokenSource abort = new();
        private readonly object writeGate = new();
        private int postRemoveBytes;
        private bool privileged;
        private bool closed;
        private LinkRefusal? pendingRefusal;

        public RemoteLink(MessageDirectorServer server, Socket socket)
        {
            this.server = server;
            options = server.options;
            this.socket = socket;
            stream = new NetworkStream(socket, ownsSocket: true);
            // No coalescing delay: a link carries few, large batches, and an AI should hear at once.
            outbox = new FrameOutbox(options.MaxOutgoingBytes);
            remote = socket.RemoteEndPoint?.ToString() ?? "?";
            Name = $"md-link {remote}";
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
                    server.logger.LogError("{Link}: dropped: more than {Bytes} bytes waiting to be sent (the participant reads too slowly)", Name, options.MaxOutgoingBytes);
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
            var sending = Task.CompletedTask;
            bool refused = false;
            try
            {
                if (!await HandshakeAsync().ConfigureAwait(false))
                {
                    return;
                }

                server.logger.LogInformation("{Link} connected ({Kind})", Name, privileged ? "privileged" : "participant");
                sending = outbox.RunAsync(stream, abort.Token);
                var reader = FrameReader.Open(stream);
                var outcome = await FrameReader.ReadAsync(reader, options.MaxFrameBytes, this, abort.Token).ConfigureAwait(false);
                if (outcome.End is FrameReadEnd.Oversized)
                {
                    // Refused before a byte of it is buffered; the link hears why (395) and is dropped.
                    refused = Refuse(new LinkRefusal(EjectCode.LinkFrameTooLarge, $"{Name} sent a frame of {outcome.DeclaredLength} bytes, more than MessageDirector:MaxFrameBytes ({options.MaxFrameBytes}); the link is dropped"));
                }
                else if (outcome.End is FrameReadEnd.Malformed)
                {
                    server.logger.LogError("{Link}: bad frame ({Status}, {Length} bytes); dropping the link", Name, outcome.End, outcome.DeclaredLength);
                }
                else if (pendingRefusal is { } refuse)
                {
                    refused = Refuse(refuse);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or EndOfStreamException)
            {
            }
            finally
            {
                await CloseAsync(sending, refused).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// One frame from the participant. A message it may not send stops reading with a refusal; a malformed one
        /// stops reading with a log line (the link is dropped either way).
        /// </summary>
        bool IFrameHandler.OnFrame(ushort type, ReadOnlySpan<byte> payload)
        {
            try
            {
                pendingRefusal = Handle(type, payload.ToArray());
            }
            catch (WireFormatException ex)
            {
                server.logger.LogError("{Link}: malformed message {Type}: {Message}; dropping the link", Name, type, ex.Message);
                return false;
            }

            return pendingRefusal is null;
        }

        ValueTask IFrameHandler.OnReadAsync(long bytes, int frames, CancellationToken cancellation) => default;

        /// <summary>
        /// The handshake (see <see cref="LinkHandshake"/>), written and read straight on the socket before the outbox
        /// runs: nothing is subscribed or routed for the link until it returns true. A refusal is sent, logged once
        /// with the remote address, and false returned.
        /// </summary>
        private async Task<bool> HandshakeAsync()
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(abort.Token);
            deadline.CancelAfter(options.HandshakeTimeout);
            var directorNonce = LinkHandshake.NewNonce();
            LinkRefusal? refusal;
            try
            {
                await LinkHandshake.WriteFrameAsync(stream, InternalMessageType.LinkChallenge, w =>
                {
                    w.WriteUInt16(LinkHandshake.ProtocolVersion);
                    w.WriteRaw(directorNonce);
                }, deadline.Token).ConfigureAwait(false);
                var (type, payload) = await LinkHandshake.ReadFrameAsync(stream, deadline.Token).ConfigureAwait(false);
                byte[] welcome = Array.Empty<byte>();
                refusal = type == InternalMessageType.LinkAuthenticate
                    ? Authenticate(payload, directorNonce, out welcome)
                    : new LinkRefusal(EjectCode.LinkVersionMismatch, $"the first message was type {(ushort)type}, not the handshake (LinkAuthenticate, {(ushort)InternalMessageType.LinkAuthenticate}): the peer is not a Pastry participant of link protocol {LinkHandshake.ProtocolVersion} (an older AI?)");
                if (refusal is null)
                {
                    await LinkHandshake.WriteFrameAsync(stream, InternalMessageType.LinkWelcome, w =>
                    {
                        w.WriteUInt16(LinkHandshake.ProtocolVersion);
                        w.WriteBool(privileged);
                        w.WriteBytes(welcome);
                    }, deadline.Token).ConfigureAwait(false);
                    return true;
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !abort.IsCancellationRequested)
            {
                refusal = new LinkRefusal(EjectCode.LinkHandshakeTimeout, $"no handshake within {options.HandshakeTimeout} (MessageDirector:HandshakeTimeout)");
            }
            catch (WireFormatException ex)
            {
                refusal = new LinkRefusal(EjectCode.LinkVersionMismatch, $"not a Pastry link handshake: {ex.Message}");
            }
            catch (Exception ex) when (ex is IOException or SocketException or EndOfStreamException)
            {
                server.logger.LogInformation("{Link} closed during the handshake: {Message}", Name, ex.Message);
                return false;
            }

            server.Refused(remote, refusal.Value.Code, refusal.Value.Reason);
            try
            {
                using var send = new CancellationTokenSource(RefusalDrain);
                await LinkHandshake.WriteFrameAsync(stream, InternalMessageType.LinkRefused, w => WriteRefusal(w, refusal.Value), send.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }

            return false;
        }

        /// <summary>Checks the link's <see cref="InternalMessageType.LinkAuthenticate"/>; null when it passes (then <paramref name="welcome"/> is the MD's proof).</summary>
        private LinkRefusal? Authenticate(byte[] payload, byte[] directorNonce, out byte[] welcome)
        {
            welcome = Array.Empty<byte>();
            ushort version;
            bool claimsPrivilege;
            byte[] linkNonce;
            byte[] proof;
            try
            {
                (version, claimsPrivilege, linkNonce, proof) = LinkHandshake.ReadAuthenticate(payload);
            }
            catch (WireFormatException ex)
            {
                return new LinkRefusal(EjectCode.LinkAuthenticationFailed, $"malformed handshake: {ex.Message}");
            }

            if (version != LinkHandshake.ProtocolVersion)
            {
                return new LinkRefusal(EjectCode.LinkVersionMismatch, $"the link speaks link protocol {version}, this Message Director {LinkHandshake.ProtocolVersion}: run the AI and the OTP from the same Pastry version");
            }

            string secret = claimsPrivilege ? options.PrivilegedSecret : options.Secret;
            if (claimsPrivilege && secret.Length == 0)
            {
                return new LinkRefusal(EjectCode.LinkAuthenticationFailed, "the link asks to be privileged, but this Message Director grants no privileged links (MessageDirector:PrivilegedSecret is not set)");
            }

            if (secret.Length > 0 && !LinkHandshake.ProofMatches(proof, LinkHandshake.LinkProof(secret, version, claimsPrivilege, directorNonce, linkNonce)))
            {
                string key = claimsPrivilege ? "MessageDirector:PrivilegedSecret (Ai:PrivilegedSecret on the AI)" : "MessageDirector:Secret (Ai:Secret on the AI)";
                return new LinkRefusal(EjectCode.LinkAuthenticationFailed, proof.Length == 0 ? $"no secret given; this Message Director requires {key}" : $"wrong secret; the link must prove {key}");
            }

            privileged = claimsPrivilege;
            if (secret.Length > 0)
            {
                welcome = LinkHandshake.DirectorProof(secret, version, claimsPrivilege, directorNonce, linkNonce);
            }

            return null;
        }

        /// <summary>Handles one frame of an authenticated link; a refusal closes the link.</summary>
        private LinkRefusal? Handle(ushort type, byte[] body)
        {
            var reader = new WireReader(body);
            switch ((InternalMessageType)type)
            {
                case InternalMessageType.AddChannel:
                    return AddChannel(Channel.Read(ref reader));
                case InternalMessageType.RemoveChannel:
                    {
                        var channel = Channel.Read(ref reader);
                        if (channels.Remove(channel))
                        {
                            Interlocked.Decrement(ref server.subscriptions);
                            server.router.Unsubscribe(this, channel);
                        }

                        return null;
                    }

                case InternalMessageType.AddRange:
                    return AddRange((reader.ReadDoId(), reader.ReadUInt32(), reader.ReadUInt32()));
                case InternalMessageType.RemoveRange:
                    {
                        var range = (reader.ReadDoId(), reader.ReadUInt32(), reader.ReadUInt32());
                        if (ranges.Remove(range))
                        {
                            Interlocked.Decrement(ref server.subscriptions);
                            server.router.UnsubscribeRange(this, range.Item1, range.Item2, range.Item3);
                        }

                        return null;
                    }

                case InternalMessageType.AddPostRemove:
                    {
                        ushort innerType = reader.ReadUInt16();
                        var envelope = Envelope.Read(innerType, reader.ReadToEnd(), targets);
                        return MaySend(envelope) ?? AddPostRemove(envelope, body.Length);
                    }

                case InternalMessageType.ClearPostRemoves:
                    ForgetPostRemoves();
                    return null;
            }

            var routed = Envelope.Read(type, body, targets);
            if (MaySend(routed) is { } refusal)
            {
                return refusal;
            }

            if (!privileged && ParticipantRules.IsCheckedDatabaseWrite(routed.Type))
            {
                // A participant's write of a stored row goes through the State Server, which knows whose object it is.
                server.router.Publish(routed, Channel.StateServer);
                return null;
            }

            server.router.Publish(routed, CollectionsMarshal.AsSpan(targets));
            return null;
        }

        private LinkRefusal? AddChannel(Channel channel)
        {
            if (channels.Contains(channel))
            {
                return null;
            }

            if (channels.Count >= options.MaxChannelsPerLink)
            {
                return new LinkRefusal(EjectCode.LinkLimitExceeded, $"more than {options.MaxChannelsPerLink} channels subscribed (MessageDirector:MaxChannelsPerLink)");
            }

            if (!privileged && !ParticipantRules.MaySubscribe(channel))
            {
                return new LinkRefusal(EjectCode.LinkForbidden, $"a participant link may not subscribe to {channel} (only its own participant channels, locations, objects and session events; a privileged link may)");
            }

            if (!privileged && channel.Kind == ChannelKind.Participant)
            {
                if (!server.TryClaim(channel, this))
                {
                    return new LinkRefusal(EjectCode.LinkForbidden, $"participant channel {channel} already belongs to another link or to the OTP process; a link speaks only for its own participants");
                }

                claimed.Add(channel);
            }

            channels.Add(channel);
            Interlocked.Increment(ref server.subscriptions);
            server.router.Subscribe(this, channel);
            return null;
        }

        private LinkRefusal? AddRange((DoId Parent, uint Low, uint High) range)
        {
            if (range.Low > range.High)
            {
                return new LinkRefusal(EjectCode.LinkForbidden, $"empty zone range [{range.Low}, {range.High}] under {range.Parent}");
            }

            if (ranges.Contains(range))
            {
                return null;
            }

            if (ranges.Count >= options.MaxRangesPerLink)
            {
                return new LinkRefusal(EjectCode.LinkLimitExceeded, $"more than {options.MaxRangesPerLink} zone ranges subscribed (MessageDirector:MaxRangesPerLink)");
            }

            ranges.Add(range);
            Interlocked.Increment(ref server.subscriptions);
            server.router.SubscribeRange(this, range.Parent, range.Low, range.High);
            return null;
        }

        private LinkRefusal? AddPostRemove(Envelope envelope, int bytes)
        {
            if (postRemoves.Count >= options.MaxPostRemovesPerLink)
            {
                return new LinkRefusal(EjectCode.LinkLimitExceeded, $"more than {options.MaxPostRemovesPerLink} post-removes registered (MessageDirector:MaxPostRemovesPerLink)");
            }

            if ((long)postRemoveBytes + bytes > options.MaxPostRemoveBytesPerLink)
            {
                return new LinkRefusal(EjectCode.LinkLimitExceeded, $"post-removes of more than {options.MaxPostRemoveBytesPerLink} bytes in all (MessageDirector:MaxPostRemoveBytesPerLink)");
            }

            postRemoves.Add((envelope, targets.ToArray(), bytes));
            postRemoveBytes += bytes;
            Interlocked.Increment(ref server.postRemoves);
            Interlocked.Add(ref server.postRemoveBytes, bytes);
            return null;
        }

        /// <summary>
        /// What a link may route: never the MD's own messages; and a participant (not privileged) only requests to the
        /// server roles, from a participant channel it claimed (see <see cref="ParticipantRules"/>).
        /// </summary>
        private LinkRefusal? MaySend(Envelope envelope)
        {
            if (ParticipantRules.IsDirectorsOwn(envelope.Type))
            {
                return new LinkRefusal(EjectCode.LinkForbidden, $"{envelope.Type} is the Message Director's own message; no link may send it");
            }

            if (privileged)
            {
                return null;
            }

            if (!ParticipantRules.MaySend(envelope.Type))
            {
                return new LinkRefusal(EjectCode.LinkForbidden, $"a participant link may not send {envelope.Type} (only requests to the server roles; a privileged link may)");
            }

            if (!claimed.Contains(envelope.Sender))
            {
                return new LinkRefusal(EjectCode.LinkForbidden, $"{envelope.Type} from {envelope.Sender}: a participant link speaks only from a participant channel it subscribed to first");
            }

            foreach (var target in targets)
            {
                if (!ParticipantRules.MayTarget(target))
                {
                    return new LinkRefusal(EjectCode.LinkForbidden, $"{envelope.Type} to {target}: a participant link sends only to the State Server, the Database and diagnostics");
                }
            }

            return null;
        }

        /// <summary>Logs the refusal once, queues it as the link's last frame and stops taking deliveries. True when queued.</summary>
        private bool Refuse(LinkRefusal refusal)
        {
            server.Refused(remote, refusal.Code, refusal.Reason);
            using var frame = new PooledBufferWriter(128);
            int start = frame.BeginFrame((MessageType)(ushort)InternalMessageType.LinkRefused);
            WriteRefusal(frame, refusal);
            frame.EndFrame(start);
            lock (writeGate)
            {
                closed = true;
                return outbox.AppendFinal(frame.WrittenSpan);
            }
        }

        private static void WriteRefusal(PooledBufferWriter writer, LinkRefusal refusal)
        {
            writer.WriteUInt16((ushort)refusal.Code);
            writer.WriteString(refusal.Reason);
        }

        /// <summary>Frees everything the link held: subscriptions, then its post-removes (routed, then dropped), then its claims.</summary>
        private async Task CloseAsync(Task sending, bool refused)
        {
            server.router.UnsubscribeAll(this);
            Interlocked.Add(ref server.subscriptions, -(channels.Count + ranges.Count));
            channels.Clear();
            ranges.Clear();
            RunPostRemoves();
            foreach (var channel in claimed)
            {
                server.Release(channel, this);
            }

            claimed.Clear();
            if (refused)
            {
                // Let the refusal reach the peer (it is the outbox's last frame), but not for longer than a moment.
                try
                {
                    await sending.WaitAsync(RefusalDrain).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException)
                {
                }
            }

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

        private void RunPostRemoves()
        {
            foreach (var (envelope, channels, _) in postRemoves)
            {
                server.logger.LogInformation("{Link}: routing post-remove {Envelope}", Name, envelope);
                server.router.Publish(envelope, channels);
            }

            ForgetPostRemoves();
        }

        private void ForgetPostRemoves()
        {
            Interlocked.Add(ref server.postRemoves, -postRemoves.Count);
            Interlocked.Add(ref server.postRemoveBytes, -postRemoveBytes);
            postRemoves.Clear();
            postRemoves.TrimExcess();
            postRemoveBytes = 0;
        }
    }
}
