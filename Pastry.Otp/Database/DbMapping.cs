using Newtonsoft.Json;

namespace Pastry.Otp.Database;

/// <summary>
/// How the models' Db fields map to tables (SQLite or PostgreSQL, see <see cref="Queries.ISqlDialect"/>): one table per model that has Db fields, named after the model, with the
/// key column <c>doid</c> and one column per Db field, named after the field. Its JSON form is recorded with every
/// migration in <c>pastry_migrations.mapping</c>; <see cref="MigrationPlanner"/> compares the last recorded mapping
/// with the current one, as Django compares its migration state with the models.
/// </summary>
internal sealed class DbMapping
{
    /// <summary>The name of the key column of every object table.</summary>
    public const string KeyColumn = "doid";

    /// <summary>Tables whose names start with this prefix belong to Pastry (history, accounts, backups).</summary>
    public const string ReservedPrefix = "pastry_";

    /// <summary>The tables, ordered by name.</summary>
    public List<TableMapping> Tables { get; set; } = new();

    /// <summary>The mapping of every model in <paramref name="registry"/> that has Db fields.</summary>
    /// <exception cref="DatabaseException">A model or field name cannot be used as a table or column name.</exception>
    public static DbMapping FromRegistry(ModelRegistry registry)
    {
        var mapping = new DbMapping();
        var tableNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in registry.Models.Where(m => m.HasDbFields).OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            if (model.Name.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase))
            {
                throw new DatabaseException(DatabaseError.Mapping, $"Model {model.Name} has Db fields, but table names starting with '{ReservedPrefix}' are reserved for Pastry; rename the model.");
            }

            if (!tableNames.Add(model.Name))
            {
                throw new DatabaseException(DatabaseError.Mapping, $"Models {model.Name} and {tableNames.First(n => string.Equals(n, model.Name, StringComparison.OrdinalIgnoreCase))} differ only in case; SQLite table names ignore case, so rename one.");
            }

            var table = new TableMapping { Name = model.Name };
            foreach (var field in model.Fields.Where(f => f.IsDb))
            {
                if (string.Equals(field.Name, KeyColumn, StringComparison.OrdinalIgnoreCase))
                {
                    throw new DatabaseException(DatabaseError.Mapping, $"{model.Name}.{field.Name} is a Db field named like the key column '{KeyColumn}'; rename the field.");
                }

                table.Columns.Add(new ColumnMapping
                {
                    Name = field.Name,
                    Type = field.Codec.SchemaName,

                    // Only a lock makes the id stable; without one it is the declaration index and says nothing.
                    WireId = model.HasLockedIds ? field.WireId : null,
                    FormerNames = FormerNames(field),
                });
            }

            foreach (var index in model.Indexes)
            {
                table.Indexes.Add(new IndexMapping
                {
                    Name = index.Name,
                    Unique = index.IsUnique,
                    Columns = index.Fields.Select(f => new IndexColumnMapping { Name = f.Name, IgnoreCase = index.IgnoresCaseOf(f) }).ToList(),
                });
            }

            mapping.Tables.Add(table);
        }

        return mapping;
    }

    /// <summary>
    /// Refuses a mapping whose table, column or index names the database would not keep whole (PostgreSQL: at most 63
    /// bytes; it cuts a longer one silently, so two names could become one and catalog lookups would miss). Names the
    /// model or field and the limit.
    /// </summary>
    /// <exception cref="DatabaseException">A name is too long for <paramref name="dialect"/> (<see cref="DatabaseError.Mapping"/>).</exception>
    public void CheckIdentifiers(Queries.ISqlDialect dialect)
    {
        if (dialect.MaxIdentifierBytes is not { } limit)
        {
            return;
        }

        foreach (var table in Tables)
        {
            Check(table.Name, $"model {table.Name}", "its table name", "rename the model (its Db fields then go to a new table) or keep it on SQLite");
            foreach (var column in table.Columns)
            {
                Check(column.Name, $"field {table.Name}.{column.Name}", "its column name", "rename the field ([RenamedFrom] keeps its data)");
            }

            foreach (var index in table.Indexes)
            {
                Check(index.Name, $"the index of model {table.Name} on {string.Join(", ", index.Columns.Select(c => c.Name))}", $"its name {index.Name}", "shorten the model or field names");
            }
        }

        void Check(string name, string what, string which, string fix)
        {
            int bytes = System.Text.Encoding.UTF8.GetByteCount(name);
            if (bytes > limit)
            {
                throw new DatabaseException(DatabaseError.Mapping, $"The {what} cannot be stored in {dialect.Name}: {which} is {bytes} bytes (UTF-8), and {dialect.Name} keeps at most {limit} (longer identifiers are cut silently); {fix}.");
            }
        }
    }

    /// <summary>The names a field had before: its <see cref="RenamedFromAttribute"/> and those its schema lock entry records.</summary>
    private static List<string>? FormerNames(FieldDescriptor field)
    {
        var names = new List<string>(SchemaLock.FormerNamesOf(field.Property));
        var locked = field.Model.HasLockedIds ? SchemaLock.ForAssembly(field.Model.ClrType.Assembly)?.Find(field.Model.Name)?.Fields.Find(f => f.Id == field.WireId) : null;
        foreach (string name in locked?.FormerNames ?? new List<string>())
        {
            if (!names.Contains(name))
            {
                names.Add(name);
            }
        }

        return names.Count == 0 ? null : names;
    }

    /// <summary>Reads a mapping recorded by <see cref="ToJson"/>.</summary>
    public static DbMapping FromJson(string json) =>
        JsonConvert.DeserializeObject<DbMapping>(json) ?? new DbMapping();

    /// <summary>The stable JSON form (tables by name, columns in field order).</summary>
    public string ToJson() => JsonConvert.SerializeObject(this, Formatting.None);

    /// <summary>The table named <paramref name="name"/>, or null.</summary>
    public TableMapping? Find(string name) => Tables.Find(t => string.Equals(t.Name, name, StringComparison.Ordinal));

    /// <summary>Quotes an identifier for SQL.</summary>
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}

