namespace Pastry;

/// <summary>
/// No two stored objects of the model may hold the same value of this <c>[Db]</c> field (Django's <c>unique=True</c>).
/// The database enforces it, so two AIs racing for one value cannot both win: the loser's create or write fails with
/// a unique violation naming the field.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class UniqueAttribute : Attribute
{
    /// <summary>
    /// For a string field: values that differ only in letter case count as the same ("Ann" takes "ANN"), and equality
    /// filters on the field ignore case too. Case is folded with .NET's ordinal ignore-case rules (all of Unicode's
    /// simple case mappings, not only ASCII).
    /// </summary>
    public bool IgnoreCase { get; set; }
}

/// <summary>The database keeps an index on this <c>[Db]</c> field, so filters and orderings on it do not scan the table (Django's <c>db_index=True</c>).</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class IndexedAttribute : Attribute
{
}

/// <summary>
/// No two stored objects of the model may hold the same combination of values of these <c>[Db]</c> fields (Django's
/// <c>unique_together</c>), for example <c>[UniqueTogether(nameof(Account), nameof(Slot))]</c>. The index also serves
/// filters on its first fields.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = true)]
public sealed class UniqueTogetherAttribute : Attribute
{
    /// <summary>Declares the combination.</summary>
    /// <param name="fields">The field names, in index order (use <c>nameof</c>).</param>
    public UniqueTogetherAttribute(params string[] fields)
    {
        Fields = fields ?? Array.Empty<string>();
    }

    /// <summary>The field names, in index order.</summary>
    public IReadOnlyList<string> Fields { get; }

    /// <summary>String fields of the combination compare without regard to letter case (see <see cref="UniqueAttribute.IgnoreCase"/>).</summary>
    public bool IgnoreCase { get; set; }
}

/// <summary>
/// The database keeps one index over these <c>[Db]</c> fields, in this order, for filters on the first ones and an
/// ordering by the rest (for example <c>[IndexTogether(nameof(Account), nameof(Slot))]</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = true)]
public sealed class IndexTogetherAttribute : Attribute
{
    /// <summary>Declares the index.</summary>
    /// <param name="fields">The field names, in index order (use <c>nameof</c>).</param>
    public IndexTogetherAttribute(params string[] fields)
    {
        Fields = fields ?? Array.Empty<string>();
    }

    /// <summary>The field names, in index order.</summary>
    public IReadOnlyList<string> Fields { get; }
}

/// <summary>
/// One index of a model, from <see cref="UniqueAttribute"/>, <see cref="IndexedAttribute"/>,
/// <see cref="UniqueTogetherAttribute"/> or <see cref="IndexTogetherAttribute"/>. It is part of the schema and its hash.
/// </summary>
public sealed class ModelIndex
{
    internal ModelIndex(ModelInfo model, IReadOnlyList<FieldDescriptor> fields, bool isUnique, bool ignoreCase)
    {
        Model = model;
        Fields = fields;
        IsUnique = isUnique;
        IgnoreCase = ignoreCase;
        Name = (isUnique ? "ux__" : "ix__") + model.Name + "__" + string.Join("__", fields.Select(f => f.Name)) + (ignoreCase ? "__ci" : string.Empty);
    }

    /// <summary>The model.</summary>
    public ModelInfo Model { get; }

    /// <summary>The fields, in index order.</summary>
    public IReadOnlyList<FieldDescriptor> Fields { get; }

    /// <summary>Whether it is a unique constraint.</summary>
    public bool IsUnique { get; }

    /// <summary>Whether its string fields compare without regard to letter case.</summary>
    public bool IgnoreCase { get; }

    /// <summary>Its name in the database: <c>ux__Model__Field[__Field]</c> or <c>ix__...</c>, with <c>__ci</c> when it ignores case.</summary>
    public string Name { get; }

    /// <summary>Whether <paramref name="field"/> compares without regard to case in this index.</summary>
    public bool IgnoresCaseOf(FieldDescriptor field) => IgnoreCase && field.ClrType == typeof(string);

    /// <inheritdoc />
    public override string ToString() =>
        $"{(IsUnique ? "unique" : "index")}{(IgnoreCase ? " ignore-case" : string.Empty)} {Model.Name}({string.Join(", ", Fields.Select(f => f.Name))})";
}
