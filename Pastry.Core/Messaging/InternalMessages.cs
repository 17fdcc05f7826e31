using Pastry.Wire;

namespace Pastry.Messaging;

/// <summary>
/// Builds the internal messages an AI sends to the State Server (see <see cref="InternalMessageType"/> for the
/// layouts), encoding values straight from an object's typed fields.
/// </summary>
public static class InternalMessages
{
    /// <summary>
    /// <c>CreateObject</c> for <paramref name="obj"/>: its class, location, owner, creating AI, and every assigned
    /// Required or Ram field. The State Server refuses it when a Required field was never assigned.
    /// </summary>
    /// <param name="obj">The object.</param>
    /// <param name="parent">Where it is placed: the parent object (empty for the root).</param>
    /// <param name="zone">Where it is placed: the zone under <paramref name="parent"/>.</param>
    /// <param name="owner">The owning account (empty for the AI).</param>
    /// <param name="ai">The creating AI's channel.</param>
    /// <param name="databaseBacked">
    /// The object is stored in the database (an AI putting an activated object back after the server restarted): its
    /// Db fields are sent too, and the State Server writes later sets of them through, as for an activated object.
    /// </param>
    public static Envelope CreateObject(DistributedObject obj, DoId parent, uint zone, DoId owner, Channel ai, bool databaseBacked = false)
    {
        using var writer = new PooledBufferWriter(256);
        writer.WriteUInt32(obj.Model.ClassId);
        writer.WriteDoId(parent);
        writer.WriteUInt32(zone);
        writer.WriteDoId(owner);
        ai.Write(writer);
        int count = 0;
        foreach (var field in obj.Model.Fields)
        {
            if ((field.IsStored || (databaseBacked && field.IsDb)) && obj.IsAssigned(field))
            {
                count++;
            }
        }

        writer.WriteUInt16((ushort)count);
        foreach (var field in obj.Model.Fields)
        {
            if ((field.IsStored || (databaseBacked && field.IsDb)) && obj.IsAssigned(field))
            {
                writer.WriteUInt16(field.WireId);
                field.Encode(obj, writer);
            }
        }

        if (databaseBacked)
        {
            // A trailing flag: older senders end after the fields, and the State Server reads it only when present.
            writer.WriteByte(1);
        }

        return new Envelope(InternalMessageType.CreateObject, ai, obj.DoId, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>SetField</c> with the current value of <paramref name="field"/> of <paramref name="obj"/>.</summary>
    public static Envelope SetField(DistributedObject obj, FieldDescriptor field, Channel sender)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt16(field.WireId);
        field.Encode(obj, writer);
        return new Envelope(InternalMessageType.SetField, sender, obj.DoId, writer.WrittenSpan.ToArray());
    }

    /// <summary>
    /// <c>SetFieldsStored</c>: the current value of one Db field, which the database already holds, for the State Server's
    /// copy and the viewers (no write-through).
    /// </summary>
    public static Envelope SetFieldStored(DistributedObject obj, FieldDescriptor field, Channel sender)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt16(1);
        writer.WriteUInt16(field.WireId);
        field.Encode(obj, writer);
        return new Envelope(InternalMessageType.SetFieldsStored, sender, obj.DoId, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>CallMethod</c>: an RPC from the AI, relayed to clients by the method's keywords.</summary>
    public static Envelope CallMethod(DoId target, MethodDescriptor method, object?[] arguments, Channel sender)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt16(method.WireId);
        method.EncodeArguments(writer, arguments);
        return new Envelope(InternalMessageType.CallMethod, sender, target, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>SetLocation</c>: moves an object to <c>(parent, zone)</c>.</summary>
    public static Envelope SetLocation(DoId target, DoId parent, uint zone, Channel sender)
    {
        using var writer = new PooledBufferWriter(32);
        writer.WriteDoId(parent);
        writer.WriteUInt32(zone);
        return new Envelope(InternalMessageType.SetLocation, sender, target, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>SetOwner</c>.</summary>
    public static Envelope SetOwner(DoId target, DoId owner, Channel sender)
    {
        using var writer = new PooledBufferWriter(32);
        writer.WriteDoId(owner);
        return new Envelope(InternalMessageType.SetOwner, sender, target, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>DeleteObject</c>: deletes the object and its children.</summary>
    public static Envelope DeleteObject(DoId target, Channel sender) =>
        new(InternalMessageType.DeleteObject, sender, target, Array.Empty<byte>());

    /// <summary><c>MemoryQuery</c> to <see cref="Channel.Diagnostics"/>: asks an OTP process for its memory, after a full collection when <paramref name="collect"/>.</summary>
    public static Envelope MemoryQuery(bool collect, Channel sender) =>
        new(InternalMessageType.MemoryQuery, sender, DoId.Empty, new[] { collect ? (byte)1 : (byte)0 });

    /// <summary><c>DeleteAiObjects</c>: deletes every object <paramref name="ai"/> created (a post-remove cleanup).</summary>
    public static Envelope DeleteAiObjects(Channel ai)
    {
        using var writer = new PooledBufferWriter(32);
        ai.Write(writer);
        return new Envelope(InternalMessageType.DeleteAiObjects, ai, DoId.Empty, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>ParkAiObjects</c>: keeps <paramref name="ai"/>'s objects for the next AI named <paramref name="name"/> (a post-remove).</summary>
    public static Envelope ParkAiObjects(Channel ai, string name)
    {
        using var writer = new PooledBufferWriter(64);
        ai.Write(writer);
        writer.WriteString(name);
        return new Envelope(InternalMessageType.ParkAiObjects, ai, DoId.Empty, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>ClaimAiObjects</c>: <paramref name="ai"/> takes the objects parked under <paramref name="name"/>.</summary>
    public static Envelope ClaimAiObjects(uint context, string name, Channel ai)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt32(context);
        writer.WriteString(name);
        ai.Write(writer);
        return new Envelope(InternalMessageType.ClaimAiObjects, ai, DoId.Empty, writer.WrittenSpan.ToArray());
    }
    /// <summary><c>ServeDistricts</c>: <paramref name="ai"/> serves <paramref name="districts"/> (parent, first zone, last zone) from now on.</summary>
    public static Envelope ServeDistricts(Channel ai, IReadOnlyCollection<(DoId Parent, uint FirstZone, uint LastZone)> districts)
    {
        using var writer = new PooledBufferWriter(64 + (districts.Count * (DoId.Size + 8)));
        ai.Write(writer);
        writer.WriteUInt16((ushort)districts.Count);
        foreach (var (parent, first, last) in districts)
        {
            writer.WriteDoId(parent);
            writer.WriteUInt32(first);
            writer.WriteUInt32(last);
        }

        return new Envelope(InternalMessageType.ServeDistricts, ai, DoId.Empty, writer.WrittenSpan.ToArray());
    }

    /// <summary><c>HandOverObject</c>: the AI <paramref name="sender"/> hands <paramref name="target"/> over to the AI <paramref name="to"/>.</summary>
    public static Envelope HandOverObject(DoId target, Channel to, Channel sender)
    {
        using var writer = new PooledBufferWriter(32);
        to.Write(writer);
        return new Envelope(InternalMessageType.HandOverObject, sender, target, writer.WrittenSpan.ToArray());
    }
}
