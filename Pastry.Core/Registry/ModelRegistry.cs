using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Pastry;

/// <summary>
/// The set of models an app uses, discovered once by reflection from its assemblies. It gives each model by type,
/// class id or name, and the schema: a canonical JSON text of every class, field, type and keyword, and its hash,
/// which client and server compare at hello.
/// </summary>
public sealed class ModelRegistry
{
    private readonly ModelInfo[] models;
    private readonly Dictionary<Type, ModelInfo> byType = new();
    private readonly Dictionary<uint, ModelInfo> byClassId = new();
    private readonly Dictionary<string, ModelInfo> byName = new(StringComparer.Ordinal);

    /// <summary>The models that Pastry itself defines (UberDOGs); every registry includes them.</summary>
    public static IReadOnlyList<Type> BuiltInModels { get; } = new[] { typeof(LoginManager) };

    private ModelRegistry(IEnumerable<ModelInfo> infos)
    {
        models = infos.OrderBy(m => m.Name, StringComparer.Ordinal).ToArray();
        var problems = new List<string>();
        foreach (var model in models)
        {
            if (byName.TryGetValue(model.Name, out var sameName))
            {
                problems.Add($"Two models are named {model.Name} ({sameName.ClrType.FullName} and {model.ClrType.FullName}); model names must be unique because the schema addresses classes by name. Rename one.");
                continue;
            }

            if (byClassId.TryGetValue(model.ClassId, out var sameId))
            {
                problems.Add($"Models {sameId.Name} and {model.Name} hash to the same class id {model.ClassId}; rename one of them.");
                continue;
            }

            byName.Add(model.Name, model);
            byClassId.Add(model.ClassId, model);
            byType.Add(model.ClrType, model);
        }

        if (problems.Count > 0)
        {
            throw new ModelDeclarationException(problems);
        }

        SchemaJson = BuildSchema(models, f => f.WireId, m => m.WireId).ToString(Formatting.None);
        SchemaHash = HashOf(SchemaJson);
    }

    /// <summary>Every model, ordered by name.</summary>
    public IReadOnlyList<ModelInfo> Models => models;

    /// <summary>The canonical schema text (compact JSON). It does not depend on assembly load order.</summary>
    public string SchemaJson { get; }

    /// <summary>The first 64 bits of the SHA-256 of <see cref="SchemaJson"/>.</summary>
    public ulong SchemaHash { get; }

    /// <summary>The schema hash as 16 lower-case hex digits.</summary>
    public string SchemaHashText => SchemaHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Discovers every concrete <see cref="DistributedObject{T}"/> subclass in <paramref name="assemblies"/>.</summary>
    /// <exception cref="ModelDeclarationException">One or more models are declared wrongly; every problem is listed.</exception>
    public static ModelRegistry FromAssemblies(params Assembly[] assemblies) => FromAssemblies((IEnumerable<Assembly>)assemblies);

    /// <summary>Discovers every concrete <see cref="DistributedObject{T}"/> subclass in <paramref name="assemblies"/>.</summary>
    /// <exception cref="ModelDeclarationException">One or more models are declared wrongly; every problem is listed.</exception>
    public static ModelRegistry FromAssemblies(IEnumerable<Assembly> assemblies)
    {
        var types = new List<Type>();
        foreach (var assembly in assemblies.Distinct())
        {
            Type?[] found;
            try
            {
                found = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                found = ex.Types;
            }

            types.AddRange(found.Where(t => t is not null && t.IsClass && !t.IsAbstract && !t.IsGenericTypeDefinition && ModelInfoBuilder.IsModelType(t, out _))!);
        }

        return FromTypes(types);
    }

