using Pastry.Wire;

namespace Pastry.Messaging;

/// <summary>A comparison of a query filter; the database role turns each into SQL with the value as a parameter.</summary>
internal enum QueryOperator : byte
{
    Equal = 1,
    NotEqual = 2,
    Less = 3,
    LessOrEqual = 4,
    Greater = 5,
    GreaterOrEqual = 6,
    In = 7,
    StartsWith = 8,
    IsEmpty = 9,
    IsNotEmpty = 10,
}

/// <summary>What a query returns.</summary>
internal enum QueryResultKind : byte
{
    Objects = 1,
    Ids = 2,
    Count = 3,
}

/// <summary>One filter: a Db field (null: the DoId), an operator and its values (none, one, or the In list).</summary>
internal sealed record QueryFilter(FieldDescriptor? Field, QueryOperator Operator, IReadOnlyList<object?> Values);

/// <summary>One ordering key: a Db field (null: the DoId), ascending unless <paramref name="Descending"/>.</summary>
internal sealed record QueryOrder(FieldDescriptor? Field, bool Descending);

/// <summary>
/// A typed query of one model, as the AI builds it and the Database role runs it (layout on
/// <see cref="InternalMessageType.DbQuery"/>). The filters are a conjunction; the order always ends with the DoId, so
/// that pages never overlap.
/// </summary>
internal sealed record QuerySpec(ModelInfo Model, IReadOnlyList<QueryFilter> Filters, IReadOnlyList<QueryOrder> Orders, int Skip, int Take, QueryResultKind Result)
{
    /// <summary>The field number that stands for the DoId on the wire.</summary>
    public const ushort DoIdField = ushort.MaxValue;

    /// <summary>The largest In list a filter may carry.</summary>
    public const int MaxInValues = 1000;

    /// <summary>The query's request envelope.</summary>
    public Envelope ToEnvelope(uint context, Channel sender)
    {
        using var writer = new PooledBufferWriter(128);
        writer.WriteUInt32(context);
        writer.WriteUInt32(Model.ClassId);
        writer.WriteByte((byte)Result);
        writer.WriteUInt32((uint)Skip);
        writer.WriteUInt32((uint)Take);
        writer.WriteUInt16((ushort)Filters.Count);
        foreach (var filter in Filters)
        {
            writer.WriteUInt16(filter.Field is null ? DoIdField : filter.Field.WireId);
            writer.WriteByte((byte)filter.Operator);
            writer.WriteUInt16((ushort)filter.Values.Count);
            var codec = CodecOf(filter.Field);
            foreach (object? value in filter.Values)
            {
                codec.WriteBoxed(writer, value);
            }
        }

        writer.WriteUInt16((ushort)Orders.Count);
        foreach (var order in Orders)
        {
            writer.WriteUInt16(order.Field is null ? DoIdField : order.Field.WireId);
            writer.WriteByte(order.Descending ? (byte)1 : (byte)0);
        }

        return new Envelope(InternalMessageType.DbQuery, sender, DoId.Empty, writer.WrittenSpan.ToArray());
    }

