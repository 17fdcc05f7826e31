using System.Buffers.Binary;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

/// <summary>
/// One object as the State Server keeps it: its layout (model and which fields it stores), owner, the AI that created
/// it, its place in the <see cref="ZoneGraph"/> (id, location and zone links, inherited), and the encoded value of every stored field. Values stay encoded: the server never needs them as
/// CLR objects, and an encoded value is copied into client frames as it is. All values live in one byte array (see
/// <see cref="SetValues"/>), because an array per field and a cached entry cost several times the values themselves
/// for the small objects a game has most of.
/// </summary>
internal sealed class StateObject : ZoneNode
{
    /// <summary>
    /// The value block: an end offset per slot (relative to the data after this header; 2 bytes each while the block
    /// is at most 65,535 bytes long, 4 beyond), then the encoded values in slot order. An encoded value is never
    /// empty, so a slot of length 0 is a field that has no value.
    /// </summary>
    private byte[] values;

    public StateObject(DoId id, StoredLayout layout, Channel ai)
        : base(id)
    {
        Layout = layout;
        Ai = ai;
        values = layout.Fields.Length == 0 ? Array.Empty<byte>() : new byte[layout.Fields.Length * 2];
    }

    /// <summary>The model and which of its fields this object keeps.</summary>
    public StoredLayout Layout { get; }

    public ModelInfo Model => Layout.Model;

    /// <summary>The AI that handles it: the one that created or activated it, or the one that took it back after that AI restarted.</summary>
    public Channel Ai { get; set; }

    public DoId Owner { get; set; }

    /// <summary>Whether the object was activated from the database: its Db fields are then kept and written through.</summary>
    public bool DbBacked => Layout.DbBacked;

    /// <summary>Whether the State Server keeps <paramref name="field"/>'s value: Required or Ram, and Db when DB-backed.</summary>
    public bool Stores(FieldDescriptor field) => Layout.SlotOfField[field.Index] >= 0;

    /// <summary>The encoded value of field <paramref name="fieldIndex"/>; empty when it was never set or is not stored.</summary>
    public ReadOnlySpan<byte> Value(int fieldIndex)
    {
        int slot = Layout.SlotOfField[fieldIndex];
        return slot < 0 ? default : values.AsSpan(ValueStart(slot), ValueLength(slot));
    }

    /// <summary>Whether field <paramref name="fieldIndex"/> has a value.</summary>
    public bool HasValue(int fieldIndex) => !Value(fieldIndex).IsEmpty;

    /// <summary>
    /// Stores the values <paramref name="parsed"/> points at in <paramref name="payload"/> (field index, start,
    /// length; fields this object does not store are skipped, and of two values for one field the later wins).
    /// When every stored value keeps its encoded length, as fixed-size types always do, they are overwritten in
    /// place and nothing is allocated; otherwise the block is rebuilt once.
    /// </summary>
    public void SetValues(ReadOnlySpan<byte> payload, ReadOnlySpan<(int Field, int Start, int Length)> parsed)
    {
        var slotOfField = Layout.SlotOfField;
        foreach (var (field, _, length) in parsed)
        {
            int slot = slotOfField[field];
            if (slot >= 0 && ValueLength(slot) != length)
            {
                Rebuild(payload, parsed);
                return;
            }
        }

        foreach (var (field, start, length) in parsed)
        {
            int slot = slotOfField[field];
            if (slot >= 0)
            {
                payload.Slice(start, length).CopyTo(values.AsSpan(ValueStart(slot)));
            }
        }
    }

    private int Width => values.Length <= ushort.MaxValue ? 2 : 4;

    private int HeaderBytes => Layout.Fields.Length * Width;

    private int End(int slot) => Width == 2
        ? BinaryPrimitives.ReadUInt16LittleEndian(values.AsSpan(slot * 2))
        : BinaryPrimitives.ReadInt32LittleEndian(values.AsSpan(slot * 4));

    private int ValueStart(int slot) => HeaderBytes + (slot == 0 ? 0 : End(slot - 1));

    private int ValueLength(int slot) => End(slot) - (slot == 0 ? 0 : End(slot - 1));

    private void Rebuild(ReadOnlySpan<byte> payload, ReadOnlySpan<(int Field, int Start, int Length)> parsed)
    {
        int slots = Layout.Fields.Length;
        Span<(bool FromPayload, int Start, int Length)> sources = slots <= 32 ? stackalloc (bool, int, int)[slots] : new (bool, int, int)[slots];
        for (int slot = 0; slot < slots; slot++)
        {
            sources[slot] = (false, ValueStart(slot), ValueLength(slot));
        }

        foreach (var (field, start, length) in parsed)
        {
            int slot = Layout.SlotOfField[field];
            if (slot >= 0)
            {
                sources[slot] = (true, start, length);
            }
        }

        int total = 0;
        foreach (var source in sources)
        {
            total += source.Length;
        }

        // The reader tells the width from the block's length, so pick it by the length the block will have.
        int width = slots * 2 + total <= ushort.MaxValue ? 2 : 4;
        var next = new byte[slots * width + total];
        int end = 0;
        for (int slot = 0; slot < slots; slot++)
        {
            var (fromPayload, start, length) = sources[slot];
            (fromPayload ? payload : (ReadOnlySpan<byte>)values).Slice(start, length).CopyTo(next.AsSpan(slots * width + end));
            end += length;
            if (width == 2)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(next.AsSpan(slot * 2), (ushort)end);
            }
            else
            {
                BinaryPrimitives.WriteInt32LittleEndian(next.AsSpan(slot * 4), end);
            }
        }

