using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Pastry.Wire;

namespace Pastry;

/// <summary>
/// Builds a <see cref="ModelInfo"/> by reflection, once per model class: reads its properties, keywords, validators,
/// clean methods, <c>[Distributed]</c> methods and indexes, and reports every declaration problem at once, with the
/// fix. The descriptor it fills knows nothing of reflection's rules.
/// </summary>
internal static class ModelInfoBuilder
{
    /// <summary>The descriptor of <paramref name="type"/>, or null with the reasons added to <paramref name="problems"/>.</summary>
    public static ModelInfo? Build(Type type, List<string> problems)
    {
        string where = type.FullName ?? type.Name;
        if (!IsModelType(type, out var modelBase))
        {
            problems.Add($"{where} is not a model: declare it as 'class {type.Name} : DistributedObject<{type.Name}>'.");
            return null;
        }

        if (modelBase != type)
        {
            problems.Add(DeclarationMessages.WrongTypeArgument(where, modelBase.Name, type.Name));
            return null;
        }

        if (type.IsAbstract || type.IsGenericTypeDefinition)
        {
            problems.Add($"{where} is abstract or generic; models must be concrete classes.");
            return null;
        }

        var constructor = type.GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, binder: null, Type.EmptyTypes, modifiers: null);
        if (constructor is null)
        {
            problems.Add(DeclarationMessages.NoParameterlessConstructor(where));
        }

        var info = new ModelInfo(type);
        var hierarchy = new List<Type>();
        for (var t = type; t is not null && !(t.IsGenericType && t.GetGenericTypeDefinition() == typeof(DistributedObject<>)); t = t.BaseType)
        {
            hierarchy.Insert(0, t);
        }

        var fieldList = new List<FieldDescriptor>();
        var methodList = new List<MethodDescriptor>();
        foreach (var declaring in hierarchy)
        {
            var properties = declaring.GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.DeclaredOnly)
                .OrderBy(p => p.MetadataToken);
            foreach (var property in properties)
            {
                var field = BuildField(info, type, property, fieldList.Count, problems);
                if (field is not null)
                {
                    fieldList.Add(field);
                }
            }

            var declaredMethods = declaring.GetMethods(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .Where(m => m.IsDefined(typeof(DistributedAttribute), inherit: true) && !OverridesRpc(m))
                .OrderBy(m => m.MetadataToken);
            foreach (var method in declaredMethods)
            {
                var descriptor = BuildMethod(info, type, method, methodList.Count, problems);
                if (descriptor is not null)
                {
                    if (methodList.Any(m => m.Name == descriptor.Name))
                    {
                        problems.Add(DeclarationMessages.OverloadedRpc($"{type.Name}.{method.Name}"));
                        continue;
                    }

                    methodList.Add(descriptor);
                }
            }
        }

        if (fieldList.Count > ushort.MaxValue || methodList.Count > ushort.MaxValue)
        {
            problems.Add($"{type.Name} has more than {ushort.MaxValue} fields or methods.");
        }

        if (problems.Count > 0)
        {
            return null;
        }

        info.SetMembers(fieldList.ToArray(), methodList.ToArray(), problems);
        info.SetIndexes(BuildIndexes(info, type, problems));
        if (problems.Count > 0)
        {
            return null;
        }

