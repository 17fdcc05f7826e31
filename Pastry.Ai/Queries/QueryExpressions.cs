using System.Collections;
using System.Linq.Expressions;
using System.Reflection;
using Pastry.Messaging;

namespace Pastry.Ai.Queries;

/// <summary>
/// Turns the lambdas of <see cref="DbQuery{T}"/> into filters and ordering keys. Only shapes that map to one indexed
/// comparison are accepted; anything else fails at once with <see cref="NotSupportedException"/> saying what is supported,
/// instead of being run in memory or as hand-made SQL. Values (constants and captured variables) are evaluated here and
/// travel as typed values, never as SQL text.
/// </summary>
internal static class QueryExpressions
{
    /// <summary>What <see cref="DbQuery{T}.Where"/> accepts, for the error message.</summary>
    public const string Supported =
        "Supported: comparisons (==, !=, <, <=, >, >=) between a [Db] field (or DoId) and a value, joined with &&; "
        + "values.Contains(p.Field) (In); p.Field.StartsWith(text) on strings; string.IsNullOrEmpty(p.Field), p.Field.Length == 0 "
        + "or p.Field == DoId.Empty (IsEmpty, and their negations); a bool field alone or negated. Not supported: ||, method "
        + "calls on fields (ToUpper, Substring ...), arithmetic on fields, and fields that are not [Db] or are arrays (except IsEmpty).";

    /// <summary>The filters of one Where lambda (a conjunction).</summary>
    public static List<QueryFilter> Filters(ModelInfo model, LambdaExpression predicate)
    {
        var filters = new List<QueryFilter>();
        Collect(model, predicate.Parameters[0], predicate.Body, filters, predicate);
        return filters;
    }

    /// <summary>The field an ordering lambda names (null for the DoId).</summary>
    public static FieldDescriptor? OrderKey(ModelInfo model, LambdaExpression key)
    {
        if (AsField(model, key.Parameters[0], key.Body, out var field))
        {
            if (field is not null && !QuerySpec.IsQueryable(field))
            {
                throw new NotSupportedException($"Query<{model.Name}>: cannot order by {model.Name}.{field.Name}: {(field.IsDb ? "it is an array, stored as JSON text" : "it is not [Db]")}.");
            }

            return field;
        }

        throw new NotSupportedException($"Query<{model.Name}>: order by a [Db] field of the model (p => p.Gold) or p => p.DoId; '{key}' is not one.");
    }

    private static void Collect(ModelInfo model, ParameterExpression item, Expression body, List<QueryFilter> filters, LambdaExpression whole)
    {
        body = StripConvert(body);
        switch (body)
        {
            case BinaryExpression { NodeType: ExpressionType.AndAlso } and:
                Collect(model, item, and.Left, filters, whole);
                Collect(model, item, and.Right, filters, whole);
                return;

            case BinaryExpression binary when Comparison(binary.NodeType) is { } op:
                {
                    if (LengthOf(model, item, binary.Left, out var sized) && IsZero(binary.Right) && op is QueryOperator.Equal or QueryOperator.NotEqual or QueryOperator.Greater)
                    {
                        Add(model, filters, sized, op == QueryOperator.Equal ? QueryOperator.IsEmpty : QueryOperator.IsNotEmpty, Array.Empty<object?>(), whole);
                        return;
                    }

                    if (AsField(model, item, binary.Left, out var field) && !References(binary.Right, item))
                    {
                        Compare(model, filters, field, op, Evaluate(binary.Right), whole);
                        return;
                    }

                    if (AsField(model, item, binary.Right, out field) && !References(binary.Left, item))
                    {
                        Compare(model, filters, field, Flip(op), Evaluate(binary.Left), whole);
                        return;
                    }

                    break;
                }

            case MethodCallExpression call when call.Method.Name == nameof(string.StartsWith) && call.Object is not null
                && call.Method.DeclaringType == typeof(string) && (call.Arguments.Count == 1 || IsOrdinal(call.Arguments[1])):
                if (AsField(model, item, call.Object, out var prefixed) && !References(call.Arguments[0], item))
                {
                    Add(model, filters, prefixed, QueryOperator.StartsWith, new[] { ToFieldType(model, prefixed, Evaluate(call.Arguments[0])) }, whole);
                    return;
                }

                break;

            case MethodCallExpression call when call.Method.Name == nameof(string.IsNullOrEmpty) && call.Method.DeclaringType == typeof(string):
                if (AsField(model, item, call.Arguments[0], out var text))
                {
                    Add(model, filters, text, QueryOperator.IsEmpty, Array.Empty<object?>(), whole);
                    return;
                }

                break;

            case MethodCallExpression call when call.Method.Name == "Contains" && ContainsParts(call) is (var collection, var member)
                && AsField(model, item, member, out var listed) && !References(collection, item):
                {
                    var values = (Evaluate(collection) as IEnumerable ?? throw new NotSupportedException($"Query<{model.Name}>: the list of an In filter is null."))
                        .Cast<object?>().Select(v => ToFieldType(model, listed, v)).Distinct().ToArray();
                    if (values.Length > QuerySpec.MaxInValues)
                    {
                        throw new NotSupportedException($"Query<{model.Name}>: an In filter on {listed?.Name ?? "DoId"} has {values.Length} values; at most {QuerySpec.MaxInValues} (split the query).");
                    }

                    Add(model, filters, listed, QueryOperator.In, values, whole);
                    return;
                }

            case UnaryExpression { NodeType: ExpressionType.Not } not:
                {
                    var inner = new List<QueryFilter>();
                    Collect(model, item, not.Operand, inner, whole);
                    if (inner.Count == 1 && Negate(inner[0].Operator) is { } negated)
                    {
                        filters.Add(inner[0] with { Operator = negated });
                        return;
                    }

                    break;
                }

            case MemberExpression when AsField(model, item, body, out var flag) && flag?.ClrType == typeof(bool):
                Compare(model, filters, flag, QueryOperator.Equal, true, whole);
                return;
        }

        throw new NotSupportedException($"Query<{model.Name}>.Where({whole}): '{body}' is not supported. {Supported}");
    }

