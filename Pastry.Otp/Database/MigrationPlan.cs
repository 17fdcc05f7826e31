using System.Text;

namespace Pastry.Otp.Database;

/// <summary>
/// One change of a migration: what it does, its SQL, and, when it would lose data, which field or model it would
/// lose and the SQL that first copies that data to a backup table.
/// </summary>
/// <param name="Description">What the step does, naming the model and field.</param>
/// <param name="Statements">The SQL that makes the change (empty when only the recorded mapping changes).</param>
/// <param name="DataLoss">Null, or what would be lost (for example "field Avatar.Gold and its values").</param>
/// <param name="Backup">SQL run before <paramref name="Statements"/> when data loss is allowed: it copies the data away.</param>
/// <param name="UniqueCheck">For a new unique constraint: the query that finds duplicates, which refuse the migration.</param>
internal sealed record MigrationStep(string Description, IReadOnlyList<string> Statements, string? DataLoss = null, IReadOnlyList<string>? Backup = null, UniqueCheck? UniqueCheck = null)
{
    /// <summary>The backup statements, then the change.</summary>
    public IEnumerable<string> AllStatements => (Backup ?? Array.Empty<string>()).Concat(Statements);
}

/// <summary>
/// The duplicate check of a new unique constraint: <paramref name="Sql"/> lists up to <see cref="Examples"/> values
/// stored more than once (the value columns, then the count).
/// </summary>
/// <param name="Model">The model (table) name.</param>
/// <param name="Fields">The fields, for the message.</param>
/// <param name="Sql">The query.</param>
internal sealed record UniqueCheck(string Model, string Fields, string Sql)
{
    /// <summary>How many duplicate values a refusal names.</summary>
    public const int Examples = 3;
}

/// <summary>The steps that bring a database from its recorded mapping to <see cref="Target"/>, in order.</summary>
internal sealed class MigrationPlan
{
    /// <summary>Creates a plan.</summary>
    public MigrationPlan(IReadOnlyList<MigrationStep> steps, DbMapping target)
    {
        Steps = steps;
        Target = target;
    }

    /// <summary>The steps.</summary>
    public IReadOnlyList<MigrationStep> Steps { get; }

    /// <summary>The mapping after the migration (recorded in the history).</summary>
    public DbMapping Target { get; }

    /// <summary>Whether there is nothing to do.</summary>
    public bool IsEmpty => Steps.Count == 0;

    /// <summary>Whether any step would lose data.</summary>
    public bool LosesData => Steps.Any(s => s.DataLoss is not null);

    /// <summary>One line describing the whole migration, for the history.</summary>
    public string Description => string.Join("; ", Steps.Select(s => s.Description));

    /// <summary>The refusal message for a plan that loses data: it names each field or model and the flag.</summary>
    public string DataLossMessage =>
        "Refusing to migrate: this would lose data: " + string.Join("; ", Steps.Where(s => s.DataLoss is not null).Select(s => s.DataLoss))
        + ". Run pastry migrate again with --allow-data-loss to copy the data to pastry_backup_* tables first and then make the change.";

    /// <summary>Every statement that <see cref="Migrator.Apply"/> would run, in order.</summary>
    public IEnumerable<string> AllStatements => Steps.SelectMany(s => s.AllStatements);

    /// <summary>The plan as text: each step as an SQL comment, then its SQL (backups included).</summary>
    public string ToSqlText()
    {
        var text = new StringBuilder();
        foreach (var step in Steps)
        {
            text.Append("-- ").Append(step.Description).AppendLine();
            if (step.DataLoss is not null)
            {
                text.Append("-- loses data: ").Append(step.DataLoss).AppendLine(" (needs --allow-data-loss; the backup below runs first)");
            }

            foreach (string statement in step.AllStatements)
            {
                text.Append(statement).AppendLine(";");
            }
        }

        return text.ToString();
    }
}
