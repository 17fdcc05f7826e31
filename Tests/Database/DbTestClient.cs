using System.Collections.Concurrent;
using Pastry.Messaging;
using Pastry.Otp.Database;

namespace Pastry.Tests.Database;

/// <summary>
/// A participant that sends Database (and activation) requests with fresh contexts and awaits the reply with the
/// same context; other messages are kept for <see cref="ExpectAsync"/>.
/// </summary>
internal sealed class DbTestClient : IParticipant
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(20));
    private readonly IMessageRouter router;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Envelope>> waiting = new();
    private readonly System.Threading.Channels.Channel<Envelope> other = System.Threading.Channels.Channel.CreateUnbounded<Envelope>();
    private int nextContext;

    public DbTestClient(IMessageRouter router)
    {
        this.router = router;
        Channel = Pastry.Messaging.Channel.ForParticipant(DoId.NewId());
        router.Subscribe(this, Channel);
    }

    public Pastry.Messaging.Channel Channel { get; }

    public string Name => "db-test-client";

    public uint NextContext() => (uint)Interlocked.Increment(ref nextContext);

    public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets)
    {
        if (envelope.Type is InternalMessageType.DbCreateObjectResp or InternalMessageType.DbGetAllResp or InternalMessageType.DbSetFieldsAck
                or InternalMessageType.DbSetFieldsIfEqualsResp or InternalMessageType.DbDeleteObjectResp or InternalMessageType.ActivateObjectResp
            && envelope.Payload.Length >= 4
            && waiting.TryRemove(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span), out var found))
        {
            found.TrySetResult(envelope);
            return;
        }

        other.Writer.TryWrite(envelope);
    }

    /// <summary>Sends a request built with <paramref name="build"/> (given a fresh context) and returns its reply, read with <paramref name="model"/>.</summary>
    public async Task<DatabaseReply> RequestAsync(Func<uint, Envelope> build, ModelInfo? model = null, Pastry.Messaging.Channel? target = null)
    {
        var (reply, _) = await SendAsync(build, target);
        return DatabaseMessages.ReadReply(await reply, model);
    }

    /// <summary>Sends a request and returns the pending reply, without waiting for it (for streams of requests).</summary>
    public Task<(Task<Envelope> Reply, uint Context)> SendAsync(Func<uint, Envelope> build, Pastry.Messaging.Channel? target = null)
    {
        uint context = NextContext();
        var found = new TaskCompletionSource<Envelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        waiting[context] = found;
        var envelope = build(context);
        router.Publish(envelope, target ?? (envelope.Type == InternalMessageType.ActivateObject ? Pastry.Messaging.Channel.StateServer : Pastry.Messaging.Channel.Database));
        return Task.FromResult<(Task<Envelope>, uint)>((found.Task.WaitAsync(Timeout), context));
    }

    public async Task<Envelope> ExpectAsync(InternalMessageType type)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (true)
        {
            var envelope = await other.Reader.ReadAsync(cancel.Token);
            if (envelope.Type == type)
            {
                return envelope;
            }
        }
    }
}
