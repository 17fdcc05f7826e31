namespace Pastry.Otp.Database.Queries;

/// <summary>
/// What differs between SQL databases when a typed query becomes SQL: identifier quoting, parameter names, the
/// case-folding comparison of <c>[Unique(IgnoreCase = true)]</c> fields, the prefix test and paging. The translator
/// (<see cref="QueryTranslator"/>) writes everything else, so a PostgreSQL provider adds one dialect, not a second
/// translator. Column names come only from the model registry; every value is a parameter.
/// </summary>
internal interface ISqlDialect
{
    /// <summary>A quoted identifier (table or column).</summary>
    string Quote(string identifier);

    /// <summary>The name of the parameter at <paramref name="index"/>, as it appears in the SQL text.</summary>
    string Parameter(int index);

    /// <summary>A column (or expression) compared without regard to letter case, as the unique index compares it.</summary>
    string CaseFolded(string column);

    /// <summary>
    /// The test that <paramref name="column"/> starts with the text in the parameter <paramref name="prefix"/>, comparing
    /// as the column's unique index does (<paramref name="ignoreCase"/>). Every character of the prefix counts: <c>%</c>,
    /// <c>_</c> and NUL are data.
    /// </summary>
    string StartsWith(string column, string prefix, bool ignoreCase);

    /// <summary>The paging clause; a null <paramref name="limit"/> means no limit.</summary>
    string Page(string? limit, string offset);
}

/// <summary>SQLite's dialect: double-quoted identifiers, <c>$p0</c> parameters, the <see cref="SqliteDatabase.CaseFoldCollation"/> collation.</summary>
internal sealed class SqliteDialect : ISqlDialect
{
    /// <summary>The one instance.</summary>
    public static readonly SqliteDialect Instance = new();

    private SqliteDialect()
    {
    }

    /// <inheritdoc />
    public string Quote(string identifier) => DbMapping.Quote(identifier);

    /// <inheritdoc />
    public string Parameter(int index) => "$p" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string CaseFolded(string column) => column + " COLLATE " + SqliteDatabase.CaseFoldCollation;

    /// <inheritdoc />
    // A function of Pastry's own (see SqliteDatabase.StartsWithFunction) compares the whole prefix, character by
    // character: '%' and '_' are plain characters (LIKE would treat them as wildcards and ignore ASCII case), and so is
    // NUL (SQLite's substr and .NET's reading of a text argument both stop at one, so it reads the UTF-8 bytes).
    public string StartsWith(string column, string prefix, bool ignoreCase) =>
        $"{SqliteDatabase.StartsWithFunction}({column}, {prefix}, {(ignoreCase ? 1 : 0)})";

    /// <inheritdoc />
    public string Page(string? limit, string offset) => $"LIMIT {limit ?? "-1"} OFFSET {offset}";
}
