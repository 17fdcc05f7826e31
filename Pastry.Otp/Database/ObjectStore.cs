using Pastry.Messaging;
using System.Buffers;
using Dapper;
using Microsoft.Data.Sqlite;
using Pastry.Wire;

namespace Pastry.Otp.Database;

/// <summary>
/// Reads and writes object rows on one connection, for the Database role's single task. Values arrive and leave
/// encoded with the wire codec; every value written is cleaned and validated by its field first, and every value
/// read is checked against its type and validators, so that a row edited by hand is reported, never "fixed".
/// Reads go through Dapper; the hot write statements are prepared once per table and field set and reused, which
/// keeps a batched write at a few microseconds.
/// </summary>
internal sealed class ObjectStore : IDisposable
{
    private const int SqliteConstraint = 19;
    private const int SqliteUniqueViolation = 2067;

    private readonly SqliteConnection connection;
    private readonly Dictionary<uint, Table> tables = new();
    private readonly PooledBufferWriter scratch = new(256);
    private SqliteTransaction? transaction;

    public ObjectStore(SqliteConnection connection, ModelRegistry registry)
    {
        this.connection = connection;
        foreach (var model in registry.Models.Where(m => m.HasDbFields))
        {
            tables[model.ClassId] = new Table(model);
        }
    }

    /// <summary>The transaction the next statements join; the role sets it per batch.</summary>
    public SqliteTransaction? Transaction
    {
        get => transaction;
        set => transaction = value;
    }

    /// <summary>The stored table of a class, or null when the class is unknown or has no Db fields.</summary>
    public Table? TableOf(uint classId) => tables.GetValueOrDefault(classId);

    /// <summary>Inserts a row: the given values, and the type's default for every other Db field.</summary>
    public WriteResult Create(Table table, DoId id, IReadOnlyList<FieldValue> values)
    {
        var row = new object[table.DbFields.Length];
        var given = new bool[table.DbFields.Length];
        foreach (var value in values)
        {
            int column = table.ColumnOf(value.Field);
            row[column] = value.Sql;
            given[column] = true;
        }

        for (int i = 0; i < row.Length; i++)
        {
            if (!given[i])
            {
                var field = table.DbFields[i];
                if (field.IsRequired)
                {
                    return new(DatabaseStatus.Invalid, $"create {table.Model.Name} {id}: the Required field {field.Name} has no value");
                }

                row[i] = ColumnValues.ToSql(field.Codec.SchemaName, field.Codec.DefaultBoxed);
            }
        }

        var command = table.Command(connection, "insert", () =>
            $"INSERT INTO {table.Quoted} ({DbMapping.KeyColumn}{string.Concat(table.DbFields.Select(f => ", " + DbMapping.Quote(f.Name)))}) VALUES ($id{string.Concat(Enumerable.Range(0, table.DbFields.Length).Select(i => $", $v{i}"))})",
            table.DbFields.Length);
        command.Transaction = transaction;
        command.Parameters[0].Value = id.ToByteArray();
        for (int i = 0; i < row.Length; i++)
        {
            command.Parameters[i + 1].Value = row[i];
        }

        try
        {
            command.ExecuteNonQuery();
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteUniqueViolation)
        {
            return UniqueViolation(table, id, column => row[column]);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteConstraint)
        {
            return new(DatabaseStatus.AlreadyExists, $"create {table.Model.Name}: DoId {id} is already stored");
        }

        return WriteResult.Done;
    }

    /// <summary>Reads every Db field of a row, checked; null values when the row does not exist.</summary>
    public (DatabaseStatus Status, string Reason, List<(FieldDescriptor Field, byte[] Value)>? Values) GetAll(Table table, DoId id, IReadOnlyList<FieldDescriptor>? only = null)
    {
        var row = connection.QueryFirstOrDefault(table.SelectSql, new { id = id.ToByteArray() }, transaction) as IDictionary<string, object?>;
        if (row is null)
        {
            return (DatabaseStatus.NotFound, $"no stored {table.Model.Name} with DoId {id}", null);
        }

        var values = CheckRow(table, row, only, out string? problem);
        return values is null
            ? (DatabaseStatus.BadData, $"stored {table.Model.Name} {id} has bad data (fix the row or restore it; it was not changed): {problem}", null)
            : (DatabaseStatus.Ok, string.Empty, values);
    }

