namespace Pastry;

/// <summary>Typed storage of one field of one object, so that values are never boxed.</summary>
internal abstract class FieldSlot
{
    public bool Assigned;
}

/// <summary>The slot of a field of type <typeparamref name="TValue"/>.</summary>
internal sealed class FieldSlot<TValue> : FieldSlot
{
    public TValue Value = default!;
}
