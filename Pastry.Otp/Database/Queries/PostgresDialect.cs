using System.Data.Common;
using Dapper;
using Npgsql;
using Pastry.Wire;

namespace Pastry.Otp.Database.Queries;

/// <summary>
/// PostgreSQL's dialect. The columns hold the same values as SQLite's (integers and booleans as <c>bigint</c>, reals as
/// <c>double precision</c>, text as <c>text COLLATE "C"</c>, bytes and DoIds as <c>bytea</c>, arrays and DateTimes as
/// text), so <see cref="ColumnValues"/> reads both alike, and the "C" collation compares and sorts text by its bytes,
/// as SQLite does. Case-folded comparisons use <c>lower()</c> under the ICU root collation, which folds every Unicode
/// letter (as SQLite's <c>pastry_nocase</c> does; the "C" collation would fold ASCII only).
/// </summary>
internal sealed class PostgresDialect : ISqlDialect
{
    /// <summary>The one instance.</summary>
    public static readonly PostgresDialect Instance = new();

    /// <summary>The collation whose <c>lower()</c> folds every Unicode letter; PostgreSQL builds with ICU have it.</summary>
    public const string FoldingCollation = "und-x-icu";

    private const string UniqueViolation = "23505";
    private const string Savepoint = "pastry_write";

    private PostgresDialect()
    {
    }

    /// <inheritdoc />
    public string Name => "PostgreSQL";

    /// <inheritdoc />
    public int? MaxIdentifierBytes => 63;

    /// <inheritdoc />
    public char ParameterPrefix => '@';

    /// <inheritdoc />
    public string KeyColumnType => "bytea";

    /// <inheritdoc />
    public IReadOnlyList<string> PastryTables { get; } = new[]
    {
        $"CREATE TABLE {SqliteDatabase.HistoryTable} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, applied_utc text NOT NULL, description text NOT NULL, sql text NOT NULL, mapping text NOT NULL)",
        $"CREATE TABLE {SqliteDatabase.AccountsTable} (account_id bytea PRIMARY KEY NOT NULL, username text NOT NULL, username_key text COLLATE \"C\" NOT NULL UNIQUE, salt bytea NOT NULL, password_hash bytea NOT NULL, iterations bigint NOT NULL, algorithm text NOT NULL, created_utc text NOT NULL)",
    };

    /// <inheritdoc />
    public string ColumnType(string schemaType) => schemaType switch
    {
        "int32" or "int64" or "bool" => "bigint",
        "float32" or "float64" => "double precision",
        "string" or "datetime" => "text COLLATE \"C\"",
        "bytes" or "doid" => "bytea",
        _ when schemaType.EndsWith("[]", StringComparison.Ordinal) => "text COLLATE \"C\"",
        _ => throw new ArgumentException($"No column type for schema type '{schemaType}'.", nameof(schemaType)),
    };

    /// <inheritdoc />
    public string Literal(object sql) => sql is byte[] bytes ? "'\\x" + Hex.Format(bytes) + "'::bytea" : ColumnValues.Literal(sql);

    /// <inheritdoc />
    public string Quote(string identifier) => DbMapping.Quote(identifier);

    /// <inheritdoc />
    public string Parameter(int index) => "@p" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string CaseFolded(string column) => $"lower({column} COLLATE \"{FoldingCollation}\")";

    /// <inheritdoc />
    public string CaseFoldedValue(string parameter) => $"lower({parameter}::text COLLATE \"{FoldingCollation}\")";

    /// <inheritdoc />
    // starts_with compares the whole prefix: '%' and '_' are plain characters (LIKE would treat them as wildcards).
    // PostgreSQL text cannot hold NUL at all, so a NUL in a stored value or a query is refused before it gets here.
    public string StartsWith(string column, string prefix, bool ignoreCase) => ignoreCase
        ? $"starts_with({CaseFolded(column)}, {CaseFoldedValue(prefix)})"
        : $"starts_with({column}, {prefix}::text)";

    /// <inheritdoc />
    public string Page(string? limit, string offset) => $"LIMIT {limit ?? "ALL"} OFFSET {offset}";

    /// <inheritdoc />
    public bool TableExists(DbConnection connection, string table, DbTransaction? transaction = null) =>
        connection.ExecuteScalar<long>("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND lower(tablename) = lower(@table)", new { table }, transaction) > 0;

    /// <inheritdoc />
    public ConstraintBroken ConstraintOf(DbException exception) => exception switch
    {
        PostgresException { SqlState: UniqueViolation, ConstraintName: { } name } when name.EndsWith("_pkey", StringComparison.Ordinal) => ConstraintBroken.PrimaryKey,
        PostgresException { SqlState: UniqueViolation } => ConstraintBroken.Unique,
        _ => ConstraintBroken.None,
    };

    /// <inheritdoc />
    // Class 22 (data exception: a bad value, invalid text) and class 23 (integrity constraint) concern one statement.
    public bool IsStatementError(DbException exception) =>
        exception is PostgresException postgres && (postgres.SqlState.StartsWith("22", StringComparison.Ordinal) || postgres.SqlState.StartsWith("23", StringComparison.Ordinal));

    /// <inheritdoc />
    public string GuardedWrite(string sql) => $"SAVEPOINT {Savepoint}; {sql}; RELEASE SAVEPOINT {Savepoint}";

    /// <inheritdoc />
    public void UndoFailedWrite(DbConnection connection, DbTransaction? transaction)
    {
        if (transaction is null)
        {
            return;
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"ROLLBACK TO SAVEPOINT {Savepoint}; RELEASE SAVEPOINT {Savepoint}";
        command.ExecuteNonQuery();
    }
}
