using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Messaging;

/// <summary>
/// Builds the requests of the Database role and of activation (layouts on the <c>Db*</c> and
/// <see cref="InternalMessageType.ActivateObject"/> members of <see cref="InternalMessageType"/>), and reads their
/// replies. Values are encoded straight from typed field values.
/// </summary>
internal static class DatabaseMessages
{
    /// <summary><c>DbCreateObject</c>: stores <paramref name="obj"/>'s assigned Db fields (the rest get their defaults).</summary>
    public static Envelope CreateObject(uint context, DistributedObject obj, Channel sender)
    {
        using var writer = Begin(context, obj.Model.ClassId);
        var all = obj.Model.Fields;
        int count = 0;
        for (int i = 0; i < all.Count; i++)
        {
            count += Stored(all[i]) ? 1 : 0;
        }

        writer.WriteUInt16((ushort)count);
        for (int i = 0; i < all.Count; i++)
        {
            var field = all[i];
            if (Stored(field))
            {
                writer.WriteUInt16(field.WireId);
                field.Encode(obj, writer);
            }
        }

        return new Envelope(InternalMessageType.DbCreateObject, sender, obj.DoId, writer.WrittenSpan.ToArray());

        bool Stored(FieldDescriptor field) => field.IsDb && obj.IsAssigned(field);
    }

    /// <summary><c>DbGetAll</c>: reads every Db field of a stored object.</summary>
    public static Envelope GetAll(uint context, ModelInfo model, DoId id, Channel sender)
    {
        using var writer = Begin(context, model.ClassId);
        return new Envelope(InternalMessageType.DbGetAll, sender, id, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>DbSetFields</c>: writes the given Db fields (each with a value of the field's type); context 0 asks for no ack.</summary>
    public static Envelope SetFields(uint context, ModelInfo model, DoId id, Channel sender, params (FieldDescriptor Field, object? Value)[] values)
    {
        using var writer = Begin(context, model.ClassId);
        WriteValues(writer, values);

        return new Envelope(InternalMessageType.DbSetFields, sender, id, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>DbSetFieldsIfEquals</c>: writes each new value only if every field holds its expected value.</summary>
    public static Envelope SetFieldsIfEquals(uint context, ModelInfo model, DoId id, Channel sender, params (FieldDescriptor Field, object? Expected, object? Value)[] values)
    {
        using var writer = Begin(context, model.ClassId);
        writer.WriteUInt16((ushort)values.Length);
        foreach (var (field, expected, value) in values)
        {
            writer.WriteUInt16(field.WireId);
            field.Codec.WriteBoxed(writer, expected);
            field.Codec.WriteBoxed(writer, value);
        }

        return new Envelope(InternalMessageType.DbSetFieldsIfEquals, sender, id, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>DbDeleteObject</c>: deletes the stored row.</summary>
    public static Envelope DeleteObject(uint context, ModelInfo model, DoId id, Channel sender)
    {
        using var writer = Begin(context, model.ClassId);
        return new Envelope(InternalMessageType.DbDeleteObject, sender, id, writer.WrittenSpan.ToArray());
    }

    /// <summary>
    /// <c>ActivateObject</c> (to the State Server): loads <paramref name="id"/> from the database into RAM at
    /// <c>(parent, zone)</c>; <paramref name="values"/> supplies stored fields that are not Db.
    /// </summary>
    public static Envelope ActivateObject(uint context, ModelInfo model, DoId id, DoId parent, uint zone, DoId owner, Channel ai, params (FieldDescriptor Field, object? Value)[] values)
    {
        using var writer = Begin(context, model.ClassId);
        writer.WriteDoId(parent);
        writer.WriteUInt32(zone);
        writer.WriteDoId(owner);
        ai.Write(writer);
        WriteValues(writer, values);

        return new Envelope(InternalMessageType.ActivateObject, ai, id, writer.WrittenSpan.ToArray());
    }

    /// <summary>Reads any Database or activation reply: <c>context, status, reason</c> and the values that follow, if any.</summary>
    /// <exception cref="WireFormatException">The payload is malformed.</exception>
    public static DatabaseReply ReadReply(Envelope envelope, ModelInfo? model = null)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint context = reader.ReadUInt32();
        var status = (DatabaseStatus)reader.ReadByte();
        string reason = reader.ReadString();
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (status == DatabaseStatus.UniqueViolation)
        {
            var fields = new List<string>();
            int count = reader.IsAtEnd ? 0 : reader.ReadUInt16();
            for (int i = 0; i < count; i++)
            {
                int index = reader.ReadUInt16();
                fields.Add(model?.FindFieldByWireId(index)?.Name ?? $"#{index}");
            }

            return new DatabaseReply(envelope.Type, context, status, reason, values, fields);
        }

        if (!reader.IsAtEnd && model is not null)
        {
            int count = reader.ReadUInt16();
            for (int i = 0; i < count; i++)
            {
                int index = reader.ReadUInt16();
                var field = model.FindFieldByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {index}");
                values[field.Name] = field.Codec.ReadBoxed(ref reader);
            }
        }

        return new DatabaseReply(envelope.Type, context, status, reason, values);
    }

    /// <summary>Writes a count and then each field's wire id and value: the layout every Db request shares.</summary>
    private static void WriteValues(PooledBufferWriter writer, (FieldDescriptor Field, object? Value)[] values)
    {
        writer.WriteUInt16((ushort)values.Length);
        foreach (var (field, value) in values)
        {
            writer.WriteUInt16(field.WireId);
            field.Codec.WriteBoxed(writer, value);
        }
    }

    private static PooledBufferWriter Begin(uint context, uint classId)
    {
        var writer = new PooledBufferWriter(64);
        writer.WriteUInt32(context);
        writer.WriteUInt32(classId);
        return writer;
    }
}

/// <summary>A reply of the Database role or of activation, read by <see cref="DatabaseMessages.ReadReply"/>.</summary>
/// <param name="Type">The reply's message type.</param>
/// <param name="Context">The request's context.</param>
/// <param name="Status">What happened.</param>
/// <param name="Reason">Why it failed; empty on success.</param>
/// <param name="Values">The values the reply carries, by field name (empty when it carries none or no model was given).</param>
/// <param name="UniqueFields">For <see cref="DatabaseStatus.UniqueViolation"/>: the fields of the constraint the write broke.</param>
internal sealed record DatabaseReply(InternalMessageType Type, uint Context, DatabaseStatus Status, string Reason, IReadOnlyDictionary<string, object?> Values, IReadOnlyList<string>? UniqueFields = null);
