using Pastry.Messaging;
using System.Buffers;
using System.Data.Common;
using Dapper;
using Pastry.Otp.Database.Queries;
using Pastry.Wire;

namespace Pastry.Otp.Database;

/// <summary>
/// Reads and writes object rows on one connection, for the Database role's single task. Values arrive and leave
/// encoded with the wire codec; every value written is cleaned and validated by its field first, and every value
/// read is checked against its type and validators, so that a row edited by hand is reported, never "fixed".
/// Reads go through Dapper; the hot write statements are prepared once per table and field set and reused, which
/// keeps a batched write at a few microseconds. SQL that differs between SQLite and PostgreSQL comes from the
/// connection's <see cref="ISqlDialect"/>; on PostgreSQL each write runs guarded by a savepoint, so that one refused
/// write (a unique value taken) leaves the rest of its batch to commit, as SQLite does by itself.
/// </summary>
internal sealed class ObjectStore : IDisposable
{
    private readonly DbConnection connection;
    private readonly ISqlDialect dialect;
    private readonly char p;
    private readonly Dictionary<uint, Table> tables = new();
    private readonly PooledBufferWriter scratch = new(256);
    private DbTransaction? transaction;

    public ObjectStore(DbConnection connection, ModelRegistry registry)
    {
        this.connection = connection;
        dialect = SqlDialects.Of(connection);
        p = dialect.ParameterPrefix;
        foreach (var model in registry.Models.Where(m => m.HasDbFields))
        {
            tables[model.ClassId] = new Table(model);
        }
    }

    /// <summary>The transaction the next statements join; the role sets it per batch.</summary>
    public DbTransaction? Transaction
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

        var command = Command(table, "insert", () =>
            $"INSERT INTO {table.Quoted} ({DbMapping.KeyColumn}{string.Concat(table.DbFields.Select(f => ", " + DbMapping.Quote(f.Name)))}) VALUES ({p}id{string.Concat(Enumerable.Range(0, table.DbFields.Length).Select(i => $", {p}v{i}"))})",
            table.DbFields.Length);
        command.Transaction = transaction;
        command.Parameters[0].Value = id.ToByteArray();
        for (int i = 0; i < row.Length; i++)
        {
            command.Parameters[i + 1].Value = row[i];
        }

        switch (Execute(command, out _))
        {
            case ConstraintBroken.Unique:
                return UniqueViolation(table, id, column => row[column]);
            case ConstraintBroken.PrimaryKey:
                return new(DatabaseStatus.AlreadyExists, $"create {table.Model.Name}: DoId {id} is already stored");
            default:
                return WriteResult.Done;
        }
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
        var command = Command(table, "set:" + FieldKey(values), () =>
            $"UPDATE {table.Quoted} SET {string.Join(", ", values.Select((v, i) => $"{DbMapping.Quote(v.Field.Name)} = {p}v{i}"))} WHERE {DbMapping.KeyColumn} = {p}id",
            values.Count);
        command.Transaction = transaction;
        command.Parameters[0].Value = id.ToByteArray();
        for (int i = 0; i < values.Count; i++)
        {
            command.Parameters[i + 1].Value = values[i].Sql;
        }