    /// <summary>Builds a registry from an explicit list of model types.</summary>
    /// <exception cref="ModelDeclarationException">One or more models are declared wrongly; every problem is listed.</exception>
    public static ModelRegistry FromTypes(IEnumerable<Type> types)
    {
        var infos = new List<ModelInfo>();
        var problems = new List<string>();

        // Pastry's own UberDOG models are part of every schema, so that every client can log in.
        foreach (var type in BuiltInModels.Concat(types).Distinct())
        {
            try
            {
                infos.Add(ModelInfo.For(type));
            }
            catch (ModelDeclarationException ex)
            {
                problems.AddRange(ex.Problems);
            }
        }

        if (problems.Count > 0)
        {
            throw new ModelDeclarationException(problems);
        }

        return new ModelRegistry(infos);
    }

    /// <summary>The model of <paramref name="type"/>.</summary>
    public ModelInfo GetModel(Type type) =>
        byType.TryGetValue(type, out var model) ? model : throw new KeyNotFoundException($"{type.Name} is not a registered model. Make sure its assembly is passed to the registry (--app).");

    /// <summary>The model of <typeparamref name="T"/>.</summary>
    public ModelInfo GetModel<T>()
        where T : DistributedObject<T> => GetModel(typeof(T));

    /// <summary>Finds a model by class id.</summary>
    public bool TryGetModel(uint classId, out ModelInfo model) => byClassId.TryGetValue(classId, out model!);

    /// <summary>Finds a model by name.</summary>
    public bool TryGetModel(string name, out ModelInfo model) => byName.TryGetValue(name, out model!);

    /// <summary>
    /// The schema hash these models would have if their wire ids were <paramref name="fieldId"/> and
    /// <paramref name="methodId"/>: what a build with a given lock embedded computes (<see cref="SchemaLock.Update"/>).
    /// </summary>
    internal ulong SchemaHashWith(Func<FieldDescriptor, int> fieldId, Func<MethodDescriptor, int> methodId) =>
        HashOf(BuildSchema(models, fieldId, methodId).ToString(Formatting.None));

    /// <summary>The schema as indented JSON, for people (<c>pastry schema --json</c>).</summary>
    public string ToIndentedJson()
    {
        var root = BuildSchema(models, f => f.WireId, m => m.WireId);
        root.AddFirst(new JProperty("hash", SchemaHashText));
        return root.ToString(Formatting.Indented);
    }

    /// <summary>The schema as a short text table, for people (<c>pastry schema</c>).</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        text.Append("schema ").Append(SchemaHashText).Append(" (").Append(models.Length).Append(" models)").AppendLine();
        foreach (var model in models)
        {
            text.Append("class ").Append(model.Name).Append("  id ").Append(model.ClassId).AppendLine();
            foreach (var field in model.Fields)
            {
                text.Append("  ").Append(field.WireId).Append(' ').Append(field.Name).Append(" : ").Append(field.Codec.SchemaName);
                foreach (var keyword in KeywordNames(field.Keywords))
                {
                    text.Append(' ').Append(keyword);
                }

                foreach (var validator in field.Validators)
                {
                    text.Append(" @").Append(ValidatorName(validator));
                }

                text.AppendLine();
            }

            foreach (var method in model.Methods)
            {
                text.Append("  rpc ").Append(method.WireId).Append(' ').Append(method.Name).Append('(')
                    .Append(string.Join(", ", method.Parameters.Select(p => p.Name + " : " + p.Codec.SchemaName))).Append(')');
                foreach (var keyword in KeywordNames(method.Keywords))
                {
                    text.Append(' ').Append(keyword);
                }

                text.AppendLine();
            }

            foreach (var index in model.Indexes)
            {
                text.Append("  ").Append(index.IsUnique ? "unique" : "index").Append(index.IgnoreCase ? " ignorecase" : string.Empty)
                    .Append(" (").Append(string.Join(", ", index.Fields.Select(f => f.Name))).Append(')').AppendLine();
            }
        }

