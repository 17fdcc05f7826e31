using System.Threading.Channels;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// A minimal AI for end-to-end tests: a participant on its own channel that sends State Server requests through
/// any <see cref="IMessageRouter"/> (in-process, or <see cref="Pastry.Ai.RemoteMessageRouter"/> over TCP) and records
/// what it receives.
/// </summary>
public sealed class TestAi : IParticipant
{
    private readonly IMessageRouter router;
    private readonly Channel<Envelope> received = System.Threading.Channels.Channel.CreateUnbounded<Envelope>();

    public TestAi(IMessageRouter router)
    {
        this.router = router;
        Channel = Pastry.Messaging.Channel.ForParticipant(DoId.NewId());
        router.Subscribe(this, Channel);
    }

    public Pastry.Messaging.Channel Channel { get; }

    public string Name => "test-ai";

    public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets) => received.Writer.TryWrite(envelope);

    public T Create<T>(T obj, DoId parent, uint zone, DoId owner = default)
        where T : DistributedObject
    {
        router.Publish(InternalMessages.CreateObject(obj, parent, zone, owner, Channel), Pastry.Messaging.Channel.StateServer);
        return obj;
    }

    /// <summary>
    /// Waits until the State Server has handled everything this AI sent so far: a probe on its own channel, over the
    /// same link and so after those messages, asks for an empty zone and awaits the QueryDone. A client's interest in
    /// a parent the AI just created is then decided knowing that parent (the default interest policy asks the State
    /// Server whether an unknown parent is public).
    /// </summary>
    public async Task SyncAsync()
    {
        var probe = new TestAi(router);
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(1);
        writer.WriteDoId(DoId.Empty);
        writer.WriteVarUInt32(1);
        writer.WriteUInt32(uint.MaxValue);
        router.Publish(new Envelope(InternalMessageType.QueryZones, probe.Channel, DoId.Empty, writer.WrittenSpan.ToArray()), Pastry.Messaging.Channel.StateServer);
        await probe.ExpectAsync(InternalMessageType.QueryDone);
        router.UnsubscribeAll(probe);
    }

    public void Set(DistributedObject obj, string field) =>
        router.Publish(InternalMessages.SetField(obj, obj.Model.GetField(field), Channel), Pastry.Messaging.Channel.StateServer);

    public void Move(DoId id, DoId parent, uint zone) =>
        router.Publish(InternalMessages.SetLocation(id, parent, zone, Channel), Pastry.Messaging.Channel.StateServer);

    public void SetOwner(DoId id, DoId owner) =>
        router.Publish(InternalMessages.SetOwner(id, owner, Channel), Pastry.Messaging.Channel.StateServer);

    public void Delete(DoId id) => router.Publish(InternalMessages.DeleteObject(id, Channel), Pastry.Messaging.Channel.StateServer);

    public void Call(DistributedObject obj, string method, params object?[] arguments) =>
        router.Publish(InternalMessages.CallMethod(obj.DoId, obj.Model.GetMethod(method), arguments, Channel), Pastry.Messaging.Channel.StateServer);

    /// <summary>Decodes a <see cref="InternalMessageType.ClientSetField"/>: the object, the sending account and each field with its value.</summary>
    public static (DoId Id, DoId Account, (string Field, object? Value)[] Values) ReadClientSet(Envelope envelope, ModelInfo model)
    {
        Assert.AreEqual(InternalMessageType.ClientSetField, envelope.Type);
        var reader = new Pastry.Wire.WireReader(envelope.Payload.Span);
        var account = reader.ReadDoId();
        var values = new (string Field, object? Value)[reader.ReadUInt16()];
        for (int i = 0; i < values.Length; i++)
        {
            var field = model.Fields[reader.ReadUInt16()];
            values[i] = (field.Name, field.Codec.ReadBoxed(ref reader));
        }

        reader.EnsureAtEnd();
        return (envelope.Subject, account, values);
    }

    /// <summary>Takes a message of <paramref name="type"/> that has already arrived, if any (others are dropped).</summary>
    public bool TryTake(InternalMessageType type, out Envelope? found)
    {
        while (received.Reader.TryRead(out var envelope))
        {
            if (envelope.Type == type)
            {
                found = envelope;
                return true;
            }
        }

        found = null;
        return false;
    }

    public async Task<Envelope> ExpectAsync(InternalMessageType type)
    {
        using var cancel = new CancellationTokenSource(RawClient.Timeout);
        while (true)
        {
            Envelope envelope;
            try
            {
                envelope = await received.Reader.ReadAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new AssertFailedException($"The AI received no {type} within {RawClient.Timeout.TotalSeconds} s.");
            }

            if (envelope.Type == type)
            {
                return envelope;
            }
        }
    }
}
