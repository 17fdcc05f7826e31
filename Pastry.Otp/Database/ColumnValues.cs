using System.Globalization;
using Newtonsoft.Json;
using Pastry.Wire;

namespace Pastry.Otp.Database;

/// <summary>
/// Converts field values to SQLite column values and back, by the field's schema type (see
/// <see cref="ValueCodec.SchemaName"/>): <c>int32</c>, <c>int64</c> and <c>bool</c> as INTEGER, <c>float32</c> and
/// <c>float64</c> as REAL, <c>string</c> as TEXT, <c>bytes</c> and <c>doid</c> (16 big-endian bytes, time-ordered) as
/// BLOB, <c>datetime</c> as TEXT <c>yyyy-MM-ddTHH:mm:ss.fffffffZ</c> (UTC, so text order is time order), and arrays as
/// TEXT holding JSON (DateTimes and DoIds inside arrays use the same text forms).
/// </summary>
internal static class ColumnValues
{
    /// <summary>The text form of a stored DateTime; fixed width, so that it sorts as time does.</summary>
    public const string DateTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    private static readonly Dictionary<string, ValueCodec> CodecsBySchemaName =
        ValueCodecs.SupportedTypes.Select(t => { ValueCodecs.TryGet(t, out var codec); return codec; }).ToDictionary(c => c.SchemaName, StringComparer.Ordinal);

    // DateParseHandling.None: otherwise Json.NET turns date-like strings inside a string[] into DateTimes and back,
    // changing their text.
    private static readonly JsonSerializerSettings Json = new()
    {
        DateParseHandling = DateParseHandling.None,
        FloatParseHandling = FloatParseHandling.Double,
        Formatting = Formatting.None,
    };

    /// <summary>The codec of a schema type name, or null when the name is unknown.</summary>
    public static ValueCodec? CodecOf(string schemaType) => CodecsBySchemaName.GetValueOrDefault(schemaType);

    /// <summary>The SQLite column type of a schema type.</summary>
    public static string SqlType(string schemaType) => schemaType switch
    {
        "int32" or "int64" or "bool" => "INTEGER",
        "float32" or "float64" => "REAL",
        "string" or "datetime" => "TEXT",
        "bytes" or "doid" => "BLOB",
        _ when schemaType.EndsWith("[]", StringComparison.Ordinal) => "TEXT",
        _ => throw new ArgumentException($"No column type for schema type '{schemaType}'.", nameof(schemaType)),
    };

    /// <summary>The column value of a (normalised) field value.</summary>
    public static object ToSql(string schemaType, object? value)
    {
        switch (schemaType)
        {
            case "int32":
                return (long)(int)value!;
            case "int64":
                return (long)value!;
            case "bool":
                return (bool)value! ? 1L : 0L;
            case "float32":
                return (double)(float)value!;
            case "float64":
                return (double)value!;
            case "string":
                return (string?)value ?? string.Empty;
            case "bytes":
                return (byte[]?)value ?? Array.Empty<byte>();
            case "datetime":
                return FormatDateTime((DateTime)value!);
            case "doid":
                return ((DoId)value!).ToByteArray();
            case "datetime[]":
                return JsonConvert.SerializeObject(((DateTime[]?)value ?? Array.Empty<DateTime>()).Select(FormatDateTime).ToArray(), Json);
            case "doid[]":
                return JsonConvert.SerializeObject(((DoId[]?)value ?? Array.Empty<DoId>()).Select(d => d.ToString()).ToArray(), Json);
            default:
                if (schemaType.EndsWith("[]", StringComparison.Ordinal))
                {
                    return JsonConvert.SerializeObject(value ?? CodecOf(schemaType)!.DefaultBoxed, Json);
                }

                throw new ArgumentException($"Unknown schema type '{schemaType}'.", nameof(schemaType));
        }
    }

    /// <summary>
    /// Reads a column value back into a field value. Returns false, with a <paramref name="problem"/> that says what
    /// was found, when the stored value is not of the column's type (for example a row edited by hand).
    /// </summary>
    public static bool TryFromSql(string schemaType, object? sql, out object? value, out string? problem)
    {
        value = null;
        problem = null;
        switch (schemaType)
        {
            case "int32":
                if (sql is long small && small is >= int.MinValue and <= int.MaxValue)
                {
                    value = (int)small;
                    return true;
                }

                break;
            case "int64":
                if (sql is long big)
                {
                    value = big;
                    return true;
                }

                break;
            case "bool":
                if (sql is long flag && flag is 0 or 1)
                {
                    value = flag == 1;
                    return true;
                }

                break;
            case "float32":
            case "float64":
                double? real = sql switch { double d => d, long l => l, _ => null };
                if (real is { } number)
                {
                    value = schemaType == "float32" ? (object)(float)number : (object)number;
                    return true;
                }

                break;
            case "string":
                if (sql is string text)
                {
                    value = text;
                    return true;
                }

                break;
            case "bytes":
                if (sql is byte[] bytes)
                {
                    value = bytes;
                    return true;
                }

                break;
            case "datetime":
                if (sql is string stamp && TryParseDateTime(stamp, out var time))
                {
                    value = time;
                    return true;
                }

                break;
            case "doid":
                if (sql is byte[] { Length: DoId.Size } id)
                {
                    value = DoId.Read(id);
                    return true;
                }

                break;
            default:
                if (schemaType.EndsWith("[]", StringComparison.Ordinal) && sql is string json)
                {
                    return TryFromJson(schemaType, json, out value, out problem);
                }

                break;
        }

        problem = $"expected a {schemaType} stored as {SqlType(schemaType)}, found {Describe(sql)}";
        return false;
    }

