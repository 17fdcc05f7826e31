using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Pastry;

// The descriptor: lookups by name and wire id, the accessor table, the factory. ModelInfoBuilder reads the class by
// reflection and fills it through the internal Set* methods below, once, before anyone else sees it.
/// <summary>
/// Everything Pastry knows about one model class, found once by reflection and cached: its name, stable class id,
/// fields in declaration order and <c>[Distributed]</c> methods.
/// </summary>
public sealed class ModelInfo
{
    private static readonly ConcurrentDictionary<Type, ModelInfo> Cache = new();

    private readonly Dictionary<string, FieldDescriptor> fieldsByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MethodDescriptor> methodsByName = new(StringComparer.Ordinal);
    private FieldDescriptor[] fields = Array.Empty<FieldDescriptor>();
    private MethodDescriptor[] methods = Array.Empty<MethodDescriptor>();
    private ModelIndex[] indexes = Array.Empty<ModelIndex>();
    private Func<DistributedObject> factory = null!;

    // Wire id -> member, with null holes for retired ids: the one lookup every decoder does, an array index.
    private FieldDescriptor?[] fieldsByWireId = Array.Empty<FieldDescriptor?>();
    private MethodDescriptor?[] methodsByWireId = Array.Empty<MethodDescriptor?>();

    // Open-addressing table keyed by the identity of interned field names, for the property accessors (see GetField<TValue>).
    private string?[] accessorNames = new string?[1];
    private FieldDescriptor[] accessorFields = new FieldDescriptor[1];

    internal ModelInfo(Type type)
    {
        ClrType = type;
        Name = type.Name;
        ClassId = StableClassId(type.Name);
    }

    /// <summary>The model's name: its class name. Class names of models must be unique.</summary>
    public string Name { get; }

    /// <summary>The model's CLR type.</summary>
    public Type ClrType { get; }

    /// <summary>
    /// The class id on the wire: a 32-bit FNV-1a hash of <see cref="Name"/>, so it is the same in every process and
    /// does not move when other models are added. The registry rejects the (unlikely) collision.
    /// </summary>
    public uint ClassId { get; }

    /// <summary>The fields, in declaration order (base class first). A field's position is its index.</summary>
    public IReadOnlyList<FieldDescriptor> Fields => fields;

    /// <summary>The <c>[Distributed]</c> methods, in declaration order.</summary>
    public IReadOnlyList<MethodDescriptor> Methods => methods;

    /// <summary>
    /// The database indexes and unique constraints (<see cref="UniqueAttribute"/>, <see cref="IndexedAttribute"/>,
    /// <see cref="UniqueTogetherAttribute"/>, <see cref="IndexTogetherAttribute"/>), single-field ones first in field order.
    /// </summary>
    public IReadOnlyList<ModelIndex> Indexes => indexes;

    /// <summary>Whether any field is persisted (<c>[Db]</c>).</summary>
    public bool HasDbFields { get; private set; }

    /// <summary>The model info of <paramref name="type"/>, built on first use and cached.</summary>
    /// <exception cref="ModelDeclarationException">The model is declared wrongly; the message says how to fix it.</exception>
    public static ModelInfo For(Type type)
    {
        if (Cache.TryGetValue(type, out var info))
        {
            return info;
        }

        var problems = new List<string>();
        var built = ModelInfoBuilder.Build(type, problems);
        if (problems.Count > 0 || built is null)
        {
            throw new ModelDeclarationException(problems);
        }

        return Cache.GetOrAdd(type, built);
    }

    /// <summary>The model info of <typeparamref name="T"/>.</summary>
    public static ModelInfo For<T>()
        where T : DistributedObject<T> => For(typeof(T));

    /// <summary>The field named <paramref name="name"/>.</summary>
    public FieldDescriptor GetField(string name) =>
        fieldsByName.TryGetValue(name, out var field)
            ? field
            : throw new KeyNotFoundException($"{Name} has no field named '{name}'. Fields: {string.Join(", ", fields.Select(f => f.Name))}.");

