using System.Data.Common;
using System.Globalization;
using Pastry.Otp.Database.Queries;

namespace Pastry.Otp.Database;

/// <summary>
/// Plans a migration by comparing the mapping recorded by the last migration with the models' current mapping
/// (as Django compares its migration state with the models): new models become tables, new Db fields become columns
/// with the field type's default; removed models and fields and changed types lose data and carry a backup step.
/// Widening an <c>int32</c> to <c>int64</c> or a <c>float32</c> to <c>float64</c> keeps every value, so it only updates
/// the recorded mapping. A renamed field whose column keeps its locked wire id (the schema lock) or names the old
/// name in <see cref="RenamedFromAttribute"/> is a column rename that keeps every value; any other rename is seen as
/// a removed field plus a new one.
/// </summary>
internal static class MigrationPlanner
{
    /// <summary>Plans against the database's recorded history.</summary>
    public static MigrationPlan Plan(DbConnection connection, DbMapping target, DateTime utcNow)
    {
        var dialect = SqlDialects.Of(connection);
        var previous = DatabaseConnections.LastMapping(connection);
        bool historyExists = previous is not null || dialect.TableExists(connection, SqliteDatabase.HistoryTable);
        return Plan(previous, historyExists, target, utcNow, name => dialect.TableExists(connection, name), dialect);
    }

    /// <summary>Plans from <paramref name="previous"/> (null: nothing recorded) to <paramref name="target"/>.</summary>
    /// <param name="previous">The recorded mapping, or null.</param>
    /// <param name="historyExists">Whether the history table exists (the first migration creates it and the accounts table).</param>
    /// <param name="target">The models' mapping.</param>
    /// <param name="utcNow">The time used in backup table names.</param>
    /// <param name="tableExists">Whether a table exists, so that backup names never collide.</param>
    /// <param name="dialect">The database's SQL dialect (SQLite when null).</param>
    public static MigrationPlan Plan(DbMapping? previous, bool historyExists, DbMapping target, DateTime utcNow, Func<string, bool> tableExists, ISqlDialect? dialect = null)
    {
        dialect ??= SqliteDialect.Instance;
        target.CheckIdentifiers(dialect);
        var steps = new List<MigrationStep>();
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string stamp = utcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        if (!historyExists)
        {
            steps.Add(new MigrationStep(
                "create Pastry's tables (migration history, accounts)",
                dialect.PastryTables));
        }

        previous ??= new DbMapping();
        foreach (var table in target.Tables)
        {
            var old = previous.Find(table.Name);
            string quoted = DbMapping.Quote(table.Name);
            if (old is not null)
            {
                old = RenameColumns(old, table, quoted, steps);
            }

            if (old is null)
            {
                string columns = string.Concat(table.Columns.Select(c => ", " + c.Definition(dialect)));
                steps.Add(new MigrationStep(
                    $"create table {table.Name} for model {table.Name} ({string.Join(", ", table.Columns.Select(c => c.Name))})",
                    new[] { $"CREATE TABLE {quoted} ({DbMapping.KeyColumn} {dialect.KeyColumnType} PRIMARY KEY NOT NULL{columns})" }));
                steps.AddRange(table.Indexes.Select(index => CreateIndex(table, index, dialect)));
                continue;
            }

            // Indexes that go or change are dropped before any column changes (SQLite refuses to drop an indexed
            // column) and built again after them; an index over a column whose type changes is rebuilt too.
            var rebuiltColumns = new HashSet<string>(
                old.Columns.Where(c => table.Find(c.Name) is not { } now || (now.Type != c.Type && !IsWidening(c.Type, now.Type))).Select(c => c.Name),
                StringComparer.Ordinal);
            var keptIndexes = new HashSet<string>(StringComparer.Ordinal);
            foreach (var index in old.Indexes)
            {
                if (table.FindIndex(index.Name) is { } now && now.SameAs(index) && !index.Columns.Exists(c => rebuiltColumns.Contains(c.Name)))
                {
                    keptIndexes.Add(index.Name);
                    continue;
                }

                steps.Add(new MigrationStep(
                    $"drop {(index.Unique ? "unique constraint" : "index")} {index.Name} on {index.Describe(table.Name)}",
                    new[] { $"DROP INDEX IF EXISTS {DbMapping.Quote(index.Name)}" }));
            }

            foreach (var column in table.Columns)
            {
                var before = old.Find(column.Name);
                if (before is null)
                {
                    steps.Add(new MigrationStep(
                        $"add column {table.Name}.{column.Name} ({column.Type}, default {ColumnValues.DefaultLiteral(column.Type)})",
                        new[] { $"ALTER TABLE {quoted} ADD COLUMN {column.Definition(dialect)}" }));
                }
                else if (before.Type != column.Type)
                {
                    if (IsWidening(before.Type, column.Type))
                    {
                        steps.Add(new MigrationStep($"widen {table.Name}.{column.Name} from {before.Type} to {column.Type} (values kept)", Array.Empty<string>()));
                        continue;
                    }

                    string backup = BackupName(table.Name + "_" + column.Name);
                    steps.Add(new MigrationStep(
                        $"change the type of {table.Name}.{column.Name} from {before.Type} to {column.Type} (values reset to the default)",
                        new[]
                        {
                            $"ALTER TABLE {quoted} DROP COLUMN {DbMapping.Quote(column.Name)}",
                            $"ALTER TABLE {quoted} ADD COLUMN {column.Definition(dialect)}",
                        },
                        $"field {table.Name}.{column.Name} changes type from {before.Type} to {column.Type}, which drops its values",
                        new[] { $"CREATE TABLE {DbMapping.Quote(backup)} AS SELECT {DbMapping.KeyColumn}, {DbMapping.Quote(column.Name)} FROM {quoted}" }));
                }
            }

            foreach (var column in old.Columns.Where(c => table.Find(c.Name) is null))
            {
                string backup = BackupName(table.Name + "_" + column.Name);
                steps.Add(new MigrationStep(
                    $"drop column {table.Name}.{column.Name} (the field is gone or no longer [Db])",
                    new[] { $"ALTER TABLE {quoted} DROP COLUMN {DbMapping.Quote(column.Name)}" },
                    $"field {table.Name}.{column.Name} was removed (or lost [Db]), which drops its column and values",
                    new[] { $"CREATE TABLE {DbMapping.Quote(backup)} AS SELECT {DbMapping.KeyColumn}, {DbMapping.Quote(column.Name)} FROM {quoted}" }));
            }

            steps.AddRange(table.Indexes.Where(i => !keptIndexes.Contains(i.Name)).Select(index => CreateIndex(table, index, dialect)));
        }

        foreach (var table in previous.Tables.Where(t => target.Find(t.Name) is null))
        {
            string backup = BackupName(table.Name);
            string quoted = DbMapping.Quote(table.Name);
            steps.Add(new MigrationStep(
                $"drop table {table.Name} (the model is gone or has no Db fields)",
                new[] { $"DROP TABLE {quoted}" },
                $"model {table.Name} was removed (or has no Db fields left), which drops its table and rows",
                new[] { $"CREATE TABLE {DbMapping.Quote(backup)} AS SELECT * FROM {quoted}" }));
        }

        return new MigrationPlan(steps, target);

        string BackupName(string what)
        {
            // Within the database's identifier limit (with room for a _N suffix): a cut name would lose the stamp.
            if (dialect.MaxIdentifierBytes is { } limit)
            {
                int room = limit - $"{DbMapping.ReservedPrefix}backup__{stamp}_99".Length;
                while (System.Text.Encoding.UTF8.GetByteCount(what) > room)
                {
                    what = what.Substring(0, what.Length - 1);
                }
            }

            string name = $"{DbMapping.ReservedPrefix}backup_{what}_{stamp}";
            string candidate = name;
            for (int i = 2; taken.Contains(candidate) || tableExists(candidate); i++)
            {
                candidate = $"{name}_{i}";
            }

            taken.Add(candidate);
            return candidate;
        }
    }