    /// <summary>The SQL literal of the field type's default value, for <c>DEFAULT</c> clauses of new columns.</summary>
    public static string DefaultLiteral(string schemaType) => Literal(ToSql(schemaType, CodecOf(schemaType)!.DefaultBoxed));

    /// <summary>A column value as a SQL literal.</summary>
    public static string Literal(object sql) => sql switch
    {
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture) is var r && r.Contains('.', StringComparison.Ordinal) ? r : r + ".0",
        string s => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'",
        byte[] b => "X'" + Hex.Format(b) + "'",
        _ => throw new ArgumentException($"No literal for {sql.GetType().Name}.", nameof(sql)),
    };

    /// <summary>Encodes a field value with its wire codec.</summary>
    public static byte[] Encode(ValueCodec codec, object? value)
    {
        using var writer = new PooledBufferWriter(64);
        codec.WriteBoxed(writer, value);
        return writer.WrittenSpan.ToArray();
    }

    private static string FormatDateTime(DateTime value) =>
        (value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value).ToString(DateTimeFormat, CultureInfo.InvariantCulture);

    private static bool TryParseDateTime(string text, out DateTime value)
    {
        if (DateTime.TryParseExact(text, DateTimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out value))
        {
            value = DateTime.SpecifyKind(value, DateTimeKind.Utc);
            return true;
        }

        return false;
    }

    private static bool TryFromJson(string schemaType, string json, out object? value, out string? problem)
    {
        value = null;
        problem = null;
        try
        {
            switch (schemaType)
            {
                case "datetime[]":
                    {
                        var texts = JsonConvert.DeserializeObject<string[]>(json, Json) ?? throw new JsonException("null");
                        var times = new DateTime[texts.Length];
                        for (int i = 0; i < texts.Length; i++)
                        {
                            if (!TryParseDateTime(texts[i], out times[i]))
                            {
                                problem = $"element {i} of the JSON array is not a UTC time in the form {DateTimeFormat}";
                                return false;
                            }
                        }

                        value = times;
                        return true;
                    }

                case "doid[]":
                    {
                        var texts = JsonConvert.DeserializeObject<string[]>(json, Json) ?? throw new JsonException("null");
                        var ids = new DoId[texts.Length];
                        for (int i = 0; i < texts.Length; i++)
                        {
                            if (!DoId.TryParse(texts[i], out ids[i]))
                            {
                                problem = $"element {i} of the JSON array is not a DoId";
                                return false;
                            }
                        }

                        value = ids;
                        return true;
                    }

                default:
                    value = JsonConvert.DeserializeObject(json, CodecOf(schemaType)!.ClrType, Json) ?? throw new JsonException("null");
                    if (value is Array array && array.GetType().GetElementType() is { IsValueType: false })
                    {
                        foreach (object? element in array)
                        {
                            if (element is null)
                            {
                                problem = "the JSON array holds a null element";
                                return false;
                            }
                        }
                    }

                    return true;
            }
        }
        catch (JsonException ex)
        {
            problem = $"expected a JSON array for {schemaType}: {ex.Message}";
            return false;
        }
    }

    /// <summary>A column value for a message: text quoted (and cut at 40 characters), blobs as hex.</summary>
    public static string Show(object? sql) => sql switch
    {
        string s => $"'{(s.Length > 40 ? string.Concat(s.AsSpan(0, 40), "...") : s)}'",
        byte[] b => "0x" + Hex.Format(b),
        null or DBNull => "NULL",
        _ => Convert.ToString(sql, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    private static string Describe(object? sql) => sql switch
    {
        null or DBNull => "NULL",
        long l => $"the integer {l}",
        double d => $"the real {d.ToString("R", CultureInfo.InvariantCulture)}",
        string s => $"the text '{(s.Length > 40 ? string.Concat(s.AsSpan(0, 40), "...") : s)}'",
        byte[] b => $"a blob of {b.Length} byte(s)",
        _ => sql.GetType().Name,
    };
}
