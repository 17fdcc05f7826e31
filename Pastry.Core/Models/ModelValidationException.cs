namespace Pastry;

/// <summary>
/// Thrown when a value fails a field's clean method or validators, or when <see cref="DistributedObject.FullClean"/>
/// finds problems. It carries every message per field; the object is left unchanged.
/// </summary>
public sealed class ModelValidationException : Exception
{
    /// <summary>The key used for errors that belong to the whole object (from <c>Clean()</c>).</summary>
    public const string ObjectKey = "__all__";

    /// <summary>Creates the exception from field name to messages.</summary>
    public ModelValidationException(string modelName, IReadOnlyDictionary<string, IReadOnlyList<string>> errors)
        : base(BuildMessage(modelName, errors))
    {
        ModelName = modelName;
        Errors = errors;
    }

    /// <summary>Creates an exception for one field and one message.</summary>
    public ModelValidationException(string modelName, string field, string message)
        : this(modelName, new Dictionary<string, IReadOnlyList<string>> { [field] = new[] { message } })
    {
    }

    /// <summary>The model whose value was rejected.</summary>
    public string ModelName { get; }

    /// <summary>Field name (or <see cref="ObjectKey"/>) to the messages for it.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors { get; }

    private static string BuildMessage(string modelName, IReadOnlyDictionary<string, IReadOnlyList<string>> errors)
    {
        var parts = new List<string>();
        foreach (var pair in errors)
        {
            parts.Add($"{pair.Key}: {string.Join("; ", pair.Value)}");
        }

        return $"{modelName} is not valid: {string.Join(" | ", parts)}";
    }
}

/// <summary>
/// Thrown at registration when a model is declared wrongly (unsupported type, contradicting keywords,
/// a clean method with the wrong signature). The message says how to fix each problem.
/// </summary>
public sealed class ModelDeclarationException : Exception
{
    /// <summary>Creates the exception from a list of problems.</summary>
    public ModelDeclarationException(IReadOnlyList<string> problems)
        : base("Model declaration error" + (problems.Count > 1 ? "s" : string.Empty) + ":" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", problems))
    {
        Problems = problems;
    }

    /// <summary>Every problem found, one sentence each.</summary>
    public IReadOnlyList<string> Problems { get; }
}
