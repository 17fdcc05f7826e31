namespace Pastry;

/// <summary>
/// Says that a field or <c>[Distributed]</c> method was called <paramref name="formerNames"/> before, so that the schema
/// lock (<c>pastry.schema.lock</c>) keeps its wire id and <c>pastry migrate</c> renames its column instead of dropping
/// it and adding a new one. Keep the attribute until every database and every lock has seen the new name.
/// </summary>
/// <param name="formerNames">The names the member had before, newest first.</param>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class RenamedFromAttribute(params string[] formerNames) : Attribute
{
    /// <summary>The names the member had before, newest first.</summary>
    public IReadOnlyList<string> FormerNames { get; } = formerNames ?? Array.Empty<string>();
}
