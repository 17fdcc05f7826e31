using System.IO.Pipelines;
using System.Net.Sockets;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Ai;

/// <summary>
/// The Message Director as seen from another process: an <see cref="IMessageRouter"/> whose subscriptions and
/// publishes travel over one TCP link to <c>pastry serve --role otp</c>. Code written against
/// <see cref="IMessageRouter"/> runs unchanged in one process or across processes.
/// </summary>
public sealed class RemoteMessageRouter : IMessageRouter, IAsyncDisposable
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

    private RemoteMessageRouter(TcpClient client)
    {
        this.client = client;
    }

    /// <summary>Completes when the link drops (with the reason), so that the owner can reconnect or stop.</summary>
    public Task Closed => closed.Task;

    /// <summary>Connects to the Message Director at <paramref name="host"/>:<paramref name="port"/>.</summary>
    /// <exception cref="SocketException">Nothing listens there.</exception>
    public static async Task<RemoteMessageRouter> ConnectAsync(string host, int port, CancellationToken cancellation = default)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, port, cancellation).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        var router = new RemoteMessageRouter(client);
        router.stream = client.GetStream();
        router.receiveLoop = router.ReceiveAsync();
        router.sendLoop = router.SendAsync(router.stream);
        return router;
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
        var targets = new List<Channel>();
        try
        {
            var reader = PipeReader.Create(stream!);
            while (true)
            {
                var result = await reader.ReadAsync(stop.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (Frame.TryRead(ref buffer, int.MaxValue, out ushort type, out var payload, out _) == FrameStatus.Complete)
                {
                    var envelope = Envelope.Read(type, System.Buffers.BuffersExtensions.ToArray(payload), targets);
                    DeliverLocally(envelope, targets);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
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