/// <summary>One model's table: its name and its columns (besides the key <c>doid</c>).</summary>
internal sealed class TableMapping
{
    /// <summary>The table name (the model name).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The columns, in field declaration order.</summary>
    public List<ColumnMapping> Columns { get; set; } = new();

    /// <summary>The indexes and unique constraints (absent from mappings recorded before Pastry had them).</summary>
    public List<IndexMapping> Indexes { get; set; } = new();

    /// <summary>The column named <paramref name="name"/>, or null.</summary>
    public ColumnMapping? Find(string name) => Columns.Find(c => string.Equals(c.Name, name, StringComparison.Ordinal));

    /// <summary>The index named <paramref name="name"/>, or null.</summary>
    public IndexMapping? FindIndex(string name) => Indexes.Find(i => string.Equals(i.Name, name, StringComparison.Ordinal));
}

/// <summary>One index or unique constraint of a table (see <see cref="ModelIndex"/>).</summary>
internal sealed class IndexMapping
{
    /// <summary>The index name (<see cref="ModelIndex.Name"/>).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Whether it is a unique constraint.</summary>
    public bool Unique { get; set; }

    /// <summary>The indexed columns, in order.</summary>
    public List<IndexColumnMapping> Columns { get; set; } = new();

    /// <summary>The columns as an index or GROUP BY lists them, case-folded where the index ignores case.</summary>
    public string ColumnList(Queries.ISqlDialect dialect) => string.Join(", ", Columns.Select(c => c.Expression(dialect)));

    /// <summary>The fields for messages, for example <c>Player.Name (ignoring case)</c>.</summary>
    public string Describe(string table) =>
        string.Join(", ", Columns.Select(c => $"{table}.{c.Name}{(c.IgnoreCase ? " (ignoring case)" : string.Empty)}"));

    /// <summary>Whether two mappings define the same index.</summary>
    public bool SameAs(IndexMapping other) =>
        Unique == other.Unique && Columns.Count == other.Columns.Count
        && Columns.Zip(other.Columns, (a, b) => a.Name == b.Name && a.IgnoreCase == b.IgnoreCase).All(same => same);
}

/// <summary>One column of an index.</summary>
internal sealed class IndexColumnMapping
{
    /// <summary>The column name.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Whether it compares with the case-folding collation.</summary>
    public bool IgnoreCase { get; set; }

    /// <summary>The column in SQL, case-folded (by the dialect) when it ignores case.</summary>
    public string Expression(Queries.ISqlDialect dialect) => IgnoreCase ? dialect.CaseFolded(DbMapping.Quote(Name)) : DbMapping.Quote(Name);
}

/// <summary>One Db field's column: its name (the field name) and the field's schema type.</summary>
internal sealed class ColumnMapping
{
    /// <summary>The column name (the field name).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The field's schema type (<see cref="Wire.ValueCodec.SchemaName"/>), for example <c>int32</c>.</summary>
    public string Type { get; set; } = string.Empty;

    /// <summary>The field's wire id from the schema lock, or null without a lock (or in mappings recorded before locks).</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public int? WireId { get; set; }

    /// <summary>The names the field had before (<see cref="RenamedFromAttribute"/> and the lock), so a rename is found without ids too.</summary>
    [JsonProperty(NullValueHandling = NullValueHandling.Ignore)]
    public List<string>? FormerNames { get; set; }

    /// <summary>Whether this column is <paramref name="old"/> renamed: the same locked wire id, or a former name that matches.</summary>
    public bool IsRenameOf(ColumnMapping old) =>
        old.Name != Name && ((WireId is not null && WireId == old.WireId) || (FormerNames?.Contains(old.Name) ?? false));

    /// <summary>The column definition for CREATE TABLE and ADD COLUMN, with the type's default.</summary>
    public string Definition(Queries.ISqlDialect dialect) =>
        $"{DbMapping.Quote(Name)} {dialect.ColumnType(Type)} NOT NULL DEFAULT {dialect.Literal(ColumnValues.ToSql(Type, ColumnValues.CodecOf(Type)!.DefaultBoxed))}";
}
