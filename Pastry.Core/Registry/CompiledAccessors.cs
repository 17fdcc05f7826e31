using System.Linq.Expressions;
using System.Reflection;

namespace Pastry;

/// <summary>Builds the delegates that let hot paths call model code without reflection.</summary>
internal static class CompiledAccessors
{
    /// <summary>Compiles <c>(obj, value) =&gt; ((TModel)obj).Clean{Field}(value)</c>.</summary>
    public static Func<DistributedObject, TValue, TValue> Clean<TValue>(Type modelType, MethodInfo method)
    {
        var target = Expression.Parameter(typeof(DistributedObject), "target");
        var value = Expression.Parameter(typeof(TValue), "value");
        var call = Expression.Call(Expression.Convert(target, modelType), method, value);
        return Expression.Lambda<Func<DistributedObject, TValue, TValue>>(call, target, value).Compile();
    }

    /// <summary>Compiles <c>() =&gt; new TModel()</c>.</summary>
    public static Func<DistributedObject> Factory(ConstructorInfo constructor) =>
        Expression.Lambda<Func<DistributedObject>>(Expression.Convert(Expression.New(constructor), typeof(DistributedObject))).Compile();

    /// <summary>Compiles <c>(obj, args) =&gt; ((TModel)obj).Method((T0)args[0], ...)</c>.</summary>
    public static Action<DistributedObject, object?[]> Invoker(Type modelType, MethodInfo method)
    {
        var target = Expression.Parameter(typeof(DistributedObject), "target");
        var args = Expression.Parameter(typeof(object[]), "args");
        var parameters = method.GetParameters();
        var arguments = new Expression[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            arguments[i] = Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), parameters[i].ParameterType);
        }

        var call = Expression.Call(Expression.Convert(target, modelType), method, arguments);
        return Expression.Lambda<Action<DistributedObject, object?[]>>(call, target, args).Compile();
    }
}
