namespace Pastry;

/// <summary>
/// How a repository (AI or client) attaches to its objects: it may refuse a local set for the role's rules, and it
/// sends what was applied. Standalone objects have no binding, so they behave as plain in-memory objects.
/// </summary>
internal interface IObjectBinding
{
    /// <summary>Throws when this role may not set <paramref name="field"/> (for example a client setting an Ai field).</summary>
    void CheckLocalSet(DistributedObject target, FieldDescriptor field);

    /// <summary>Called under the object's lock after a local set was applied; sends it.</summary>
    void OnLocalSet(DistributedObject target, FieldDescriptor field);
}
