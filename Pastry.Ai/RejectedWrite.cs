namespace Pastry.Ai;

/// <summary>
/// A write of a live object's field that the database refused (see <see cref="AiRepository.RejectedWrites"/>): for a
/// <c>[Unique]</c> field, a value another stored object holds.
/// </summary>
/// <param name="Target">The object.</param>
/// <param name="Field">The field that was set.</param>
/// <param name="RefusedValue">The value the game set, which was not stored.</param>
/// <param name="StoredValue">The value the object is back on: the database's (the object's current value when a later set of the field is still in flight).</param>
/// <param name="Error">Why: a <see cref="UniqueViolationException"/> naming the field(s) for a taken value, otherwise the database's refusal.</param>
public sealed record RejectedWrite(DistributedObject Target, FieldDescriptor Field, object? RefusedValue, object? StoredValue, DatabaseRequestException Error);