        return text.ToString();
    }

    /// <summary>The canonical keyword names of <paramref name="keywords"/>, in a fixed order.</summary>
    public static IEnumerable<string> KeywordNames(FieldKeywords keywords)
    {
        if ((keywords & FieldKeywords.Required) != 0)
        {
            yield return "required";
        }

        if ((keywords & FieldKeywords.Ram) != 0)
        {
            yield return "ram";
        }

        if ((keywords & FieldKeywords.Db) != 0)
        {
            yield return "db";
        }

        if ((keywords & FieldKeywords.Broadcast) != 0)
        {
            yield return "broadcast";
        }

        if ((keywords & FieldKeywords.ClSend) != 0)
        {
            yield return "clsend";
        }

        if ((keywords & FieldKeywords.OwnSend) != 0)
        {
            yield return "ownsend";
        }

        if ((keywords & FieldKeywords.Ai) != 0)
        {
            yield return "ai";
        }

        if ((keywords & FieldKeywords.Anonymous) != 0)
        {
            yield return "anonymous";
        }
    }

    private static string ValidatorName(System.ComponentModel.DataAnnotations.ValidationAttribute validator)
    {
        string name = validator.GetType().Name;
        return name.EndsWith("Attribute", StringComparison.Ordinal) ? name.Substring(0, name.Length - "Attribute".Length) : name;
    }

    private static ulong HashOf(string schemaJson)
    {
#if NET5_0_OR_GREATER
        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(schemaJson));
#else
        using var sha = SHA256.Create();
        byte[] digest = sha.ComputeHash(Encoding.UTF8.GetBytes(schemaJson));
#endif
        ulong hash = 0;
        for (int i = 0; i < 8; i++)
        {
            hash = (hash << 8) | digest[i];
        }

        return hash;
    }

    private static JObject BuildSchema(IEnumerable<ModelInfo> models, Func<FieldDescriptor, int> fieldId, Func<MethodDescriptor, int> methodId)
    {
        var classes = new JArray();
        foreach (var model in models)
        {
            var fields = new JArray();
            foreach (var field in model.Fields)
            {
                var fieldEntry = new JObject
                {
                    ["name"] = field.Name,
                    ["type"] = field.Codec.SchemaName,
                    ["keywords"] = new JArray(KeywordNames(field.Keywords).ToArray()),
                    ["validators"] = new JArray(field.Validators.Select(ValidatorName).ToArray()),
                };

                // The wire id is part of the schema, but only written where a lock moved it away from the
                // declaration index, so that schemas without a lock (or whose lock keeps that order) hash as before.
                if (fieldId(field) != field.Index)
                {
                    fieldEntry["id"] = fieldId(field);
                }

                fields.Add(fieldEntry);
            }

            var methods = new JArray();
            foreach (var method in model.Methods)
            {
                var methodEntry = new JObject
                {
                    ["name"] = method.Name,
                    ["parameters"] = new JArray(method.Parameters.Select(p => new JObject { ["name"] = p.Name, ["type"] = p.Codec.SchemaName }).ToArray()),
                    ["keywords"] = new JArray(KeywordNames(method.Keywords).ToArray()),
                };
                if (methodId(method) != method.Index)
                {
                    methodEntry["id"] = methodId(method);
                }

                methods.Add(methodEntry);
            }

            var entry = new JObject
            {
                ["name"] = model.Name,
                ["id"] = model.ClassId,
                ["fields"] = fields,
                ["methods"] = methods,
            };

            // Only models with indexes carry the key, so that adding the feature left every other schema hash as it was.
            if (model.Indexes.Count > 0)
            {
                entry["indexes"] = new JArray(model.Indexes.Select(i => new JObject
                {
                    ["fields"] = new JArray(i.Fields.Select(f => f.Name).ToArray()),
                    ["unique"] = i.IsUnique,
                    ["ignoreCase"] = i.IgnoreCase,
                }).ToArray());
            }

            classes.Add(entry);
        }

        return new JObject { ["format"] = 1, ["classes"] = classes };
    }
}