    /// <summary>
    /// Checks a row's Db fields against their types, validators and clean methods; returns their encoded values, or
    /// null with every <paramref name="problem"/> (a row edited by hand is reported, never "fixed").
    /// </summary>
    public List<(FieldDescriptor Field, byte[] Value)>? CheckRow(Table table, IDictionary<string, object?> row, IReadOnlyList<FieldDescriptor>? only, out string? problem)
    {
        var values = new List<(FieldDescriptor, byte[])>(table.DbFields.Length);
        List<string>? problems = null;
        foreach (var field in only ?? table.DbFields)
        {
            row.TryGetValue(field.Name, out object? sql);
            if (!ColumnValues.TryFromSql(field.Codec.SchemaName, sql is DBNull ? null : sql, out object? value, out string? wrong))
            {
                (problems ??= new()).Add($"field {field.Name}: {wrong}");
                continue;
            }

            byte[] encoded = ColumnValues.Encode(field.Codec, value);
            var reader = new WireReader(encoded);
            scratch.Reset();
            IReadOnlyList<string>? invalid;
            try
            {
                invalid = field.DecodeAndValidate(ref reader, table.Context, scratch);
            }
            catch (WireFormatException ex)
            {
                invalid = new[] { ex.Message };
            }

            if (invalid is not null)
            {
                (problems ??= new()).Add($"field {field.Name}: the stored value {field.Codec.FormatBoxed(value)} fails validation: {string.Join(" ", invalid)}");
                continue;
            }

            if (!scratch.WrittenSpan.SequenceEqual(encoded))
            {
                (problems ??= new()).Add($"field {field.Name}: the stored value {field.Codec.FormatBoxed(value)} is not what its Clean{field.Name} method makes of it");
                continue;
            }

            values.Add((field, encoded));
        }

        problem = problems is null ? null : string.Join("; ", problems);
        return problems is null ? values : null;
    }

    /// <summary>Updates the given Db fields of a row.</summary>
    public WriteResult SetFields(Table table, DoId id, IReadOnlyList<FieldValue> values)
    {
        var command = table.Command(connection, "set:" + FieldKey(values), () =>
            $"UPDATE {table.Quoted} SET {string.Join(", ", values.Select((v, i) => $"{DbMapping.Quote(v.Field.Name)} = $v{i}"))} WHERE {DbMapping.KeyColumn} = $id",
            values.Count);
        command.Transaction = transaction;
        command.Parameters[0].Value = id.ToByteArray();
        for (int i = 0; i < values.Count; i++)
        {
            command.Parameters[i + 1].Value = values[i].Sql;
        }

        try
        {
            return command.ExecuteNonQuery() == 1
                ? WriteResult.Done
                : new(DatabaseStatus.NotFound, $"no stored {table.Model.Name} with DoId {id}");
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteUniqueViolation)
        {
            return UniqueViolation(table, id, values);
        }
    }