        return Execute(command, out int changed) == ConstraintBroken.Unique
            ? UniqueViolation(table, id, values)
            : changed == 1 ? WriteResult.Done : new(DatabaseStatus.NotFound, $"no stored {table.Model.Name} with DoId {id}");
    }

    /// <summary>
    /// PostgreSQL: runs many updates in one round trip (one <c>NpgsqlBatch</c> in the current transaction). Returns the
    /// rows each one changed, or null when any of them failed: PostgreSQL has then aborted the transaction, which the
    /// caller rolls back before running the writes one guarded statement at a time.
    /// </summary>
    public int[]? SetFieldsPipelined(IReadOnlyList<(Table Table, DoId Id, IReadOnlyList<FieldValue> Values)> writes)
    {
        if (writes.Count == 0)
        {
            return Array.Empty<int>();
        }

        using var batch = ((Npgsql.NpgsqlConnection)connection).CreateBatch();
        batch.Transaction = (Npgsql.NpgsqlTransaction?)transaction;
        foreach (var (table, id, values) in writes)
        {
            // Positional parameters: $1 is the DoId, $2.. the values.
            var command = batch.CreateBatchCommand();
            command.CommandText = table.PipelinedUpdate(FieldKey(values), values);
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id.ToByteArray() });
            foreach (var value in values)
            {
                command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = value.Sql });
            }

            batch.BatchCommands.Add(command);
        }

        try
        {
            batch.ExecuteNonQuery();
        }
        catch (Npgsql.PostgresException)
        {
            return null;
        }

        var changed = new int[writes.Count];
        for (int i = 0; i < changed.Length; i++)
        {
            changed[i] = batch.BatchCommands[i].RecordsAffected;
        }

        return changed;
    }

    /// <summary>
    /// Writes <paramref name="updates"/> only if every field in <paramref name="expected"/> holds its expected value,
    /// in one statement, so no other write can come between the compare and the swap.
    /// </summary>
    public WriteResult SetFieldsIfEquals(Table table, DoId id, IReadOnlyList<FieldValue> expected, IReadOnlyList<FieldValue> updates)
    {
        // The columns are NOT NULL and no stored value is NaN, so '=' is the exact comparison on both databases.
        var command = Command(table, "cas:" + FieldKey(expected) + "/" + FieldKey(updates), () =>
            $"UPDATE {table.Quoted} SET {string.Join(", ", updates.Select((v, i) => $"{DbMapping.Quote(v.Field.Name)} = {p}v{i}"))} WHERE {DbMapping.KeyColumn} = {p}id"
            + string.Concat(expected.Select((v, i) => $" AND {DbMapping.Quote(v.Field.Name)} = {p}e{i}")),
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

        return Execute(command, out int changed) == ConstraintBroken.Unique
            ? UniqueViolation(table, id, updates)
            : changed == 1 ? WriteResult.Done : new(DatabaseStatus.NotEqual, string.Empty);
    }

    /// <summary>
    /// Runs a write; returns the constraint it broke (the write then changed nothing, and the transaction goes on), or
    /// <see cref="ConstraintBroken.None"/> with the rows it changed. Other errors are thrown, after the transaction is
    /// put back to where it was before this write (see <see cref="ISqlDialect.GuardedWrite"/>).
    /// </summary>
    private ConstraintBroken Execute(DbCommand command, out int changed)
    {
        changed = 0;
        try
        {
            changed = command.ExecuteNonQuery();
            return ConstraintBroken.None;
        }
        catch (DbException ex) when (dialect.IsStatementError(ex))
        {
            dialect.UndoFailedWrite(connection, transaction);
            var broken = dialect.ConstraintOf(ex);
            if (broken == ConstraintBroken.None)
            {
                throw;
            }

            return broken;
        }
    }

    /// <summary>The prepared write statement of <paramref name="key"/>, guarded when it runs inside a batch's transaction.</summary>
    private DbCommand Command(Table table, string key, Func<string> sql, int values, int expected = 0)
    {
        bool guarded = transaction is not null;
        return table.Command(connection, guarded ? "guarded " + key : key, () => guarded ? dialect.GuardedWrite(sql()) : sql(), p, values, expected);
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
            command.CommandText = $"SELECT 1 FROM {table.Quoted} WHERE {DbMapping.KeyColumn} <> {p}id"
                + string.Concat(index.Fields.Select((f, i) => index.IgnoresCaseOf(f)
                    ? $" AND {dialect.CaseFolded(DbMapping.Quote(f.Name))} = {dialect.CaseFoldedValue($"{p}v{i}")}"
                    : $" AND {DbMapping.Quote(f.Name)} = {p}v{i}"))
                + " LIMIT 1";
            Add(command, $"{p}id", id.ToByteArray());
            var values = new object[index.Fields.Count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = valueOfColumn(table.ColumnOf(index.Fields[i]));
                Add(command, $"{p}v{i}", values[i]);
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

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
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
        private readonly Dictionary<string, DbCommand> commands = new(StringComparer.Ordinal);
        private readonly int[] columnOfField;
        private readonly Dictionary<string, string> pipelinedUpdates = new(StringComparer.Ordinal);

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

        /// <summary>The UPDATE of a field set with positional parameters (<c>$1</c> the DoId, <c>$2..</c> the values), made once per set.</summary>
        public string PipelinedUpdate(string key, IReadOnlyList<FieldValue> values)
        {
            if (!pipelinedUpdates.TryGetValue(key, out string? sql))
            {
                sql = $"UPDATE {Quoted} SET {string.Join(", ", values.Select((v, i) => $"{DbMapping.Quote(v.Field.Name)} = ${i + 2}"))} WHERE {DbMapping.KeyColumn} = $1";
                pipelinedUpdates[key] = sql;
            }

            return sql;
        }

        /// <summary>The column position of a Db field.</summary>
        public int ColumnOf(FieldDescriptor field) => columnOfField[field.Index];

        /// <summary>A prepared statement with <c>id</c>, <c>v0..</c> and <c>e0..</c> parameters (after <paramref name="prefix"/>), made on first use.</summary>
        public DbCommand Command(DbConnection connection, string key, Func<string> sql, char prefix, int values, int expected = 0)
        {
            if (commands.TryGetValue(key, out var command))
            {
                return command;
            }

            command = connection.CreateCommand();
            command.CommandText = sql();
            AddParameter(command, prefix + "id", System.Data.DbType.Binary);
            for (int i = 0; i < values; i++)
            {
                AddParameter(command, $"{prefix}v{i}", null);
            }

            for (int i = 0; i < expected; i++)
            {
                AddParameter(command, $"{prefix}e{i}", null);
            }

            commands[key] = command;
            return command;
        }

        private static void AddParameter(DbCommand command, string name, System.Data.DbType? type)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            if (type is { } known)
            {
                parameter.DbType = known;
            }

            command.Parameters.Add(parameter);
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
