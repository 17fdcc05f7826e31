using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Pastry.Otp.Database.Queries;

/// <summary>
/// What differs between the SQL databases Pastry stores objects in (SQLite, PostgreSQL): identifier quoting, parameter
/// names, column types and literals, the case-folding comparison of <c>[Unique(IgnoreCase = true)]</c> fields, the
/// prefix test, paging, how a constraint error reads, and how one failed statement is undone inside a batch. The
/// translator (<see cref="QueryTranslator"/>), the object store, the planner and the migrator write everything else, so
/// a provider adds one dialect, not a second copy of them. Column names come only from the model registry; every value
/// is a parameter.
/// </summary>
internal interface ISqlDialect
{
    /// <summary>The database's name for messages: <c>SQLite</c> or <c>PostgreSQL</c>.</summary>
    string Name { get; }

    /// <summary>The character that starts a parameter name in SQL text (<c>$</c> or <c>@</c>).</summary>
    char ParameterPrefix { get; }

    /// <summary>The column type of the <c>doid</c> key column (16 bytes).</summary>
    string KeyColumnType { get; }

    /// <summary>The column type of a field's schema type (see <see cref="ColumnValues"/> for the mapping).</summary>
    string ColumnType(string schemaType);

    /// <summary>A column value as a SQL literal (for column defaults).</summary>
    string Literal(object sql);

    /// <summary>The statements that create Pastry's own tables (migration history, accounts).</summary>
    IReadOnlyList<string> PastryTables { get; }

    /// <summary>A quoted identifier (table or column).</summary>
    string Quote(string identifier);

    /// <summary>
    /// The longest identifier (table, column, index) the database keeps, in UTF-8 bytes, or null when there is no such
    /// limit. PostgreSQL cuts a longer one silently (NAMEDATALEN), so the mapping is refused instead (see <see cref="DbMapping.CheckIdentifiers"/>).
    /// </summary>
    int? MaxIdentifierBytes { get; }

    /// <summary>The name of the parameter at <paramref name="index"/>, as it appears in the SQL text.</summary>
    string Parameter(int index);

    /// <summary>A column (or expression) compared without regard to letter case, as the unique index compares it.</summary>
    string CaseFolded(string column);

    /// <summary>
    /// The value side of a comparison with a <see cref="CaseFolded"/> column: SQLite's collation on the column applies to
    /// both sides, PostgreSQL folds the value too.
    /// </summary>
    string CaseFoldedValue(string parameter);

    /// <summary>
    /// The test that <paramref name="column"/> starts with the text in the parameter <paramref name="prefix"/>, comparing
    /// as the column's unique index does (<paramref name="ignoreCase"/>). Every character of the prefix counts: <c>%</c>,
    /// <c>_</c> and NUL are data.
    /// </summary>
    string StartsWith(string column, string prefix, bool ignoreCase);

    /// <summary>The paging clause; a null <paramref name="limit"/> means no limit.</summary>
    string Page(string? limit, string offset);

    /// <summary>Whether a table exists in the database (the current schema, on PostgreSQL), ignoring case.</summary>
    bool TableExists(DbConnection connection, string table, DbTransaction? transaction = null);

    /// <summary>Which constraint a failed statement broke.</summary>
    ConstraintBroken ConstraintOf(DbException exception);

    /// <summary>
    /// Whether an error concerns one statement only (a constraint, a bad value), after which the rest of the batch may
    /// still commit; anything else (a full disk, I/O, a lost connection) fails the batch.
    /// </summary>
    bool IsStatementError(DbException exception);

    /// <summary>
    /// A write statement made undoable on its own inside the batch's transaction. SQLite undoes a failed statement by
    /// itself; PostgreSQL aborts the whole transaction on any error, so there the statement runs between a savepoint
    /// and its release (in the same round trip) and <see cref="UndoFailedWrite"/> goes back to the savepoint.
    /// </summary>
    string GuardedWrite(string sql);

    /// <summary>After a guarded write failed: returns the transaction to the state before it, so the batch goes on.</summary>
    void UndoFailedWrite(DbConnection connection, DbTransaction? transaction);
}

/// <summary>The constraint a refused write broke.</summary>
internal enum ConstraintBroken
{
    /// <summary>Not a constraint error.</summary>
    None,

    /// <summary>The key: the DoId is already stored.</summary>
    PrimaryKey,

    /// <summary>A unique index over Db fields.</summary>
    Unique,
}

