using System.Buffers.Binary;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// An older, compatible schema that a session speaks (its client was built from an earlier version in the lock's
/// history): which classes, fields and RPC parameters it knows, and which widened fields it reads in their old type.
/// The session passes each object frame through <see cref="Rewrite"/>, so the client is never sent a class, field,
/// RPC or argument it does not know. Sessions on the current schema have none and pay nothing.
/// </summary>
internal sealed class SessionSchema
{
    private readonly Dictionary<uint, ClassView> classes = new();

    private SessionSchema(string hash)
    {
        Hash = hash;
    }

    /// <summary>The version's schema hash, as text.</summary>
    public string Hash { get; }

    /// <summary>The view of <paramref name="version"/> over the current <paramref name="registry"/>.</summary>
    public static SessionSchema For(LockedVersion version, ModelRegistry registry)
    {
        var schema = new SessionSchema(version.Hash);
        foreach (var old in version.Classes)
        {
            if (!registry.TryGetModel(old.Name, out var model))
            {
                continue;
            }

            var fields = new FieldView[model.Fields.Count == 0 ? 0 : model.Fields.Max(f => f.WireId) + 1];
            foreach (var field in old.Fields)
            {
                if (model.FindFieldByWireId(field.Id) is { } now)
                {
                    fields[now.WireId] = new FieldView(Known: true, NarrowTo: field.Type == now.Codec.SchemaName ? null : OldCodec(field.Type));
                }
            }

            var parameters = new int[model.Methods.Count == 0 ? 0 : model.Methods.Max(m => m.WireId) + 1];
            Array.Fill(parameters, -1);
            foreach (var method in old.Methods)
            {
                if (model.FindMethodByWireId(method.Id) is { } now)
                {
                    parameters[now.WireId] = method.Parameters.Count;
                }
            }

            schema.classes[model.ClassId] = new ClassView(fields, parameters);
        }

        return schema;
    }

    /// <summary>Whether the session's client knows objects of <paramref name="model"/>.</summary>
    public bool Knows(ModelInfo model) => classes.ContainsKey(model.ClassId);

    /// <summary>
    /// Writes <paramref name="frame"/> (one client frame about an object of <paramref name="model"/>) into
    /// <paramref name="into"/> as this session's client reads it; returns false when nothing of it is for the client.
    /// </summary>
    public bool Rewrite(ReadOnlySpan<byte> frame, ModelInfo model, PooledBufferWriter into)
    {
        if (!classes.TryGetValue(model.ClassId, out var view))
        {
            return false;
        }

        var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(frame.Slice(Frame.LengthSize));
        var payload = frame.Slice(Frame.HeaderSize);
        switch (type)
        {
            case MessageType.EnterObject:
            case MessageType.EnterOwnedObject:
                {
                    // doid, class id, parent, zone, owner, then the values.
                    const int fixedBytes = DoId.Size + 4 + DoId.Size + 4 + DoId.Size;
                    return WriteValues(type, payload.Slice(0, fixedBytes), payload.Slice(fixedBytes), counted: true, keepEmpty: true);
                }

            case MessageType.SetField:
                // Sent as a SetFields, which can carry nothing when a widened value does not fit the old type.
                return WriteValues(MessageType.SetFields, payload.Slice(0, DoId.Size), payload.Slice(DoId.Size), counted: false, keepEmpty: false);
            case MessageType.SetFields:
                return WriteValues(MessageType.SetFields, payload.Slice(0, DoId.Size), payload.Slice(DoId.Size), counted: true, keepEmpty: false);
            case MessageType.CallMethod:
                {
                    var reader = new WireReader(payload);
                    reader.ReadDoId();
                    int id = reader.ReadUInt16();
                    var method = model.FindMethodByWireId(id);
                    int known = (uint)id < (uint)view.Parameters.Length ? view.Parameters[id] : -1;
                    if (method is null || known < 0)
                    {
                        return false;
                    }

                    // Arguments of parameters added since (optional ones) are cut off.
                    for (int i = 0; i < known; i++)
                    {
                        method.Parameters[i].Codec.Skip(ref reader);
                    }

                    int start = into.BeginFrame(type);
                    into.WriteRaw(payload.Slice(0, reader.Position));
                    into.EndFrame(start);
                    return true;
                }

            default:
                into.WriteRaw(frame);
                return true;
        }

        bool WriteValues(MessageType frameType, ReadOnlySpan<byte> head, ReadOnlySpan<byte> values, bool counted, bool keepEmpty)
        {
            var reader = new WireReader(values);
            int count = counted ? reader.ReadUInt16() : 1;
            if (!keepEmpty && !AnyKnown(reader, count))
            {
                return false;
            }

            int start = into.BeginFrame(frameType);
            into.WriteRaw(head);
            int countAt = into.WrittenCount;
            into.WriteUInt16(0);

            int kept = 0;
            for (int i = 0; i < count; i++)
            {
                int id = reader.ReadUInt16();
                var field = model.FindFieldByWireId(id) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {id}");
                var value = reader;
                int valueStart = reader.Position;
                field.Codec.Skip(ref reader);
                var bytes = value.ReadRaw(reader.Position - valueStart);
                var known = (uint)id < (uint)view.Fields.Length ? view.Fields[id] : default;
                if (!known.Known)
                {
                    continue;
                }

                if (known.NarrowTo is { } narrow)
                {
                    // A widened field (int32 -> int64, float32 -> float64) reaches this client in its old type; a value
                    // that does not fit it is not sent.
                    var wide = new WireReader(bytes);
                    object? narrowed = Narrow(field.Codec.ReadBoxed(ref wide), narrow.ClrType);
                    if (narrowed is null)
                    {
                        continue;
                    }

                    into.WriteUInt16((ushort)id);
                    narrow.WriteBoxed(into, narrowed);
                }
                else
                {
                    into.WriteUInt16((ushort)id);
                    into.WriteRaw(bytes);
                }

                kept++;
            }

            // The count is patched in place: the frame was written in one pass.
            BinaryPrimitives.WriteUInt16LittleEndian(System.Runtime.InteropServices.MemoryMarshal.AsMemory(into.WrittenMemory).Span.Slice(countAt), (ushort)kept);

            into.EndFrame(start);
            return true;
        }

        // A first pass, so that a frame with nothing for this client is never begun (the writer cannot take bytes back).
        bool AnyKnown(WireReader reader, int count)
        {
            for (int i = 0; i < count; i++)
            {
                int id = reader.ReadUInt16();
                if ((uint)id < (uint)view.Fields.Length && view.Fields[id].Known)
                {
                    return true;
                }

                var field = model.FindFieldByWireId(id) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {id}");
                field.Codec.Skip(ref reader);
            }

            return false;
        }
    }

