using System.Collections.Concurrent;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Newtonsoft.Json;

namespace Pastry;

/// <summary>
/// The schema lock (<c>pastry.schema.lock</c>, JSON, kept beside the game's code and embedded in its model assembly):
/// the wire id of every class, field and RPC, with each field's type, keywords and validators, and the versions
/// locked before. Like protobuf field numbers, an id never changes once given and a removed member's id is retired
/// for good, but nobody writes the numbers by hand: <c>pastry schema --lock</c> updates the file from the models.
/// </summary>
/// <remarks>
/// A member is matched to its locked entry by name, then by the names of its <see cref="RenamedFromAttribute"/>; an
/// unmatched member gets the next id after every id the class ever used. The same rule runs when the lock is written
/// (<see cref="Update"/>) and when a process registers the models (<see cref="AssignIds"/>), so a member added since
/// the last lock gets in every process the id that the next <c>--lock</c> will record.
/// </remarks>
public sealed class SchemaLock
{
    /// <summary>The lock file's usual name, and the manifest resource name the registry looks for in a model assembly.</summary>
    public const string FileName = "pastry.schema.lock";

    private static readonly ConcurrentDictionary<Assembly, SchemaLock?> Embedded = new();

    private static readonly JsonSerializerSettings Settings = new()
    {
        NullValueHandling = NullValueHandling.Ignore,
        DefaultValueHandling = DefaultValueHandling.Include,
        MissingMemberHandling = MissingMemberHandling.Error,
        ContractResolver = new Newtonsoft.Json.Serialization.DefaultContractResolver
        {
            NamingStrategy = new Newtonsoft.Json.Serialization.CamelCaseNamingStrategy { ProcessDictionaryKeys = false },
        },
    };

    /// <summary>The lock file's format version.</summary>
    public int Format { get; set; } = 1;

    /// <summary>The schema hash of the locked version (<see cref="ModelRegistry.SchemaHashText"/>).</summary>
    public string Hash { get; set; } = string.Empty;

    /// <summary>The classes of the locked version, by name, with the ids of their members and the retired ids.</summary>
    public List<LockedClass> Classes { get; set; } = new();

    /// <summary>The versions locked before this one, oldest first (their classes, without retired ids).</summary>
    public List<LockedVersion> History { get; set; } = new();

    /// <summary>The class named <paramref name="name"/>, or null.</summary>
    public LockedClass? Find(string name) => Classes.Find(c => string.Equals(c.Name, name, StringComparison.Ordinal));

    /// <summary>Reads a lock from its JSON text.</summary>
    /// <exception cref="SchemaLockException">The text is not a lock file.</exception>
    public static SchemaLock Parse(string json, string source)
    {
        SchemaLock? parsed;
        try
        {
            parsed = JsonConvert.DeserializeObject<SchemaLock>(json, Settings);
        }
        catch (JsonException ex)
        {
            throw new SchemaLockException($"{source} is not a schema lock: {ex.Message} Write it with 'pastry schema --lock'.", ex);
        }

        if (parsed is null || parsed.Format != 1)
        {
            throw new SchemaLockException($"{source} is not a schema lock of format 1 (format {parsed?.Format}); write it with 'pastry schema --lock'.");
        }

        parsed.Classes ??= new();
        parsed.History ??= new();
        foreach (var model in parsed.Classes.Concat(parsed.History.SelectMany(v => v.Classes ?? new())))
        {
            model.Check(source);
        }

        return parsed;
    }

