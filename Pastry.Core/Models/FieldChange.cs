namespace Pastry;

/// <summary>Where a change came from.</summary>
public enum ChangeOrigin
{
    /// <summary>Code in this process set the value.</summary>
    Local = 0,

    /// <summary>The value arrived from the network (the server, the AI or another client).</summary>
    Remote = 1,
}

/// <summary>One applied change of one field, as seen on <see cref="DistributedObject.Changes"/>.</summary>
/// <param name="Target">The object that changed.</param>
/// <param name="Field">The field that changed.</param>
/// <param name="OldValue">The value before the change.</param>
/// <param name="NewValue">The value after the change.</param>
/// <param name="Origin">Whether the change was made here or arrived from the network.</param>
public readonly record struct FieldChange(DistributedObject Target, FieldDescriptor Field, object? OldValue, object? NewValue, ChangeOrigin Origin)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Target.Model.Name}.{Field.Name}: {Field.FormatBoxed(OldValue)} -> {Field.FormatBoxed(NewValue)} ({Origin})";
}
