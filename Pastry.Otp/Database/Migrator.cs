using System.Data.Common;
using System.Globalization;
using Dapper;
using Pastry.Otp.Database.Queries;

namespace Pastry.Otp.Database;

/// <summary>
/// Applies a <see cref="MigrationPlan"/> in one transaction: every step, then one row in <c>pastry_migrations</c>
/// with its SQL and the resulting mapping. If any statement fails, nothing is changed (SQLite's and PostgreSQL's DDL are transactional).
/// </summary>
internal static class Migrator
{
    /// <summary>Applies <paramref name="plan"/>; returns the statements run. An empty plan changes nothing.</summary>
    /// <exception cref="DatabaseException">The plan loses data and <paramref name="allowDataLoss"/> is false, or a statement failed (rolled back).</exception>
    public static IReadOnlyList<string> Apply(DbConnection connection, MigrationPlan plan, bool allowDataLoss)
    {
        if (plan.IsEmpty)
        {
            return Array.Empty<string>();
        }

        if (plan.LosesData && !allowDataLoss)
        {
            throw new DatabaseException(DatabaseError.DataLossRefused, plan.DataLossMessage);
        }

        var statements = plan.AllStatements.ToList();
        using var transaction = connection.BeginTransaction();
        foreach (var step in plan.Steps)
        {
            if (step.UniqueCheck is { } check)
            {
                RefuseDuplicates(connection, transaction, check);
            }

            foreach (string statement in step.AllStatements)
            {
                try
                {
                    connection.Execute(statement, transaction: transaction);
                }
                catch (DbException ex)
                {
                    transaction.Rollback();
                    throw new DatabaseException(DatabaseError.MigrationFailed, $"Migration step \"{step.Description}\" failed, so the whole migration was rolled back and nothing changed. The statement was: {statement}. {SqlDialects.Of(connection).Name} said: {ex.Message}", ex);
                }
            }
        }

        connection.Execute(
            $"INSERT INTO {SqliteDatabase.HistoryTable} (applied_utc, description, sql, mapping) VALUES (@applied, @description, @sql, @mapping)",
            new
            {
                applied = DateTime.UtcNow.ToString(ColumnValues.DateTimeFormat, CultureInfo.InvariantCulture),
                description = plan.Description,
                sql = string.Join(";\n", statements),
                mapping = plan.Target.ToJson(),
            },
            transaction);
        transaction.Commit();
        return statements;
    }

    /// <summary>Throws (after rolling back) when rows already hold the same value twice, naming the model, fields and a few values.</summary>
    private static void RefuseDuplicates(DbConnection connection, DbTransaction transaction, UniqueCheck check)
    {
        var examples = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = check.Sql;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var values = Enumerable.Range(0, reader.FieldCount - 1).Select(i => ColumnValues.Show(reader.GetValue(i)));
                examples.Add($"{string.Join(", ", values)} ({reader.GetInt64(reader.FieldCount - 1)} rows)");
            }
        }

        if (examples.Count == 0)
        {
            return;
        }

        transaction.Rollback();
        throw new DatabaseException(
            DatabaseError.DuplicatesRefused,
            $"Refusing to add the unique constraint on {check.Fields} of model {check.Model}: stored objects already share values, for example {string.Join("; ", examples)}. "
            + "Change or delete the duplicates (or drop the [Unique] attribute) and run pastry migrate again; nothing was changed.");
    }
}