    /// <summary>Reads the lock file at <paramref name="path"/>.</summary>
    /// <exception cref="SchemaLockException">The file is missing or is not a lock.</exception>
    public static SchemaLock Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new SchemaLockException($"no schema lock at {Path.GetFullPath(path)}; write one with 'pastry schema --lock'.");
        }

        return Parse(File.ReadAllText(path), Path.GetFullPath(path));
    }

    /// <summary>
    /// The lock embedded in <paramref name="assembly"/> as a manifest resource named <see cref="FileName"/> (or ending
    /// in <c>.pastry.schema.lock</c>), or null when it embeds none. Read once per assembly.
    /// </summary>
    /// <exception cref="SchemaLockException">The embedded resource is not a lock.</exception>
    public static SchemaLock? ForAssembly(Assembly assembly) => Embedded.GetOrAdd(assembly, static a =>
    {
        string? name = Array.Find(
            a.GetManifestResourceNames(),
            n => string.Equals(n, FileName, StringComparison.Ordinal) || n.EndsWith("." + FileName, StringComparison.Ordinal));
        if (name is null)
        {
            return null;
        }

        using var stream = a.GetManifestResourceStream(name)!;
        using var text = new StreamReader(stream);
        return Parse(text.ReadToEnd(), $"the resource {name} of {a.GetName().Name}");
    });

    /// <summary>
    /// The lock of <paramref name="registry"/>'s models as <paramref name="previous"/> numbers them: kept ids for
    /// kept (or renamed) members, new ids for new ones, and the ids of removed members retired. The previous locked
    /// version goes to <see cref="History"/> when the schema changed.
    /// </summary>
    public static SchemaLock Update(ModelRegistry registry, SchemaLock? previous)
    {
        var next = new SchemaLock { Hash = registry.SchemaHashText };
        foreach (var model in registry.Models)
        {
            var before = previous?.Find(model.Name);
            next.Classes.Add(LockedClass.From(model, before));
        }

        // A class that is gone stays, with every member retired, so that its ids are never given again if it returns.
        foreach (var gone in previous?.Classes.Where(c => registry.Models.All(m => m.Name != c.Name)) ?? Enumerable.Empty<LockedClass>())
        {
            next.Classes.Add(gone.AsRemoved());
        }

        next.Classes.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));

        // The hash a build with this lock embedded computes, whatever lock (if any) the registry's own build embeds.
        ulong hash = registry.SchemaHashWith(
            f => next.Find(f.Model.Name)!.Fields.Find(l => l.Name == f.Name)!.Id,
            m => next.Find(m.Model.Name)!.Methods.Find(l => l.Name == m.Name)!.Id);
        next.Hash = hash.ToString("x16", CultureInfo.InvariantCulture);
        if (previous is not null)
        {
            next.History.AddRange(previous.History);
            if (previous.Hash.Length > 0 && JsonConvert.SerializeObject(previous.Classes, Settings) != JsonConvert.SerializeObject(next.Classes, Settings))
            {
                next.History.Add(new LockedVersion { Hash = previous.Hash, Classes = previous.Classes.Where(c => !c.Removed).Select(c => c.WithoutRetired()).ToList() });
            }
        }

        return next;
    }

    /// <summary>
    /// The wire id of each member named in <paramref name="members"/> (in order): the locked id of the entry with its
    /// name or one of its former names, else the next id after every live and retired id, in the members' order.
    /// </summary>
    /// <param name="locked">The locked live members (null: none).</param>
    /// <param name="retired">The retired members (null: none).</param>
    /// <param name="members">Each member's name and former names.</param>
    public static int[] AssignIds(IReadOnlyList<LockedMember>? locked, IReadOnlyList<LockedMember>? retired, IReadOnlyList<(string Name, IReadOnlyList<string> FormerNames)> members)
    {
        locked ??= Array.Empty<LockedMember>();
        retired ??= Array.Empty<LockedMember>();
        int next = locked.Concat(retired).Select(m => m.Id + 1).DefaultIfEmpty(0).Max();
        var ids = new int[members.Count];
        var taken = new HashSet<int>();
        for (int i = 0; i < members.Count; i++)
        {
            var (name, former) = members[i];
            var entry = locked.FirstOrDefault(m => m.Name == name) ?? former.Select(f => locked.FirstOrDefault(m => m.Name == f)).FirstOrDefault(m => m is not null);
            ids[i] = entry is not null && taken.Add(entry.Id) ? entry.Id : -1;
        }

        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0)
            {
                ids[i] = next++;
            }
        }

        return ids;
    }

    /// <summary>The lock as the indented JSON that <c>pastry schema --lock</c> writes (stable, so diffs stay small).</summary>
    public string ToJson() => JsonConvert.SerializeObject(this, Formatting.Indented, Settings) + "\n";

    /// <summary>The name, former names and validators of a registered field or method, as the lock records them.</summary>
    internal static IReadOnlyList<string> FormerNamesOf(MemberInfo member) =>
        member.GetCustomAttribute<RenamedFromAttribute>(inherit: true)?.FormerNames ?? Array.Empty<string>();

    /// <summary>
    /// A validator as the lock records it: its kind (the attribute name without "Attribute") and the values of its
    /// own public properties (Minimum, Maximum, Length, Pattern ...), which the compatibility check compares.
    /// </summary>
    internal static LockedValidator Describe(ValidationAttribute validator)
    {
        var type = validator.GetType();
        string kind = type.Name.EndsWith("Attribute", StringComparison.Ordinal) ? type.Name.Substring(0, type.Name.Length - "Attribute".Length) : type.Name;
        var arguments = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var t = type; t is not null && t != typeof(ValidationAttribute); t = t.BaseType)
        {
            foreach (var property in t.GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.DeclaredOnly))
            {
                if (property.GetIndexParameters().Length > 0 || property.Name == nameof(Attribute.TypeId) || arguments.ContainsKey(property.Name))
                {
                    continue;
                }

                object? value = property.GetValue(validator);
                string? text = value switch
                {
                    null => null,
                    string s => s,
                    Type typeValue => typeValue.Name,
                    IFormattable formattable when value.GetType().IsPrimitive || value is decimal || value.GetType().IsEnum => formattable.ToString(null, CultureInfo.InvariantCulture),
                    bool b => b ? "true" : "false",
                    _ => null,
                };
                if (text is not null)
                {
                    arguments[property.Name] = text;
                }
            }
        }

        return new LockedValidator { Kind = kind, Arguments = arguments.Count == 0 ? null : arguments };
    }
}

