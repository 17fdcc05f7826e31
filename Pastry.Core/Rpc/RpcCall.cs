using System.Linq.Expressions;
using System.Reflection;

namespace Pastry;

/// <summary>One <c>[Distributed]</c> method call: the object, the method and its arguments.</summary>
/// <param name="Target">The object the method was called on.</param>
/// <param name="Method">The method.</param>
/// <param name="Arguments">The arguments, in parameter order.</param>
/// <param name="Sender">Who called it: the caller's account on the AI, <see cref="DoId.Empty"/> for the server or AI.</param>
public sealed record RpcCall(DistributedObject Target, MethodDescriptor Method, IReadOnlyList<object?> Arguments, DoId Sender)
{
    /// <inheritdoc />
    public override string ToString() => $"{Target.Model.Name}.{Method.Name}({string.Join(", ", Arguments.Select((a, i) => Method.Parameters[i].Codec.FormatBoxed(a)))}) from {Sender}";

    /// <summary>
    /// Reads a call written as a lambda, such as <c>k =&gt; k.Wave("hi")</c>: the method must be a <c>[Distributed]</c>
    /// method of <typeparamref name="T"/>, and the arguments are evaluated now.
    /// </summary>
    public static (MethodDescriptor Method, object?[] Arguments) Parse<T>(Expression<Action<T>> call)
        where T : DistributedObject<T>
    {
        if (call.Body is not MethodCallExpression body || body.Object is not ParameterExpression)
        {
            throw new ArgumentException("Pass a call of a [Distributed] method on the lambda's parameter, for example k => k.Wave(\"hi\").", nameof(call));
        }

        var model = ModelInfo.For<T>();
        var method = model.GetMethod(body.Method.Name);
        var arguments = new object?[body.Arguments.Count];
        for (int i = 0; i < arguments.Length; i++)
        {
            arguments[i] = Evaluate(body.Arguments[i]);
        }

        return (method, arguments);
    }

    private static object? Evaluate(Expression expression)
    {
        switch (expression)
        {
            case ConstantExpression constant:
                return constant.Value;
            case MemberExpression { Expression: ConstantExpression closure, Member: FieldInfo field }:
                return field.GetValue(closure.Value);
            // Only a conversion that keeps the value as it is (boxing, a reference conversion) may be skipped; a
            // widening one (a short passed to an int parameter) must run, or the codec gets the wrong boxed type.
            case UnaryExpression { NodeType: ExpressionType.Convert } convert when convert.Type.IsAssignableFrom(convert.Operand.Type):
                return Evaluate(convert.Operand);
            default:
                return Expression.Lambda(expression).Compile().DynamicInvoke();
        }
    }
}
