using System.Buffers;
using Pastry.Wire;

namespace Pastry.Messaging;

/// <summary>
/// One internal message routed by the Message Director: its type, the channel of its sender, the object it is about,
/// and a payload. In one process the same instance reaches every subscriber (zero copies); between processes it is
/// framed by <see cref="Write"/> and <see cref="Read"/>. For relays to clients the payload is the client frame itself,
/// encoded once and copied as-is into every interested session (ARCHITECTURE 4, "encode once").
/// </summary>
public sealed class Envelope
{
    /// <summary>Creates an envelope.</summary>
    public Envelope(InternalMessageType type, Channel sender, DoId subject, ReadOnlyMemory<byte> payload)
    {
        Type = type;
        Sender = sender;
        Subject = subject;
        Payload = payload;
    }

    /// <summary>The message type.</summary>
    public InternalMessageType Type { get; }

    /// <summary>Who sent it; replies go there. Sessions skip relays whose sender is themselves (no echo).</summary>
    public Channel Sender { get; }

    /// <summary>The object the message is about, or <see cref="DoId.Empty"/>.</summary>
    public DoId Subject { get; }

    /// <summary>The type-specific payload.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Writes <c>type, sender, subject, targets, payload</c> as one MD frame body (after the length).</summary>
    public void Write(IBufferWriter<byte> writer, ReadOnlySpan<Channel> targets)
    {
        writer.WriteUInt16((ushort)Type);
        WriteBody(writer, targets);
    }

    /// <summary>
    /// Appends this envelope to <paramref name="outbox"/> as one MD frame addressed to <paramref name="targets"/>, in
    /// place and without an allocation (both ends of the MD link send this way). False when the outbox is closed or
    /// the frame would pass its bound; nothing is queued then.
    /// </summary>
    internal bool TryAppendTo(FrameOutbox outbox, ReadOnlySpan<Channel> targets)
    {
        using var append = outbox.BeginAppend();
        if (append.Writer is { } writer)
        {
            int start = writer.BeginFrameRaw();
            Write(writer, targets);
            writer.EndFrame(start);
        }

        return append.Commit();
    }

    /// <summary>Writes <c>sender, subject, targets, payload</c>: the frame body after its message type.</summary>
    public void WriteBody(IBufferWriter<byte> writer, ReadOnlySpan<Channel> targets)
    {
        Sender.Write(writer);
        writer.WriteDoId(Subject);
        writer.WriteVarUInt32((uint)targets.Length);
        foreach (var target in targets)
        {
            target.Write(writer);
        }

        writer.WriteRaw(Payload.Span);
    }

    /// <summary>
    /// Reads an envelope and its targets from one MD frame (its type, then the rest of the body as written by
    /// <see cref="Write"/>); the payload is copied out of the buffer.
    /// </summary>
    public static Envelope Read(ushort frameType, ReadOnlySpan<byte> body, List<Channel> targets)
    {
        var reader = new WireReader(body);
        var type = (InternalMessageType)frameType;
        var sender = Channel.Read(ref reader);
        var subject = reader.ReadDoId();
        int count = reader.ReadCount(Channel.EncodedSize);
        targets.Clear();
        for (int i = 0; i < count; i++)
        {
            targets.Add(Channel.Read(ref reader));
        }

        return new Envelope(type, sender, subject, reader.ReadToEnd().ToArray());
    }

    /// <inheritdoc />
    public override string ToString() => $"{Type} from {Sender} about {Subject} ({Payload.Length} bytes)";
}