/// <summary>One locked version of the schema (an entry of <see cref="SchemaLock.History"/>).</summary>
public sealed class LockedVersion
{
    /// <summary>The version's schema hash.</summary>
    public string Hash { get; set; } = string.Empty;

    /// <summary>The version's classes.</summary>
    public List<LockedClass> Classes { get; set; } = new();
}

/// <summary>A class in the schema lock: its name and class id, its members with their wire ids, and the retired ids.</summary>
public sealed class LockedClass
{
    /// <summary>The model name.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The class id on the wire.</summary>
    public uint Id { get; set; }

    /// <summary>Whether the model was removed (its members are all retired).</summary>
    [DefaultValue(false)]
    [JsonProperty(DefaultValueHandling = DefaultValueHandling.Ignore)]
    public bool Removed { get; set; }

    /// <summary>The fields, by wire id.</summary>
    public List<LockedField> Fields { get; set; } = new();

    /// <summary>The <c>[Distributed]</c> methods, by wire id.</summary>
    public List<LockedMethod> Methods { get; set; } = new();

    /// <summary>Fields that were removed: their ids are never given again.</summary>
    public List<LockedMember>? RetiredFields { get; set; }

    /// <summary>Methods that were removed: their ids are never given again.</summary>
    public List<LockedMember>? RetiredMethods { get; set; }

    internal static LockedClass From(ModelInfo model, LockedClass? before)
    {
        var fieldIds = SchemaLock.AssignIds(before?.Fields, before?.RetiredFields, model.Fields.Select(f => (f.Name, SchemaLock.FormerNamesOf(f.Property))).ToList());
        var methodIds = SchemaLock.AssignIds(before?.Methods, before?.RetiredMethods, model.Methods.Select(m => (m.Name, SchemaLock.FormerNamesOf(m.Method))).ToList());
        var locked = new LockedClass { Name = model.Name, Id = model.ClassId };
        for (int i = 0; i < model.Fields.Count; i++)
        {
            var field = model.Fields[i];
            var formerly = before?.Fields.Find(f => f.Id == fieldIds[i]);
            locked.Fields.Add(new LockedField
            {
                Id = fieldIds[i],
                Name = field.Name,
                FormerNames = FormerNames(field.Name, formerly),
                Type = field.Codec.SchemaName,
                Keywords = ModelRegistry.KeywordNames(field.Keywords).ToList(),
                Validators = field.Validators.Count == 0 ? null : field.Validators.Select(SchemaLock.Describe).ToList(),
            });
        }

        for (int i = 0; i < model.Methods.Count; i++)
        {
            var method = model.Methods[i];
            var formerly = before?.Methods.Find(m => m.Id == methodIds[i]);
            locked.Methods.Add(new LockedMethod
            {
                Id = methodIds[i],
                Name = method.Name,
                FormerNames = FormerNames(method.Name, formerly),
                Keywords = ModelRegistry.KeywordNames(method.Keywords).ToList(),
                Parameters = method.Parameters.Select(p => new LockedParameter
                {
                    Name = p.Name,
                    Type = p.Codec.SchemaName,
                    Optional = p.IsOptional,
                    Validators = p.Validators.Count == 0 ? null : p.Validators.Select(SchemaLock.Describe).ToList(),
                }).ToList(),
            });
        }

        locked.Fields.Sort((a, b) => a.Id.CompareTo(b.Id));
        locked.Methods.Sort((a, b) => a.Id.CompareTo(b.Id));
        locked.RetiredFields = Retire(before?.RetiredFields, before?.Fields, fieldIds);
        locked.RetiredMethods = Retire(before?.RetiredMethods, before?.Methods, methodIds);
        return locked;
    }

    internal LockedClass AsRemoved() => new()
    {
        Name = Name,
        Id = Id,
        Removed = true,
        RetiredFields = Retire(RetiredFields, Fields, Array.Empty<int>()),
        RetiredMethods = Retire(RetiredMethods, Methods, Array.Empty<int>()),
    };

    internal LockedClass WithoutRetired() => new() { Name = Name, Id = Id, Fields = Fields, Methods = Methods };

