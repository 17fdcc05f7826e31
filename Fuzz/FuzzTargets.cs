using System.Buffers;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Fuzz;

/// <summary>
/// The decoders that read bytes from the network, driven the way the servers drive them. Hostile bytes may make them
/// throw <see cref="WireFormatException"/> (the servers eject or drop the link on it); any other exception, a hang or
/// a crash is a bug. Tests replay the checked-in corpus through these same methods (<c>FuzzCorpusTests</c>).
/// </summary>
public static class FuzzTargets
{
    /// <summary>The names the harness accepts, with the decoder each one drives.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["client-frames"] = ClientFrames,
        ["md-link"] = MessageDirectorLink,
        ["values"] = Values,
    };

    // The models are made on first use, inside the fuzzer's loop: SharpFuzz's instrumented Core code may run only after
    // Fuzzer.OutOfProcess.Run has mapped AFL's coverage memory (before that it writes through a null map and crashes).
    private static ModelRegistry Registry => Models.Registry;

    private static ModelInfo Model => Models.Model;

    private static DistributedObject Context => Models.Context;

    /// <summary>
    /// The Client Agent's side: frames cut from a byte stream with the frame size limit, then each payload decoded as
    /// the message type says (Hello, ClockSync, AddInterest, SetField(s), CallMethod), values validated.
    /// </summary>
    public static void ClientFrames(byte[] input)
    {
        var buffer = new ReadOnlySequence<byte>(input);
        using var cleaned = new PooledBufferWriter(256);
        while (true)
        {
            var status = Frame.TryRead(ref buffer, 4096, out ushort type, out var payload, out _);
            if (status != FrameStatus.Complete)
            {
                return;
            }

            try
            {
                ClientMessage((MessageType)type, payload.ToArray(), cleaned);
            }
            catch (WireFormatException)
            {
            }
        }
    }

    /// <summary>The Message Director's side of an AI link: frames, then the control messages and envelopes.</summary>
    public static void MessageDirectorLink(byte[] input)
    {
        var buffer = new ReadOnlySequence<byte>(input);
        var targets = new List<Channel>();
        while (true)
        {
            var status = Frame.TryRead(ref buffer, 1 << 20, out ushort type, out var payload, out _);
            if (status != FrameStatus.Complete)
            {
                return;
            }

            byte[] body = payload.ToArray();
            try
            {
                var reader = new WireReader(body);
                switch ((InternalMessageType)type)
                {
                    case InternalMessageType.AddChannel:
                    case InternalMessageType.RemoveChannel:
                        _ = Channel.Read(ref reader);
                        break;
                    case InternalMessageType.AddRange:
                    case InternalMessageType.RemoveRange:
                        _ = (reader.ReadDoId(), reader.ReadUInt32(), reader.ReadUInt32());
                        break;
                    case InternalMessageType.AddPostRemove:
                        _ = Envelope.Read(reader.ReadUInt16(), reader.ReadToEnd(), targets);
                        break;
                    case InternalMessageType.LinkAuthenticate:
                        _ = LinkHandshake.ReadAuthenticate(body);
                        break;
                    default:
                        _ = Envelope.Read(type, body, targets);
                        break;
                }
            }
            catch (WireFormatException)
            {
            }
        }
    }

    /// <summary>The value codec: the first byte picks a field, the rest is decoded as its values, one after another.</summary>
    public static void Values(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var field = Model.Fields[input[0] % Model.Fields.Count];
        var reader = new WireReader(input.AsSpan(1));
        try
        {
            while (reader.Remaining > 0)
            {
                var value = field.Codec.ReadBoxed(ref reader);
                using var again = new PooledBufferWriter(64);
                field.Codec.WriteBoxed(again, value);
            }
        }
        catch (WireFormatException)
        {
        }
    }

    private static void ClientMessage(MessageType type, byte[] payload, PooledBufferWriter cleaned)
    {
        var reader = new WireReader(payload);
        switch (type)
        {
            case MessageType.Hello:
                _ = (reader.ReadUInt64(), reader.ReadString());
                reader.EnsureAtEnd();
                break;
            case MessageType.ClockSync:
                _ = reader.ReadInt64();
                reader.EnsureAtEnd();
                break;
            case MessageType.AddInterest:
                {
                    _ = (reader.ReadUInt32(), reader.ReadDoId());
                    int count = reader.ReadCount(4);
                    for (int i = 0; i < count; i++)
                    {
                        _ = reader.ReadUInt32();
                    }

                    reader.EnsureAtEnd();
                    break;
                }

            case MessageType.RemoveInterest:
                _ = reader.ReadUInt32();
                reader.EnsureAtEnd();
                break;
            case MessageType.SetField:
            case MessageType.SetFields:
                {
                    _ = reader.ReadDoId();
                    int count = type == MessageType.SetFields ? reader.ReadUInt16() : 1;
                    for (int i = 0; i < count; i++)
                    {
                        int index = reader.ReadUInt16();
                        if (index >= Model.Fields.Count)
                        {
                            return;
                        }

                        cleaned.Reset();
                        _ = Model.Fields[index].DecodeAndValidate(ref reader, Context, cleaned);
                    }

                    reader.EnsureAtEnd();
                    break;
                }

            case MessageType.CallMethod:
                {
                    var target = reader.ReadDoId();
                    int index = reader.ReadUInt16();
                    var model = target == LoginManager.WellKnownId ? Registry.GetModel<LoginManager>() : Model;
                    if (model.FindMethodByWireId(index) is not { } method)
                    {
                        return;
                    }

                    var arguments = method.DecodeArguments(ref reader);
                    reader.EnsureAtEnd();
                    _ = method.ValidateArguments(target == LoginManager.WellKnownId ? model.CreateInstance() : Context, arguments);
                    break;
                }
        }
    }

    private static class Models
    {
        public static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(FuzzModel), typeof(LoginManager) });
        public static readonly ModelInfo Model = Registry.GetModel<FuzzModel>();
        public static readonly DistributedObject Context = Model.CreateInstance();
    }
}
