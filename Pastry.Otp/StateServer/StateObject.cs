using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

/// <summary>
/// One object as the State Server keeps it: its model, location, owner, the AI that created it, and the encoded value
/// of every stored (Required or Ram) field. Values stay encoded: the server never needs them as CLR objects, and an
/// encoded value can be copied into client frames as it is.
/// </summary>
internal sealed class StateObject
{
    private byte[]? entry;

    public StateObject(DoId id, ModelInfo model, Channel ai)
    {
        Id = id;
        Model = model;
        Ai = ai;
        Values = new byte[]?[model.Fields.Count];
    }

    public DoId Id { get; }

    public ModelInfo Model { get; }

    public Channel Ai { get; }

    public Location Location { get; set; }

    public DoId Owner { get; set; }

    /// <summary>Whether the object was activated from the database: its Db fields are then kept and written through.</summary>
    public bool DbBacked { get; init; }

    /// <summary>Whether the State Server keeps <paramref name="field"/>'s value: Required or Ram, and Db when DB-backed.</summary>
    public bool Stores(FieldDescriptor field) => field.IsStored || (DbBacked && field.IsDb);

    /// <summary>Encoded value per field index; null for fields never set or not stored (see <see cref="Stores"/>).</summary>
    public byte[]?[] Values { get; }

    /// <summary>Forgets the cached entry after a change of values, location or owner.</summary>
    public void Invalidate() => entry = null;

    /// <summary>The object's entry (see <see cref="ObjectEntry"/>), built once per change and shared by every recipient.</summary>
    public byte[] Entry => entry ??= ObjectEntry.Build(this);
}

/// <summary>
/// The payload that tells a Client Agent session about an object: <c>classId: uint32, parent, zone: uint32, owner,
/// otherLength: varint, otherFrame, ownerFrame</c>. The two client frames are encoded once: EnterObject for everyone
/// (Required and Broadcast stored fields) and EnterOwnedObject for the owner (every stored field).
/// </summary>
internal static class ObjectEntry
{
    public static byte[] Build(StateObject obj)
    {
        using var other = new PooledBufferWriter(256);
        WriteEnter(other, obj, MessageType.EnterObject, ownerView: false);
        using var writer = new PooledBufferWriter(other.WrittenCount * 2 + 64);
        writer.WriteUInt32(obj.Model.ClassId);
        writer.WriteDoId(obj.Location.Parent);
        writer.WriteUInt32(obj.Location.Zone);
        writer.WriteDoId(obj.Owner);
        writer.WriteVarUInt32((uint)other.WrittenCount);
        writer.WriteRaw(other.WrittenSpan);
        WriteEnter(writer, obj, MessageType.EnterOwnedObject, ownerView: true);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Reads an entry without copying; the frames are slices of <paramref name="payload"/>.</summary>
    public static Parsed Parse(ReadOnlyMemory<byte> payload, int offset = 0)
    {
        var reader = new WireReader(payload.Span.Slice(offset));
        uint classId = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        int otherLength = reader.ReadCount(1);
        int otherStart = offset + reader.Position;
        var otherFrame = payload.Slice(otherStart, otherLength);
        var ownerFrame = payload.Slice(otherStart + otherLength);
        return new Parsed(classId, new Location(parent, zone), owner, otherFrame, ownerFrame);
    }

    private static void WriteEnter(PooledBufferWriter writer, StateObject obj, MessageType type, bool ownerView)
    {
        int start = writer.BeginFrame(type);
        writer.WriteDoId(obj.Id);
        writer.WriteUInt32(obj.Model.ClassId);
        writer.WriteDoId(obj.Location.Parent);
        writer.WriteUInt32(obj.Location.Zone);
        writer.WriteDoId(obj.Owner);
        int count = 0;
        foreach (var field in obj.Model.Fields)
        {
            if (obj.Values[field.Index] is not null && (ownerView || field.IsRequired || field.IsBroadcast))
            {
                count++;
            }
        }

        writer.WriteUInt16((ushort)count);
        foreach (var field in obj.Model.Fields)
        {
            var value = obj.Values[field.Index];
            if (value is not null && (ownerView || field.IsRequired || field.IsBroadcast))
            {
                writer.WriteUInt16((ushort)field.Index);
                writer.WriteRaw(value);
            }
        }

        writer.EndFrame(start);
    }

    /// <summary>An entry read back by a session.</summary>
    public readonly record struct Parsed(uint ClassId, Location Location, DoId Owner, ReadOnlyMemory<byte> OtherFrame, ReadOnlyMemory<byte> OwnerFrame);
}