    /// <summary>The old codec of a field this client still sends in its type before widening, or null.</summary>
    public ValueCodec? OldCodecOf(ModelInfo model, int wireId) =>
        classes.TryGetValue(model.ClassId, out var view) && (uint)wireId < (uint)view.Fields.Length ? view.Fields[wireId].NarrowTo : null;

    /// <summary>Reads a value this client sent in the field's old type and encodes it in the field's current type.</summary>
    public static byte[] Widen(ref WireReader reader, ValueCodec oldCodec, FieldDescriptor field)
    {
        object? value = oldCodec.ReadBoxed(ref reader) switch
        {
            int narrow => (long)narrow,
            float narrow => (double)narrow,
            int[] narrow => Array.ConvertAll(narrow, v => (long)v),
            float[] narrow => Array.ConvertAll(narrow, v => (double)v),
            var other => other,
        };
        using var widened = new PooledBufferWriter(16);
        field.Codec.WriteBoxed(widened, value);
        return widened.WrittenSpan.ToArray();
    }

    private static ValueCodec? OldCodec(string schemaName) => schemaName switch
    {
        "int32" => Codec(typeof(int)),
        "float32" => Codec(typeof(float)),
        "int32[]" => Codec(typeof(int[])),
        "float32[]" => Codec(typeof(float[])),
        _ => null,
    };

    private static ValueCodec Codec(Type type) => ValueCodecs.TryGet(type, out var codec) ? codec : throw new InvalidOperationException($"no codec for {type}");

    private static object? Narrow(object? value, Type to) => (value, to) switch
    {
        (long wide, _) when to == typeof(int) => wide is >= int.MinValue and <= int.MaxValue ? (int)wide : null,
        (double wide, _) when to == typeof(float) => (float)wide,
        (long[] wide, _) when to == typeof(int[]) => Array.TrueForAll(wide, v => v is >= int.MinValue and <= int.MaxValue) ? Array.ConvertAll(wide, v => (int)v) : null,
        (double[] wide, _) when to == typeof(float[]) => Array.ConvertAll(wide, v => (float)v),
        _ => null,
    };

    private readonly record struct FieldView(bool Known, ValueCodec? NarrowTo);

    private sealed record ClassView(FieldView[] Fields, int[] Parameters);
}