    /// <summary>Finds the field named <paramref name="name"/>.</summary>
    public bool TryGetField(string name, out FieldDescriptor field) => fieldsByName.TryGetValue(name, out field!);

    /// <summary>The field whose wire id is <paramref name="wireId"/>, or null (an id this build does not know, or a retired one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FieldDescriptor? FindFieldByWireId(int wireId)
    {
        var byId = fieldsByWireId;
        return (uint)wireId < (uint)byId.Length ? byId[wireId] : null;
    }

    /// <summary>The method whose wire id is <paramref name="wireId"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MethodDescriptor? FindMethodByWireId(int wireId)
    {
        var byId = methodsByWireId;
        return (uint)wireId < (uint)byId.Length ? byId[wireId] : null;
    }

    /// <summary>Whether the wire ids come from a schema lock embedded in the model's assembly (else they are the declaration order).</summary>
    public bool HasLockedIds { get; private set; }

    /// <summary>The method named <paramref name="name"/>.</summary>
    public MethodDescriptor GetMethod(string name) =>
        methodsByName.TryGetValue(name, out var method)
            ? method
            : throw new KeyNotFoundException($"{Name} has no [Distributed] method named '{name}'.");

    /// <summary>
    /// Whether values of <paramref name="field"/> compare without regard to letter case in the database: a string field
    /// with <c>[Unique(IgnoreCase = true)]</c>. Equality filters on it ignore case too, so they find what the
    /// constraint would refuse.
    /// </summary>
    public bool IgnoresCase(FieldDescriptor field) =>
        Array.Exists(indexes, i => i.Fields.Count == 1 && i.Fields[0] == field && i.IgnoresCaseOf(field));

    /// <summary>Creates a new standalone instance with every field at its default.</summary>
    public DistributedObject CreateInstance() => factory();

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>The typed field named <paramref name="name"/>; used by the property accessors.</summary>
    /// <remarks>
    /// The accessors pass their own name as a <c>[CallerMemberName]</c> literal, which the runtime interns, so the
    /// field is found by the string's identity without hashing its characters. Any other string (same text, another
    /// instance) misses and falls back to the dictionary, with the same result.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal FieldDescriptor<TValue> GetField<TValue>(string name)
    {
        var names = accessorNames;
        int mask = names.Length - 1;
        int slot = RuntimeHelpers.GetHashCode(name) & mask;
        while (true)
        {
            var candidate = names[slot];
            if (ReferenceEquals(candidate, name))
            {
                if (accessorFields[slot] is FieldDescriptor<TValue> typed)
                {
                    return typed;
                }

                break;
            }

            if (candidate is null)
            {
                break;
            }

            slot = (slot + 1) & mask;
        }

        return GetFieldByText<TValue>(name);
    }

    internal FieldSlot[] CreateSlots()
    {
        var slots = new FieldSlot[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            slots[i] = fields[i].CreateSlot();
        }

        return slots;
    }

    /// <summary>Takes the fields and methods the builder found: name lookups, the accessor table and the wire ids.</summary>
    internal void SetMembers(FieldDescriptor[] builtFields, MethodDescriptor[] builtMethods, List<string> problems)
    {
        fields = builtFields;
        methods = builtMethods;
        foreach (var field in fields)
        {
            fieldsByName[field.Name] = field;
        }

        foreach (var method in methods)
        {
            methodsByName[method.Name] = method;
        }

        BuildAccessorTable();
        ApplyWireIds(ClrType, problems);
    }

    /// <summary>Takes the indexes the builder found; a field in a unique one is marked unique.</summary>
    internal void SetIndexes(ModelIndex[] builtIndexes)
    {
        indexes = builtIndexes;
        foreach (var index in indexes)
        {
            foreach (var field in index.Fields)
            {
                field.IsUnique |= index.IsUnique;
            }
        }
    }