    private static void Compare(ModelInfo model, List<QueryFilter> filters, FieldDescriptor? field, QueryOperator op, object? value, LambdaExpression whole)
    {
        object? typed = ToFieldType(model, field, value);
        if (op is QueryOperator.Equal or QueryOperator.NotEqual && (field is null || field.ClrType == typeof(DoId)) && typed is DoId { IsEmpty: true })
        {
            Add(model, filters, field, op == QueryOperator.Equal ? QueryOperator.IsEmpty : QueryOperator.IsNotEmpty, Array.Empty<object?>(), whole);
            return;
        }

        Add(model, filters, field, op, new[] { typed }, whole);
    }

    private static void Add(ModelInfo model, List<QueryFilter> filters, FieldDescriptor? field, QueryOperator op, object?[] values, LambdaExpression whole)
    {
        string? problem = QuerySpec.Check(model, field, op, values.Length);
        if (problem is not null)
        {
            throw new NotSupportedException($"Query<{model.Name}>.Where({whole}): {problem}. {Supported}");
        }

        filters.Add(new QueryFilter(field, op, values));
    }

    /// <summary>Converts a value to the field's type (an int constant compared with a long field), refusing what does not fit.</summary>
    private static object? ToFieldType(ModelInfo model, FieldDescriptor? field, object? value)
    {
        var type = field?.ClrType ?? typeof(DoId);
        if (value is null)
        {
            if (type.IsValueType)
            {
                throw new NotSupportedException($"Query<{model.Name}>: {field?.Name ?? "DoId"} is a {type.Name} and cannot be compared with null.");
            }

            return null;
        }

        if (type.IsInstanceOfType(value))
        {
            return value;
        }

        try
        {
            return Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is InvalidCastException or OverflowException or FormatException)
        {
            throw new NotSupportedException($"Query<{model.Name}>: the value {value} ({value.GetType().Name}) does not fit {model.Name}.{field?.Name ?? "DoId"} ({type.Name}).", ex);
        }
    }

    /// <summary>Whether <paramref name="expression"/> is <c>p.Field</c> (a field of the model) or <c>p.DoId</c> (field null).</summary>
    private static bool AsField(ModelInfo model, ParameterExpression item, Expression expression, out FieldDescriptor? field)
    {
        field = null;
        if (StripConvert(expression) is not MemberExpression { Expression: var owner, Member: PropertyInfo property } || StripConvert(owner!) != item)
        {
            return false;
        }

        if (property.Name == nameof(DistributedObject.DoId) && property.PropertyType == typeof(DoId))
        {
            return true;
        }

        if (!model.TryGetField(property.Name, out var found))
        {
            throw new NotSupportedException($"Query<{model.Name}>: {property.Name} is not a field of {model.Name}; queries filter on [Db] fields and DoId.");
        }

        field = found;
        return true;
    }