    /// <summary>
    /// Creates an index; a unique one first checks the rows for duplicates (<see cref="MigrationStep.UniqueCheck"/>),
    /// so that the refusal names the values instead of the database's bare constraint error.
    /// </summary>
    private static MigrationStep CreateIndex(TableMapping table, IndexMapping index, ISqlDialect dialect)
    {
        string quoted = DbMapping.Quote(table.Name);
        string sql = $"CREATE {(index.Unique ? "UNIQUE " : string.Empty)}INDEX {DbMapping.Quote(index.Name)} ON {quoted} ({index.ColumnList(dialect)})";
        if (!index.Unique)
        {
            return new MigrationStep($"create index {index.Name} on {index.Describe(table.Name)}", new[] { sql });
        }

        return new MigrationStep(
            $"create unique constraint {index.Name} on {index.Describe(table.Name)}",
            new[] { sql },
            UniqueCheck: new UniqueCheck(
                table.Name,
                index.Describe(table.Name),
                $"SELECT {index.ColumnList(dialect)}, count(*) FROM {quoted} GROUP BY {index.ColumnList(dialect)} HAVING count(*) > 1 LIMIT {UniqueCheck.Examples}"));
    }

    /// <summary>
    /// Adds a RENAME COLUMN step for every new column that is an old one renamed (<see cref="ColumnMapping.IsRenameOf"/>),
    /// and a step with no SQL that records the wire ids a lock gave to columns recorded without them; returns the old
    /// table as it is after the renames, which the rest of the plan compares with.
    /// </summary>
    private static TableMapping RenameColumns(TableMapping old, TableMapping table, string quoted, List<MigrationStep> steps)
    {
        var renamed = new TableMapping { Name = old.Name, Indexes = old.Indexes, Columns = new List<ColumnMapping>(old.Columns) };
        foreach (var column in table.Columns.Where(c => old.Find(c.Name) is null))
        {
            int at = renamed.Columns.FindIndex(o => table.Find(o.Name) is null && column.IsRenameOf(o));
            if (at < 0)
            {
                continue;
            }

            var before = renamed.Columns[at];
            steps.Add(new MigrationStep(
                $"rename column {table.Name}.{before.Name} to {column.Name} ({(column.WireId is not null && column.WireId == before.WireId ? $"same wire id {column.WireId}" : "[RenamedFrom]")}; values kept)",
                new[] { $"ALTER TABLE {quoted} RENAME COLUMN {DbMapping.Quote(before.Name)} TO {DbMapping.Quote(column.Name)}" }));
            renamed.Columns[at] = new ColumnMapping { Name = column.Name, Type = before.Type, WireId = before.WireId, FormerNames = before.FormerNames };
        }

        var newlyLocked = table.Columns.Where(c => c.WireId is not null && renamed.Find(c.Name) is { } o && o.WireId != c.WireId).Select(c => c.Name).ToList();
        if (newlyLocked.Count > 0)
        {
            steps.Add(new MigrationStep($"record the wire ids of {table.Name} ({string.Join(", ", newlyLocked)}) from the schema lock", Array.Empty<string>()));
        }

        return renamed;
    }

    private static bool IsWidening(string from, string to) => (from, to) switch
    {
        ("int32", "int64") or ("float32", "float64") or ("int32[]", "int64[]") or ("float32[]", "float64[]") => true,
        _ => false,
    };
}