    /// <summary>The last step of a build without problems: how instances are made.</summary>
    internal void SetFactory(Func<DistributedObject> create)
    {
        HasDbFields = fields.Any(f => f.IsDb);
        factory = create;
    }

    internal static uint StableClassId(string name)
    {
        uint hash = 2166136261;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 16777619;
        }

        return hash;
    }

    /// <summary>
    /// Gives each field and method its wire id from the schema lock embedded in <paramref name="type"/>'s assembly
    /// (see <see cref="SchemaLock.AssignIds"/>), or its declaration index without a lock, and builds the id tables.
    /// </summary>
    private void ApplyWireIds(Type type, List<string> problems)
    {
        SchemaLock? schemaLock;
        try
        {
            schemaLock = SchemaLock.ForAssembly(type.Assembly);
        }
        catch (SchemaLockException ex)
        {
            problems.Add(ex.Message);
            return;
        }

        var locked = schemaLock?.Find(Name);
        if (locked is not null)
        {
            HasLockedIds = true;
            var fieldIds = SchemaLock.AssignIds(locked.Fields, locked.RetiredFields, fields.Select(f => (f.Name, SchemaLock.FormerNamesOf(f.Property))).ToList());
            var methodIds = SchemaLock.AssignIds(locked.Methods, locked.RetiredMethods, methods.Select(m => (m.Name, SchemaLock.FormerNamesOf(m.Method))).ToList());
            if (fieldIds.Concat(methodIds).Any(id => id > ushort.MaxValue))
            {
                problems.Add($"{Name}: the schema lock has used up the {ushort.MaxValue + 1} wire ids of a class.");
                return;
            }

            for (int i = 0; i < fields.Length; i++)
            {
                fields[i].WireId = (ushort)fieldIds[i];
            }

            for (int i = 0; i < methods.Length; i++)
            {
                methods[i].WireId = (ushort)methodIds[i];
            }
        }

        fieldsByWireId = new FieldDescriptor?[fields.Length == 0 ? 0 : fields.Max(f => f.WireId) + 1];
        foreach (var field in fields)
        {
            fieldsByWireId[field.WireId] = field;
        }

        methodsByWireId = new MethodDescriptor?[methods.Length == 0 ? 0 : methods.Max(m => m.WireId) + 1];
        foreach (var method in methods)
        {
            methodsByWireId[method.WireId] = method;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private FieldDescriptor<TValue> GetFieldByText<TValue>(string name)
    {
        if (fieldsByName.TryGetValue(name, out var field) && field is FieldDescriptor<TValue> typed)
        {
            return typed;
        }

        throw WrongAccess(name, typeof(TValue));
    }

    /// <summary>Fills the identity table of <see cref="GetField{TValue}"/>: a power of two at least twice the field count, so a probe always meets an empty slot.</summary>
    private void BuildAccessorTable()
    {
        int size = 4;
        while (size < fields.Length * 2)
        {
            size <<= 1;
        }

        var names = new string?[size];
        var byName = new FieldDescriptor[size];
        foreach (var field in fields)
        {
            string interned = string.Intern(field.Name);
            int slot = RuntimeHelpers.GetHashCode(interned) & (size - 1);
            while (names[slot] is not null)
            {
                slot = (slot + 1) & (size - 1);
            }

            names[slot] = interned;
            byName[slot] = field;
        }

        accessorNames = names;
        accessorFields = byName;
    }

    private Exception WrongAccess(string name, Type requested)
    {
        if (fieldsByName.TryGetValue(name, out var field))
        {
            return new InvalidOperationException($"{Name}.{name} is a {field.ClrType.Name} field, but it was accessed as {requested.Name}. Use Get<{field.ClrType.Name}>() / Set(value) with the property's own type.");
        }

        return new InvalidOperationException($"{Name}.{name} is not a field. Get<T>() and Set(value) may only be called from the getter and setter of a public read-write property of the model (not marked [NotDistributed]).");
    }
}