    /// <summary>
    /// Writes <paramref name="updates"/> only if every field in <paramref name="expected"/> holds its expected value,
    /// in one statement, so no other write can come between the compare and the swap.
    /// </summary>
    public WriteResult SetFieldsIfEquals(Table table, DoId id, IReadOnlyList<FieldValue> expected, IReadOnlyList<FieldValue> updates)
    {
        var command = table.Command(connection, "cas:" + FieldKey(expected) + "/" + FieldKey(updates), () =>
            $"UPDATE {table.Quoted} SET {string.Join(", ", updates.Select((v, i) => $"{DbMapping.Quote(v.Field.Name)} = $v{i}"))} WHERE {DbMapping.KeyColumn} = $id"
            + string.Concat(expected.Select((v, i) => $" AND {DbMapping.Quote(v.Field.Name)} IS $e{i}")),
            updates.Count,
            expected.Count);
        command.Transaction = transaction;
        command.Parameters[0].Value = id.ToByteArray();
        for (int i = 0; i < updates.Count; i++)
        {
            command.Parameters[i + 1].Value = updates[i].Sql;
        }

        for (int i = 0; i < expected.Count; i++)
        {
            command.Parameters[updates.Count + i + 1].Value = expected[i].Sql;
        }

        try
        {
            return command.ExecuteNonQuery() == 1 ? WriteResult.Done : new(DatabaseStatus.NotEqual, string.Empty);
        }
        catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteUniqueViolation)
        {
            return UniqueViolation(table, id, updates);
        }
    }

    /// <summary>
    /// Names the unique constraint that a refused write broke: the one under which another row holds the values the
    /// written row would have had (the written values over the stored ones).
    /// </summary>
    private WriteResult UniqueViolation(Table table, DoId id, IReadOnlyList<FieldValue> updates)
    {
        var stored = connection.QueryFirstOrDefault(table.SelectSql, new { id = id.ToByteArray() }, transaction) as IDictionary<string, object?>;
        return UniqueViolation(table, id, column =>
        {
            var field = table.DbFields[column];
            foreach (var update in updates)
            {
                if (update.Field == field)
                {
                    return update.Sql;
                }
            }

            return stored is not null && stored.TryGetValue(field.Name, out object? value) ? value ?? DBNull.Value : DBNull.Value;
        });
    }

    private WriteResult UniqueViolation(Table table, DoId id, Func<int, object> valueOfColumn)
    {
        foreach (var index in table.Model.Indexes.Where(i => i.IsUnique))
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"SELECT 1 FROM {table.Quoted} WHERE {DbMapping.KeyColumn} <> $id"
                + string.Concat(index.Fields.Select((f, i) => $" AND {DbMapping.Quote(f.Name)} = $v{i}{(index.IgnoresCaseOf(f) ? " COLLATE " + SqliteDatabase.CaseFoldCollation : string.Empty)}"))
                + " LIMIT 1";
            command.Parameters.AddWithValue("$id", id.ToByteArray());
            var values = new object[index.Fields.Count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = valueOfColumn(table.ColumnOf(index.Fields[i]));
                command.Parameters.AddWithValue($"$v{i}", values[i]);
            }

            if (command.ExecuteScalar() is not null)
            {
                string shown = string.Join(", ", index.Fields.Select((f, i) => $"{f.Name} = {ColumnValues.Show(values[i])}"));
                return new(
                    DatabaseStatus.UniqueViolation,
                    $"{table.Model.Name}: {shown} is taken by another stored {table.Model.Name} (unique{(index.IgnoreCase ? ", ignoring case" : string.Empty)})",
                    index);
            }
        }

        return new(DatabaseStatus.UniqueViolation, $"{table.Model.Name}: a unique constraint refused the write (no conflicting row found afterwards)");
    }

    /// <summary>Deletes a row.</summary>
    public (DatabaseStatus Status, string Reason) Delete(Table table, DoId id)
    {
        int deleted = connection.Execute($"DELETE FROM {table.Quoted} WHERE {DbMapping.KeyColumn} = @id", new { id = id.ToByteArray() }, transaction);
        return deleted == 1 ? (DatabaseStatus.Ok, string.Empty) : (DatabaseStatus.NotFound, $"no stored {table.Model.Name} with DoId {id}");
    }

    public void Dispose()
    {
        foreach (var table in tables.Values)
        {
            table.Dispose();
        }

        scratch.Dispose();
    }

    private static string FieldKey(IReadOnlyList<FieldValue> values) =>
        values.Count == 1 ? values[0].Field.Index.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Join(",", values.Select(v => v.Field.Index));

    /// <summary>What a write did; <paramref name="Conflict"/> names the unique constraint a refused write broke.</summary>
    internal readonly record struct WriteResult(DatabaseStatus Status, string Reason, ModelIndex? Conflict = null)
    {
        public static WriteResult Done => new(DatabaseStatus.Ok, string.Empty);
    }

    /// <summary>A field value ready to bind: the field, its cleaned encoded form, and its column value.</summary>
    internal readonly record struct FieldValue(FieldDescriptor Field, byte[] Encoded, object Sql);

    /// <summary>One model's table: its Db fields, a scratch instance for clean methods, and its prepared statements.</summary>
    internal sealed class Table : IDisposable
    {
        private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);
        private readonly int[] columnOfField;

        public Table(ModelInfo model)
        {
            Model = model;
            DbFields = model.Fields.Where(f => f.IsDb).ToArray();
            Quoted = DbMapping.Quote(model.Name);
            Context = model.CreateInstance();
            columnOfField = new int[model.Fields.Count];
            Array.Fill(columnOfField, -1);
            for (int i = 0; i < DbFields.Length; i++)
            {
                columnOfField[DbFields[i].Index] = i;
            }

            SelectSql = $"SELECT {string.Join(", ", DbFields.Select(f => DbMapping.Quote(f.Name)))} FROM {Quoted} WHERE {DbMapping.KeyColumn} = @id";
        }

        public ModelInfo Model { get; }

        public FieldDescriptor[] DbFields { get; }

        public string Quoted { get; }

        /// <summary>The instance whose clean methods run while values are checked (never published anywhere).</summary>
        public DistributedObject Context { get; }

        public string SelectSql { get; }

        /// <summary>The column position of a Db field.</summary>
        public int ColumnOf(FieldDescriptor field) => columnOfField[field.Index];

        /// <summary>A prepared statement with <c>$id</c>, <c>$v0..</c> and <c>$e0..</c> parameters, made on first use.</summary>
        public SqliteCommand Command(SqliteConnection connection, string key, Func<string> sql, int values, int expected = 0)
        {
            if (commands.TryGetValue(key, out var command))
            {
                return command;
            }

            command = connection.CreateCommand();
            command.CommandText = sql();
            command.Parameters.Add(new SqliteParameter("$id", SqliteType.Blob));
            for (int i = 0; i < values; i++)
            {
                command.Parameters.Add(new SqliteParameter($"$v{i}", null));
            }

            for (int i = 0; i < expected; i++)
            {
                command.Parameters.Add(new SqliteParameter($"$e{i}", null));
            }

            commands[key] = command;
            return command;
        }

        public void Dispose()
        {
            foreach (var command in commands.Values)
            {
                command.Dispose();
            }

            commands.Clear();
        }
    }
}