/// <summary>Picks the dialect of an open connection.</summary>
internal static class SqlDialects
{
    /// <summary>The dialect of <paramref name="connection"/>'s database.</summary>
    public static ISqlDialect Of(DbConnection connection) => connection switch
    {
        SqliteConnection => SqliteDialect.Instance,
        Npgsql.NpgsqlConnection => PostgresDialect.Instance,
        _ => throw new NotSupportedException($"Pastry has no SQL dialect for {connection.GetType().Name}."),
    };
}

/// <summary>SQLite's dialect: double-quoted identifiers, <c>$p0</c> parameters, the <see cref="SqliteDatabase.CaseFoldCollation"/> collation.</summary>
internal sealed class SqliteDialect : ISqlDialect
{
    /// <summary>The one instance.</summary>
    public static readonly SqliteDialect Instance = new();

    private const int SqliteConstraint = 19;
    private const int SqliteUniqueViolation = 2067;

    private SqliteDialect()
    {
    }

    /// <inheritdoc />
    public string Name => "SQLite";

    /// <inheritdoc />
    public int? MaxIdentifierBytes => null;

    /// <inheritdoc />
    public char ParameterPrefix => '$';

    /// <inheritdoc />
    public string KeyColumnType => "BLOB";

    /// <inheritdoc />
    public IReadOnlyList<string> PastryTables { get; } = new[]
    {
        $"CREATE TABLE {SqliteDatabase.HistoryTable} (id INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL, description TEXT NOT NULL, sql TEXT NOT NULL, mapping TEXT NOT NULL)",
        $"CREATE TABLE {SqliteDatabase.AccountsTable} (account_id BLOB PRIMARY KEY NOT NULL, username TEXT NOT NULL, username_key TEXT NOT NULL UNIQUE, salt BLOB NOT NULL, password_hash BLOB NOT NULL, iterations INTEGER NOT NULL, algorithm TEXT NOT NULL, created_utc TEXT NOT NULL)",
    };

    /// <inheritdoc />
    public string ColumnType(string schemaType) => ColumnValues.SqlType(schemaType);

    /// <inheritdoc />
    public string Literal(object sql) => ColumnValues.Literal(sql);

    /// <inheritdoc />
    public string Quote(string identifier) => DbMapping.Quote(identifier);

    /// <inheritdoc />
    public string Parameter(int index) => "$p" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string CaseFolded(string column) => column + " COLLATE " + SqliteDatabase.CaseFoldCollation;

    /// <inheritdoc />
    public string CaseFoldedValue(string parameter) => parameter;

    /// <inheritdoc />
    // A function of Pastry's own (see SqliteDatabase.StartsWithFunction) compares the whole prefix, character by
    // character: '%' and '_' are plain characters (LIKE would treat them as wildcards and ignore ASCII case), and so is
    // NUL (SQLite's substr and .NET's reading of a text argument both stop at one, so it reads the UTF-8 bytes).
    public string StartsWith(string column, string prefix, bool ignoreCase) =>
        $"{SqliteDatabase.StartsWithFunction}({column}, {prefix}, {(ignoreCase ? 1 : 0)})";

    /// <inheritdoc />
    public string Page(string? limit, string offset) => $"LIMIT {limit ?? "-1"} OFFSET {offset}";

    /// <inheritdoc />
    public bool TableExists(DbConnection connection, string table, DbTransaction? transaction = null) =>
        connection.ExecuteScalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @table COLLATE NOCASE", new { table }, transaction) > 0;

    /// <inheritdoc />
    public ConstraintBroken ConstraintOf(DbException exception) => exception switch
    {
        SqliteException { SqliteExtendedErrorCode: SqliteUniqueViolation } => ConstraintBroken.Unique,
        SqliteException { SqliteErrorCode: SqliteConstraint } => ConstraintBroken.PrimaryKey,
        _ => ConstraintBroken.None,
    };

    /// <inheritdoc />
    // SQLITE_TOOBIG (18), SQLITE_CONSTRAINT (19), SQLITE_MISMATCH (20), SQLITE_RANGE (25) concern one statement;
    // SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY and the like may have rolled back the whole transaction.
    public bool IsStatementError(DbException exception) => exception is SqliteException sqlite && (sqlite.SqliteErrorCode & 0xFF) is 18 or 19 or 20 or 25;

    /// <inheritdoc />
    public string GuardedWrite(string sql) => sql;

    /// <inheritdoc />
    public void UndoFailedWrite(DbConnection connection, DbTransaction? transaction)
    {
        // SQLite already undid the failed statement alone; the transaction goes on.
    }
}