        values = next;
    }
}

/// <summary>
/// Which fields the objects of one model keep (Required and Ram; also Db for objects activated from the database),
/// and the slot of each in an object's value block. One instance per model and kind, shared by all its objects.
/// </summary>
internal sealed class StoredLayout
{
    public StoredLayout(ModelInfo model, bool dbBacked)
    {
        Model = model;
        DbBacked = dbBacked;
        SlotOfField = new int[model.Fields.Count];
        var stored = new List<FieldDescriptor>();
        foreach (var field in model.Fields)
        {
            bool keeps = field.IsStored || (dbBacked && field.IsDb);
            SlotOfField[field.Index] = keeps ? stored.Count : -1;
            if (keeps)
            {
                stored.Add(field);
            }
        }

        Fields = stored.ToArray();
    }

    public ModelInfo Model { get; }

    /// <summary>Whether this is the layout of objects activated from the database.</summary>
    public bool DbBacked { get; }

    /// <summary>The slot of each field index, or -1 for a field that is not kept.</summary>
    public int[] SlotOfField { get; }

    /// <summary>The kept fields in slot order, which is field index order.</summary>
    public FieldDescriptor[] Fields { get; }
}

/// <summary>
/// The payload that tells a Client Agent session about an object: <c>classId: uint32, parent, zone: uint32, owner,
/// otherLength: varint, otherFrame, ownerFrame</c>. The two client frames are encoded once per message: EnterObject
/// for everyone (Required and Broadcast stored fields) and EnterOwnedObject for the owner (every stored field). It is
/// built when needed rather than kept per object: it is several times the size of the values it carries.
/// </summary>
internal static class ObjectEntry
{
    /// <summary>The bytes of an enter frame before its values: frame header, id, class id, parent, zone, owner, count.</summary>
    private const int EnterFrameFixedBytes = Frame.HeaderSize + DoId.Size + 4 + DoId.Size + 4 + DoId.Size + 2;

    /// <summary>The bytes of the entry before the first frame, apart from the varint: class id, parent, zone, owner.</summary>
    private const int EntryHeaderBytes = 4 + DoId.Size + 4 + DoId.Size;

    /// <summary>
    /// Appends the entry of <paramref name="obj"/> to <paramref name="writer"/>. It is measured first and then written
    /// into one span, because it is encoded for every object of every interest sync (no cached copy is kept).
    /// </summary>
    public static void Write(PooledBufferWriter writer, StateObject obj)
    {
        int otherValues = 0, otherCount = 0, ownerValues = 0, ownerCount = 0;
        foreach (var field in obj.Layout.Fields)
        {
            int length = obj.Value(field.Index).Length;
            if (length > 0)
            {
                ownerValues += 2 + length;
                ownerCount++;
                if (field.IsRequired || field.IsBroadcast)
                {
                    otherValues += 2 + length;
                    otherCount++;
                }
            }
        }

        int otherLength = EnterFrameFixedBytes + otherValues;
        int ownerLength = EnterFrameFixedBytes + ownerValues;
        var span = writer.GetSpan(EntryHeaderBytes + 5 + otherLength + ownerLength);
        BinaryPrimitives.WriteUInt32LittleEndian(span, obj.Model.ClassId);
        obj.Location.Parent.Write(span.Slice(4));
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(4 + DoId.Size), obj.Location.Zone);
        obj.Owner.Write(span.Slice(8 + DoId.Size));
        int at = EntryHeaderBytes;
        uint varint = (uint)otherLength;
        while (varint >= 0x80)
        {
            span[at++] = (byte)(varint | 0x80);
            varint >>= 7;
        }

        span[at++] = (byte)varint;
        at = WriteEnter(span, at, obj, MessageType.EnterObject, otherLength, otherCount, ownerView: false);
        at = WriteEnter(span, at, obj, MessageType.EnterOwnedObject, ownerLength, ownerCount, ownerView: true);
        writer.Advance(at);
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

    private static int WriteEnter(Span<byte> span, int at, StateObject obj, MessageType type, int frameLength, int count, bool ownerView)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(at), (uint)(frameLength - Frame.LengthSize));
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at + Frame.LengthSize), (ushort)type);
        at += Frame.HeaderSize;
        obj.Id.Write(span.Slice(at));
        at += DoId.Size;
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(at), obj.Model.ClassId);
        obj.Location.Parent.Write(span.Slice(at + 4));
        at += 4 + DoId.Size;
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(at), obj.Location.Zone);
        obj.Owner.Write(span.Slice(at + 4));
        at += 4 + DoId.Size;
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at), (ushort)count);
        at += 2;
        foreach (var field in obj.Layout.Fields)
        {
            var value = obj.Value(field.Index);
            if (!value.IsEmpty && (ownerView || field.IsRequired || field.IsBroadcast))
            {
                BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(at), field.WireId);
                value.CopyTo(span.Slice(at + 2));
                at += 2 + value.Length;
            }
        }

        return at;
    }

    /// <summary>An entry read back by a session.</summary>
    public readonly record struct Parsed(uint ClassId, Location Location, DoId Owner, ReadOnlyMemory<byte> OtherFrame, ReadOnlyMemory<byte> OwnerFrame);
}