    /// <summary>
    /// Reads a query after its <c>context</c> and <c>classId</c>. Returns null with a <paramref name="problem"/> for a
    /// request that names a field that is not Db or an operator that does not fit the field.
    /// </summary>
    /// <exception cref="WireFormatException">The payload is malformed.</exception>
    public static QuerySpec? Read(ref WireReader reader, ModelInfo model, out string? problem)
    {
        var result = (QueryResultKind)reader.ReadByte();
        int skip = (int)Math.Min(reader.ReadUInt32(), int.MaxValue);
        int take = (int)Math.Min(reader.ReadUInt32(), int.MaxValue);
        int filterCount = reader.ReadUInt16();
        var filters = new List<QueryFilter>(Math.Min(filterCount, 64));
        for (int i = 0; i < filterCount; i++)
        {
            var field = ReadField(ref reader, model, orderKey: false, out problem);
            if (problem is not null)
            {
                return null;
            }

            var op = (QueryOperator)reader.ReadByte();
            int count = reader.ReadUInt16();
            if (count > MaxInValues)
            {
                problem = $"a filter on {model.Name}.{field?.Name ?? "DoId"} carries {count} values; at most {MaxInValues}";
                return null;
            }

            var codec = CodecOf(field);
            var values = new object?[count];
            for (int v = 0; v < count; v++)
            {
                values[v] = codec.ReadBoxed(ref reader);
            }

            problem = Check(model, field, op, count);
            if (problem is not null)
            {
                return null;
            }

            filters.Add(new QueryFilter(field, op, values));
        }

        int orderCount = reader.ReadUInt16();
        var orders = new List<QueryOrder>(Math.Min(orderCount, 16));
        for (int i = 0; i < orderCount; i++)
        {
            var field = ReadField(ref reader, model, orderKey: true, out problem);
            if (problem is not null)
            {
                return null;
            }

            orders.Add(new QueryOrder(field, reader.ReadByte() != 0));
        }

        reader.EnsureAtEnd();
        if (result is not (QueryResultKind.Objects or QueryResultKind.Ids or QueryResultKind.Count))
        {
            problem = $"unknown query result kind {(byte)result}";
            return null;
        }

        problem = null;
        return new QuerySpec(model, filters, orders, skip, take, result);
    }

    /// <summary>Whether a field can be filtered or ordered on: a Db field that is not an array (arrays are JSON text), or the DoId.</summary>
    public static bool IsQueryable(FieldDescriptor? field) => field is null || (field.IsDb && (!field.ClrType.IsArray || field.ClrType == typeof(byte[])));

    /// <summary>The problem with applying <paramref name="op"/> to <paramref name="field"/> with <paramref name="count"/> values, or null.</summary>
    public static string? Check(ModelInfo model, FieldDescriptor? field, QueryOperator op, int count)
    {
        string name = $"{model.Name}.{field?.Name ?? "DoId"}";
        if (field is { IsDb: false })
        {
            return $"{name} is not [Db]; queries read the database, so they filter and order on Db fields only";
        }

        if (op is QueryOperator.IsEmpty or QueryOperator.IsNotEmpty)
        {
            bool emptiable = field is null || field.ClrType == typeof(string) || field.ClrType.IsArray || field.ClrType == typeof(DoId);
            if (!emptiable)
            {
                return $"IsEmpty applies to strings, byte arrays, arrays and DoIds; {name} is a {field!.ClrType.Name}";
            }

            return count == 0 ? null : $"IsEmpty on {name} takes no value";
        }

        if (!IsQueryable(field))
        {
            return $"{name} is an array, stored as JSON text: queries can test it with IsEmpty only";
        }

        switch (op)
        {
            case QueryOperator.In:
                return null;
            case QueryOperator.StartsWith when field?.ClrType != typeof(string):
                return $"StartsWith applies to string fields; {name} is a {field?.ClrType.Name ?? "DoId"}";
            case >= QueryOperator.Equal and <= QueryOperator.StartsWith:
                return count == 1 ? null : $"{op} on {name} takes one value, not {count}";
            default:
                return $"unknown query operator {(byte)op}";
        }
    }

    private static FieldDescriptor? ReadField(ref WireReader reader, ModelInfo model, bool orderKey, out string? problem)
    {
        problem = null;
        int index = reader.ReadUInt16();
        if (index == DoIdField)
        {
            return null;
        }

        var field = model.FindFieldByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {index}");
        if (!field.IsDb)
        {
            problem = $"{model.Name}.{field.Name} is not [Db]; queries read the database, so they filter and order on Db fields only";
        }
        else if (orderKey && !IsQueryable(field))
        {
            problem = $"{model.Name}.{field.Name} is an array, stored as JSON text: queries cannot order by it";
        }

        return field;
    }

    private static ValueCodec CodecOf(FieldDescriptor? field)
    {
        if (field is not null)
        {
            return field.Codec;
        }

        ValueCodecs.TryGet(typeof(DoId), out var codec);
        return codec;
    }
}
