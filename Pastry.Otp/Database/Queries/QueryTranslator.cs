using System.Text;
using Pastry.Messaging;

namespace Pastry.Otp.Database.Queries;

/// <summary>A query as SQL text and its parameter values, in order.</summary>
/// <param name="Text">The SQL; it holds quoted column names from the registry and parameter names, never a value.</param>
/// <param name="Parameters">The values of the parameters <c>0..n-1</c>.</param>
internal sealed record SqlQuery(string Text, IReadOnlyList<object> Parameters);

/// <summary>
/// Turns a <see cref="QuerySpec"/> into SQL through an <see cref="ISqlDialect"/>: the filters as a conjunction of
/// comparisons against parameters, the ordering with the DoId last (pages never overlap), and the page. A field that
/// ignores case (<c>[Unique(IgnoreCase = true)]</c>) is compared and ordered case-folded, as its index is.
/// </summary>
internal static class QueryTranslator
{
    /// <summary>Translates <paramref name="query"/>; <paramref name="limit"/> rows at most (null: no limit; the caller asks one more than it allows, to detect overflow).</summary>
    public static SqlQuery Translate(QuerySpec query, ISqlDialect dialect, int? limit)
    {
        var parameters = new List<object>();
        var text = new StringBuilder();
        string table = dialect.Quote(query.Model.Name);
        string where = Where(query, dialect, parameters);
        string page = dialect.Page(limit is { } rows ? Add(parameters, dialect, (long)rows) : null, Add(parameters, dialect, (long)query.Skip));
        switch (query.Result)
        {
            case QueryResultKind.Count:
                // A page (Skip/Take) counts the rows in the page, as Django's count() of a sliced query set does.
                text.Append("SELECT count(*) FROM (SELECT 1 FROM ").Append(table).Append(where).Append(' ').Append(page).Append(") AS page");
                break;
            default:
                text.Append("SELECT ").Append(DbMapping.KeyColumn);
                if (query.Result == QueryResultKind.Objects)
                {
                    foreach (var field in query.Model.Fields.Where(f => f.IsDb))
                    {
                        text.Append(", ").Append(dialect.Quote(field.Name));
                    }
                }

                text.Append(" FROM ").Append(table).Append(where).Append(OrderBy(query, dialect)).Append(' ').Append(page);
                break;
        }

        return new SqlQuery(text.ToString(), parameters);
    }

    private static string Where(QuerySpec query, ISqlDialect dialect, List<object> parameters)
    {
        if (query.Filters.Count == 0)
        {
            return string.Empty;
        }

        var text = new StringBuilder(" WHERE ");
        for (int i = 0; i < query.Filters.Count; i++)
        {
            if (i > 0)
            {
                text.Append(" AND ");
            }

            var filter = query.Filters[i];
            string column = Column(query.Model, filter.Field, dialect);
            string schema = filter.Field?.Codec.SchemaName ?? "doid";
            bool folded = filter.Field is not null && query.Model.IgnoresCase(filter.Field);

            // The value side of a comparison with a case-folded column is folded too (a no-op on SQLite, whose collation
            // on the column applies to both sides).
            string Value(object value) => folded ? dialect.CaseFoldedValue(Add(parameters, dialect, value)) : Add(parameters, dialect, value);
            switch (filter.Operator)
            {
                case QueryOperator.In when filter.Values.Count == 0:
                    text.Append("1 = 0");
                    break;
                case QueryOperator.In:
                    text.Append(column).Append(" IN (")
                        .Append(string.Join(", ", filter.Values.Select(v => Value(ColumnValues.ToSql(schema, v))))).Append(')');
                    break;
                case QueryOperator.StartsWith:
                    {
                        string prefix = (string?)filter.Values[0] ?? string.Empty;
                        bool ignoreCase = filter.Field is not null && query.Model.IgnoresCase(filter.Field);
                        string raw = filter.Field is null ? DbMapping.KeyColumn : dialect.Quote(filter.Field.Name);
                        text.Append(dialect.StartsWith(raw, Add(parameters, dialect, prefix), ignoreCase));
                        break;
                    }

                case QueryOperator.IsEmpty or QueryOperator.IsNotEmpty:
                    {
                        object empty = ColumnValues.ToSql(schema, filter.Field?.Codec.DefaultBoxed ?? DoId.Empty);
                        text.Append(column).Append(filter.Operator == QueryOperator.IsEmpty ? " = " : " <> ").Append(Value(empty));
                        break;
                    }

                default:
                    text.Append(column).Append(Comparison(filter.Operator)).Append(Value(ColumnValues.ToSql(schema, filter.Values[0])));
                    break;
            }
        }

        return text.ToString();
    }

    private static string OrderBy(QuerySpec query, ISqlDialect dialect)
    {
        var keys = query.Orders.Select(o => Column(query.Model, o.Field, dialect) + (o.Descending ? " DESC" : " ASC")).ToList();
        if (!query.Orders.Any(o => o.Field is null))
        {
            keys.Add(DbMapping.KeyColumn + " ASC");
        }

        return " ORDER BY " + string.Join(", ", keys);
    }

    private static string Column(ModelInfo model, FieldDescriptor? field, ISqlDialect dialect)
    {
        if (field is null)
        {
            return DbMapping.KeyColumn;
        }

        string column = dialect.Quote(field.Name);
        return model.IgnoresCase(field) ? dialect.CaseFolded(column) : column;
    }

    private static string Comparison(QueryOperator op) => op switch
    {
        QueryOperator.Equal => " = ",
        QueryOperator.NotEqual => " <> ",
        QueryOperator.Less => " < ",
        QueryOperator.LessOrEqual => " <= ",
        QueryOperator.Greater => " > ",
        QueryOperator.GreaterOrEqual => " >= ",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not a comparison"),
    };

    private static string Add(List<object> parameters, ISqlDialect dialect, object value)
    {
        parameters.Add(value);
        return dialect.Parameter(parameters.Count - 1);
    }
}