    /// <summary>Checks that ids are unique and fit the wire's 16 bits.</summary>
    internal void Check(string source)
    {
        foreach (var (members, what) in new[] { (Fields.Cast<LockedMember>().Concat(RetiredFields ?? new()), "field"), (Methods.Cast<LockedMember>().Concat(RetiredMethods ?? new()), "method") })
        {
            var ids = new HashSet<int>();
            foreach (var member in members)
            {
                if (member.Id < 0 || member.Id > ushort.MaxValue || !ids.Add(member.Id))
                {
                    throw new SchemaLockException($"{source}: {Name} uses {what} id {member.Id} twice or out of range (0 to {ushort.MaxValue}); restore the file from version control or write it again with 'pastry schema --lock'.");
                }
            }
        }
    }

    private static List<string>? FormerNames(string name, LockedMember? before)
    {
        if (before is null)
        {
            return null;
        }

        var names = new List<string>(before.FormerNames ?? new());
        if (before.Name != name && !names.Contains(before.Name))
        {
            names.Insert(0, before.Name);
        }

        return names.Count == 0 ? null : names;
    }

    private static List<LockedMember>? Retire<T>(List<LockedMember>? retired, List<T>? live, int[] keptIds)
        where T : LockedMember
    {
        var all = new List<LockedMember>(retired ?? new());
        all.AddRange((live ?? new()).Where(m => Array.IndexOf(keptIds, m.Id) < 0).Select(m => new LockedMember { Id = m.Id, Name = m.Name }));
        all.Sort((a, b) => a.Id.CompareTo(b.Id));
        return all.Count == 0 ? null : all;
    }
}

/// <summary>A member of a locked class: its wire id and name (alone, a retired member).</summary>
public class LockedMember
{
    /// <summary>The wire id.</summary>
    [JsonProperty(Order = -3)]
    public int Id { get; set; }

    /// <summary>The member's name.</summary>
    [JsonProperty(Order = -2)]
    public string Name { get; set; } = string.Empty;

    /// <summary>The names it had before (<see cref="RenamedFromAttribute"/>), newest first.</summary>
    [JsonProperty(Order = -2)]
    public List<string>? FormerNames { get; set; }
}

/// <summary>A locked field: its id and name, type, keywords and validators.</summary>
public sealed class LockedField : LockedMember
{
    /// <summary>The field's schema type (<c>int32</c>, <c>string</c>, <c>float32[]</c> ...).</summary>
    public string Type { get; set; } = string.Empty;

    /// <summary>The field's keywords (<c>required</c>, <c>ram</c>, <c>db</c>, <c>broadcast</c>, <c>clsend</c>, <c>ownsend</c>, <c>ai</c>).</summary>
    public List<string> Keywords { get; set; } = new();

    /// <summary>The field's validators.</summary>
    public List<LockedValidator>? Validators { get; set; }
}

/// <summary>A locked <c>[Distributed]</c> method: its id and name, keywords and parameters.</summary>
public sealed class LockedMethod : LockedMember
{
    /// <summary>The method's keywords.</summary>
    public List<string> Keywords { get; set; } = new();

    /// <summary>The parameters, in order.</summary>
    public List<LockedParameter> Parameters { get; set; } = new();
}

/// <summary>A parameter of a locked method.</summary>
public sealed class LockedParameter
{
    /// <summary>The parameter's name.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The parameter's schema type.</summary>
    public string Type { get; set; } = string.Empty;

    /// <summary>Whether it has a default value (a call may end before it).</summary>
    [DefaultValue(false)]
    [JsonProperty(DefaultValueHandling = DefaultValueHandling.Ignore)]
    public bool Optional { get; set; }

    /// <summary>The parameter's validators.</summary>
    public List<LockedValidator>? Validators { get; set; }
}

/// <summary>A validator in the lock: its kind and its arguments (for example Range with Minimum 0 and Maximum 100).</summary>
public sealed class LockedValidator
{
    /// <summary>The attribute's name without "Attribute" (<c>Range</c>, <c>MaxLength</c> ...).</summary>
    public string Kind { get; set; } = string.Empty;

    /// <summary>The attribute's own public property values, as invariant text.</summary>
    public SortedDictionary<string, string>? Arguments { get; set; }

    /// <summary>The argument named <paramref name="name"/>, or null.</summary>
    public string? Argument(string name) => Arguments is not null && Arguments.TryGetValue(name, out var value) ? value : null;

    /// <inheritdoc />
    public override string ToString() =>
        Arguments is null ? Kind : $"{Kind}({string.Join(", ", Arguments.Select(a => a.Key + "=" + a.Value))})";
}

/// <summary>A schema lock that cannot be read or does not fit the models; the message says how to fix it.</summary>
public sealed class SchemaLockException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SchemaLockException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public SchemaLockException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