        info.SetFactory(CompiledAccessors.Factory(constructor!));
        return info;
    }

    /// <summary>Collects the model's indexes from its field and class attributes, checking that each can be built.</summary>
    private static ModelIndex[] BuildIndexes(ModelInfo info, Type type, List<string> problems)
    {
        var found = new List<ModelIndex>();
        foreach (var field in info.Fields)
        {
            var unique = field.Property.GetCustomAttribute<UniqueAttribute>(inherit: true);
            bool indexed = field.Property.IsDefined(typeof(IndexedAttribute), inherit: true);
            if (unique is null && !indexed)
            {
                continue;
            }

            string attribute = unique is not null ? "[Unique]" : "[Indexed]";
            if (!IndexableField(type, field, attribute, problems))
            {
                continue;
            }

            if (unique is { IgnoreCase: true } && field.ClrType != typeof(string))
            {
                problems.Add($"{type.Name}.{field.Name} is [Unique(IgnoreCase = true)] but its type is {field.ClrType.Name}; only string fields have a letter case.");
                continue;
            }

            // [Unique] already indexes the field, so [Indexed] beside it adds nothing.
            found.Add(new ModelIndex(info, new[] { field }, unique is not null, unique?.IgnoreCase ?? false));
        }

        var together = type.GetCustomAttributes<UniqueTogetherAttribute>(inherit: true).Select(a => (Names: a.Fields, Unique: true, a.IgnoreCase, Attribute: "[UniqueTogether]"))
            .Concat(type.GetCustomAttributes<IndexTogetherAttribute>(inherit: true).Select(a => (Names: a.Fields, Unique: false, IgnoreCase: false, Attribute: "[IndexTogether]")));
        foreach (var (names, unique, ignoreCase, attribute) in together)
        {
            if (names.Count == 0)
            {
                problems.Add($"{type.Name} has {attribute} without fields; name them, for example {attribute.TrimEnd(']')}(nameof(Owner), nameof(Slot))].");
                continue;
            }

            var fields = new List<FieldDescriptor>();
            foreach (string name in names)
            {
                if (!info.TryGetField(name ?? string.Empty, out var field))
                {
                    problems.Add($"{type.Name} has {attribute} naming '{name}', which is not a field of {type.Name}; use nameof(...) with its properties.");
                }
                else if (fields.Contains(field))
                {
                    problems.Add($"{type.Name} has {attribute} naming {name} twice.");
                }
                else if (IndexableField(type, field, attribute, problems))
                {
                    fields.Add(field);
                }
            }

            if (fields.Count == names.Count)
            {
                found.Add(new ModelIndex(info, fields, unique, ignoreCase && fields.Exists(f => f.ClrType == typeof(string))));
            }
        }

        foreach (var twice in found.GroupBy(i => i.Name).Where(g => g.Count() > 1))
        {
            problems.Add($"{type.Name} declares the index {twice.First()} {twice.Count()} times; keep one.");
        }

        return found.GroupBy(i => i.Name).Select(g => g.First()).ToArray();
    }

    private static bool IndexableField(Type type, FieldDescriptor field, string attribute, List<string> problems)
    {
        if (!field.IsDb)
        {
            problems.Add($"{type.Name}.{field.Name} is in {attribute} but is not [Db]; indexes and unique constraints live in the database, so add [Db].");
            return false;
        }

        if (field.ClrType.IsArray && field.ClrType != typeof(byte[]))
        {
            problems.Add($"{type.Name}.{field.Name} is in {attribute} but is an array ({field.Codec.SchemaName}), which is stored as JSON text; index a scalar field instead.");
            return false;
        }

        return true;
    }

    /// <summary>Whether <paramref name="type"/> derives from <c>DistributedObject&lt;T&gt;</c>, and with which T.</summary>
    public static bool IsModelType(Type type, out Type modelArgument)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(DistributedObject<>))
            {
                modelArgument = t.GetGenericArguments()[0];
                return true;
            }
        }

        modelArgument = null!;
        return false;
    }

    private static FieldDescriptor? BuildField(ModelInfo info, Type type, PropertyInfo property, int index, List<string> problems)
    {
        if (property.GetIndexParameters().Length > 0 || property.IsDefined(typeof(NotDistributedAttribute), inherit: true))
        {
            return null;
        }

        if (property.GetMethod is not { IsPublic: true } || property.SetMethod is not { IsPublic: true })
        {
            if (HasAnyKeyword(property))
            {
                problems.Add(DeclarationMessages.KeywordsWithoutPublicAccessors(type.Name, property.Name, CSharpName(property.PropertyType)));
            }

            return null;
        }

        string name = $"{type.Name}.{property.Name}";
        if (!ValueCodecs.TryGet(property.PropertyType, out var codec))
        {
            problems.Add(DeclarationMessages.UnsupportedFieldType(name, CSharpName(property.PropertyType)));
            return null;
        }

        var keywords = FieldKeywords.None;
        if (property.IsDefined(typeof(RequiredAttribute), inherit: true))
        {
            keywords |= FieldKeywords.Required;
        }

        keywords |= KeywordsOf(property);
        CheckKeywords(name, keywords, problems);

        var validators = property.GetCustomAttributes<ValidationAttribute>(inherit: true).ToList();
        MethodInfo? clean = FindClean(type, property, problems);
        return FieldDescriptor.Create(info, property, index, keywords, validators, clean, codec);
    }

    private static MethodDescriptor? BuildMethod(ModelInfo info, Type type, MethodInfo method, int index, List<string> problems)
    {
        string name = $"{type.Name}.{method.Name}";
        bool ok = true;
        if (method.ReturnType != typeof(void))
        {
            problems.Add(DeclarationMessages.RpcReturnsValue(name, CSharpName(method.ReturnType)));
            ok = false;
        }

        if (method.IsGenericMethodDefinition)
        {
            problems.Add(DeclarationMessages.GenericRpc(name));
            ok = false;
        }

        var parameters = new List<ParameterDescriptor>();
        foreach (var parameter in method.GetParameters())
        {
            if (parameter.ParameterType.IsByRef || !ValueCodecs.TryGet(parameter.ParameterType, out var codec))
            {
                problems.Add(DeclarationMessages.UnsupportedParameterType(name, parameter.Name ?? string.Empty, CSharpName(parameter.ParameterType)));
                ok = false;
                continue;
            }

            parameters.Add(new ParameterDescriptor(parameter, codec));
        }

        var keywords = KeywordsOf(method);
        if (method.IsDefined(typeof(AnonymousAttribute), inherit: true))
        {
            keywords |= FieldKeywords.Anonymous;
        }

        CheckKeywords(name, keywords, problems);
        return ok ? new MethodDescriptor(info, method, index, keywords, parameters.ToArray()) : null;
    }

    /// <summary>
    /// Whether <paramref name="method"/> overrides a base class's <c>[Distributed]</c> method: it is the same RPC (the
    /// base's descriptor calls it virtually, with the base's keywords), not a second one of the same name.
    /// </summary>
    private static bool OverridesRpc(MethodInfo method)
    {
        var original = method.GetBaseDefinition();
        return original.DeclaringType != method.DeclaringType && original.IsDefined(typeof(DistributedAttribute), inherit: false);
    }

    private static FieldKeywords KeywordsOf(MemberInfo member)
    {
        var keywords = FieldKeywords.None;
        if (member.IsDefined(typeof(RamAttribute), inherit: true))
        {
            keywords |= FieldKeywords.Ram;
        }

        if (member.IsDefined(typeof(DbAttribute), inherit: true))
        {
            keywords |= FieldKeywords.Db;
        }

        if (member.IsDefined(typeof(BroadcastAttribute), inherit: true))
        {
            keywords |= FieldKeywords.Broadcast;
        }

        if (member.IsDefined(typeof(ClSendAttribute), inherit: true))
        {
            keywords |= FieldKeywords.ClSend;
        }

        if (member.IsDefined(typeof(OwnSendAttribute), inherit: true))
        {
            keywords |= FieldKeywords.OwnSend;
        }

        if (member.IsDefined(typeof(AiAttribute), inherit: true))
        {
            keywords |= FieldKeywords.Ai;
        }

        return keywords;
    }

    /// <summary>A type as C# code spells it (<c>List&lt;int&gt;</c>, not <c>List`1</c>), so that messages name it recognisably.</summary>
    private static string CSharpName(Type type)
    {
        if (type.IsByRef)
        {
            return "ref " + CSharpName(type.GetElementType()!);
        }

        if (type.IsArray)
        {
            return CSharpName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return CSharpName(underlying) + "?";
        }

        if (type.IsGenericType)
        {
            string name = type.Name;
            int tick = name.IndexOf('`');
            return (tick < 0 ? name : name.Substring(0, tick)) + "<" + string.Join(", ", type.GetGenericArguments().Select(CSharpName)) + ">";
        }

        if (type.IsEnum)
        {
            return type.Name;
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "bool",
            TypeCode.Byte => "byte",
            TypeCode.SByte => "sbyte",
            TypeCode.Char => "char",
            TypeCode.Int16 => "short",
            TypeCode.UInt16 => "ushort",
            TypeCode.Int32 => "int",
            TypeCode.UInt32 => "uint",
            TypeCode.Int64 => "long",
            TypeCode.UInt64 => "ulong",
            TypeCode.Single => "float",
            TypeCode.Double => "double",
            TypeCode.Decimal => "decimal",
            TypeCode.String => "string",
            _ => type == typeof(object) ? "object" : type.Name,
        };
    }

    private static bool HasAnyKeyword(PropertyInfo property) =>
        KeywordsOf(property) != FieldKeywords.None || property.IsDefined(typeof(RequiredAttribute), inherit: true);

    private static void CheckKeywords(string name, FieldKeywords keywords, List<string> problems)
    {
        if ((keywords & FieldKeywords.Ai) != 0 && (keywords & FieldKeywords.ClSend) != 0)
        {
            problems.Add(DeclarationMessages.AiAndClSend(name));
        }

        if ((keywords & FieldKeywords.Ai) != 0 && (keywords & FieldKeywords.OwnSend) != 0)
        {
            problems.Add(DeclarationMessages.AiAndOwnSend(name));
        }

        if ((keywords & FieldKeywords.ClSend) != 0 && (keywords & FieldKeywords.OwnSend) != 0)
        {
            problems.Add(DeclarationMessages.ClSendAndOwnSend(name));
        }
    }

    private static MethodInfo? FindClean(Type type, PropertyInfo property, List<string> problems)
    {
        string cleanName = "Clean" + property.Name;
        MethodInfo[] candidates = type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(m => m.Name == cleanName)
            .ToArray();
        if (candidates.Length == 0)
        {
            return null;
        }

        string typeName = CSharpName(property.PropertyType);
        if (candidates.Length > 1)
        {
            problems.Add(DeclarationMessages.SeveralCleanMethods(type.Name, candidates.Length, cleanName, typeName));
            return null;
        }

        var method = candidates[0];
        var parameters = method.GetParameters();
        if (method.IsStatic || method.ReturnType != property.PropertyType || parameters.Length != 1 || parameters[0].ParameterType != property.PropertyType || method.IsGenericMethodDefinition)
        {
            problems.Add(DeclarationMessages.CleanWrongSignature(type.Name, cleanName, typeName));
            return null;
        }

        return method;
    }
}