    private static bool LengthOf(ModelInfo model, ParameterExpression item, Expression expression, out FieldDescriptor? field)
    {
        field = null;
        expression = StripConvert(expression);
        return (expression is MemberExpression { Member.Name: "Length", Expression: { } text } && AsField(model, item, text, out field))
            || (expression is UnaryExpression { NodeType: ExpressionType.ArrayLength, Operand: var array } && AsField(model, item, array, out field));
    }

    private static (Expression Collection, Expression Member)? ContainsParts(MethodCallExpression call)
    {
        if (call.Object is not null && call.Arguments.Count == 1)
        {
            return (call.Object, call.Arguments[0]);                       // list.Contains(p.X), set.Contains(p.X)
        }

        if (call.Object is null && call.Arguments.Count >= 2)
        {
            return (UnwrapSpan(call.Arguments[0]), call.Arguments[1]);     // Enumerable.Contains / MemoryExtensions.Contains
        }

        return null;
    }

    /// <summary>C# 14 binds <c>array.Contains(x)</c> to <c>MemoryExtensions.Contains(span, x)</c>: look through the implicit span conversion.</summary>
    private static Expression UnwrapSpan(Expression expression) => StripConvert(expression) switch
    {
        MethodCallExpression { Method.Name: "op_Implicit", Arguments.Count: 1 } conversion => StripConvert(conversion.Arguments[0]),
        var other => other,
    };

    private static bool IsZero(Expression expression) => !References(expression, null) && Evaluate(expression) is int and 0 or long and 0;

    private static bool IsOrdinal(Expression expression) => Evaluate(expression) is StringComparison.Ordinal;

    private static Expression StripConvert(Expression expression)
    {
        while (expression is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert)
        {
            expression = convert.Operand;
        }

        return expression;
    }

    /// <summary>The value of an expression that does not touch the query's item (a constant or a captured variable).</summary>
    private static object? Evaluate(Expression expression)
    {
        switch (expression)
        {
            case ConstantExpression constant:
                return constant.Value;
            case MemberExpression { Expression: ConstantExpression closure, Member: FieldInfo captured }:
                return captured.GetValue(closure.Value);
            case MemberExpression { Expression: null, Member: FieldInfo staticField }:
                return staticField.GetValue(null);
            case MemberExpression { Expression: null, Member: PropertyInfo staticProperty }:
                return staticProperty.GetValue(null);
            default:
                return Expression.Lambda(expression).Compile(preferInterpretation: true).DynamicInvoke();
        }
    }

    private static bool References(Expression expression, ParameterExpression? item)
    {
        var finder = new ParameterFinder(item);
        finder.Visit(expression);
        return finder.Found;
    }

    private static QueryOperator? Comparison(ExpressionType type) => type switch
    {
        ExpressionType.Equal => QueryOperator.Equal,
        ExpressionType.NotEqual => QueryOperator.NotEqual,
        ExpressionType.LessThan => QueryOperator.Less,
        ExpressionType.LessThanOrEqual => QueryOperator.LessOrEqual,
        ExpressionType.GreaterThan => QueryOperator.Greater,
        ExpressionType.GreaterThanOrEqual => QueryOperator.GreaterOrEqual,
        _ => null,
    };

    private static QueryOperator Flip(QueryOperator op) => op switch
    {
        QueryOperator.Less => QueryOperator.Greater,
        QueryOperator.LessOrEqual => QueryOperator.GreaterOrEqual,
        QueryOperator.Greater => QueryOperator.Less,
        QueryOperator.GreaterOrEqual => QueryOperator.LessOrEqual,
        _ => op,
    };

    private static QueryOperator? Negate(QueryOperator op) => op switch
    {
        QueryOperator.Equal => QueryOperator.NotEqual,
        QueryOperator.NotEqual => QueryOperator.Equal,
        QueryOperator.IsEmpty => QueryOperator.IsNotEmpty,
        QueryOperator.IsNotEmpty => QueryOperator.IsEmpty,
        QueryOperator.Less => QueryOperator.GreaterOrEqual,
        QueryOperator.LessOrEqual => QueryOperator.Greater,
        QueryOperator.Greater => QueryOperator.LessOrEqual,
        QueryOperator.GreaterOrEqual => QueryOperator.Less,
        _ => null,
    };

    /// <summary>Finds a parameter (any parameter when <c>item</c> is null) inside an expression.</summary>
    private sealed class ParameterFinder(ParameterExpression? item) : ExpressionVisitor
    {
        public bool Found { get; private set; }

        protected override Expression VisitParameter(ParameterExpression node)
        {
            Found |= item is null || node == item;
            return node;
        }
    }
}
