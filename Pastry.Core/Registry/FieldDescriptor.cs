using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Runtime.CompilerServices;
using Pastry.Wire;

namespace Pastry;

/// <summary>
/// One field of a model, discovered once by <see cref="ModelInfo"/>: its name, index, type, keywords, validators and
/// clean method, with typed accessors that neither reflect nor box.
/// </summary>
public abstract class FieldDescriptor
{
    private protected FieldDescriptor(ModelInfo model, PropertyInfo property, int index, FieldKeywords keywords, IReadOnlyList<ValidationAttribute> validators, MethodInfo? cleanMethod)
    {
        Model = model;
        Property = property;
        Name = property.Name;
        Index = index;
        WireId = (ushort)index;
        Keywords = keywords;
        Validators = validators;
        CleanMethod = cleanMethod;
    }

    /// <summary>The model the field belongs to.</summary>
    public ModelInfo Model { get; }

    /// <summary>The property that declares the field.</summary>
    public PropertyInfo Property { get; }

    /// <summary>The field's name (the property name).</summary>
    public string Name { get; }

    /// <summary>The field's position in <see cref="ModelInfo.Fields"/> (declaration order); it addresses the field's slot in an object, never the wire.</summary>
    public int Index { get; }

    /// <summary>
    /// The field's id on the wire and in internal messages: fields travel as (class id, wire id). It comes from the
    /// schema lock embedded in the model's assembly (<c>pastry.schema.lock</c>), so inserting, reordering or removing
    /// other fields never changes it; without a lock it is <see cref="Index"/>.
    /// </summary>
    public ushort WireId { get; internal set; }

    /// <summary>The field's CLR type.</summary>
    public Type ClrType => Codec.ClrType;

    /// <summary>The field's keywords.</summary>
    public FieldKeywords Keywords { get; }

    /// <summary>The field's DataAnnotations validators, in declaration order.</summary>
    public IReadOnlyList<ValidationAttribute> Validators { get; }

    /// <summary>The <c>Clean{Field}</c> method, if the model has one.</summary>
    public MethodInfo? CleanMethod { get; }

    /// <summary>The codec of the field's type.</summary>
    internal abstract ValueCodec Codec { get; }

    /// <summary><c>[Required]</c>.</summary>
    public bool IsRequired => (Keywords & FieldKeywords.Required) != 0;

    /// <summary><c>[Ram]</c>.</summary>
    public bool IsRam => (Keywords & FieldKeywords.Ram) != 0;

    /// <summary><c>[Db]</c>.</summary>
    public bool IsDb => (Keywords & FieldKeywords.Db) != 0;

    /// <summary><c>[Broadcast]</c>.</summary>
    public bool IsBroadcast => (Keywords & FieldKeywords.Broadcast) != 0;

    /// <summary><c>[ClSend]</c>.</summary>
    public bool IsClSend => (Keywords & FieldKeywords.ClSend) != 0;

    /// <summary><c>[OwnSend]</c>.</summary>
    public bool IsOwnSend => (Keywords & FieldKeywords.OwnSend) != 0;

    /// <summary><c>[Ai]</c>.</summary>
    public bool IsAi => (Keywords & FieldKeywords.Ai) != 0;

    /// <summary>Whether the State Server stores it (Required or Ram); other fields are only relayed.</summary>
    public bool IsStored => (Keywords & (FieldKeywords.Required | FieldKeywords.Ram)) != 0;

    /// <summary>
    /// Whether the field is part of a unique constraint (<c>[Unique]</c> or <c>[UniqueTogether]</c>), so that the
    /// database may refuse a write of it; an AI writes such a field with an acknowledged write, not a write-through.
    /// </summary>
    public bool IsUnique { get; internal set; }

    /// <summary>Reads the value, boxed (tools and logs; hot paths use the typed accessors).</summary>
    public abstract object? GetBoxed(DistributedObject target);

    /// <summary>Cleans, validates and applies a boxed value, as the property setter does.</summary>
    public abstract void SetBoxed(DistributedObject target, object? value);

    /// <summary>Encodes the current value of the field of <paramref name="target"/>.</summary>
    public abstract void Encode(DistributedObject target, IBufferWriter<byte> writer);

    /// <summary>Prints a boxed value of this field's type (byte arrays as hex).</summary>
    public string FormatBoxed(object? value) => Codec.FormatBoxed(value);

    /// <inheritdoc />
    public override string ToString() => $"{Model.Name}.{Name}";

    /// <summary>
    /// Decodes one value and applies it. With <paramref name="validate"/>, a value that fails clean or the validators
    /// throws <see cref="ModelValidationException"/> and nothing changes.
    /// </summary>
    internal abstract void DecodeAndApply(DistributedObject target, ref WireReader reader, ChangeOrigin origin, bool validate);

    /// <summary>
    /// Decodes one value, runs clean and the validators on it, and writes the cleaned value to
    /// <paramref name="cleaned"/>. Returns the problems, or null when the value is valid. <paramref name="context"/>
    /// is the instance whose clean method runs (on the OTP, a scratch instance).
    /// </summary>
    internal abstract IReadOnlyList<string>? DecodeAndValidate(ref WireReader reader, DistributedObject context, IBufferWriter<byte>? cleaned);

    /// <summary>Runs the validators on the current value; returns the problems or null.</summary>
    internal abstract IReadOnlyList<string>? ValidateCurrent(DistributedObject target);

    /// <summary>Creates an empty slot for one object.</summary>
    internal abstract FieldSlot CreateSlot();

    /// <summary>
    /// Stores a value that needs no check (it came from the database, which checked it) and publishes the change;
    /// returns false when the value did not change. Call it under the object's lock.
    /// </summary>
    internal abstract bool ApplyChecked(DistributedObject target, object? value, ChangeOrigin origin);

    /// <summary>Builds the typed descriptor for <paramref name="property"/>.</summary>
    internal static FieldDescriptor Create(ModelInfo model, PropertyInfo property, int index, FieldKeywords keywords, IReadOnlyList<ValidationAttribute> validators, MethodInfo? cleanMethod, ValueCodec codec)
    {
        var type = typeof(FieldDescriptor<>).MakeGenericType(property.PropertyType);
        return (FieldDescriptor)Activator.CreateInstance(
            type,
            BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public,
            binder: null,
            args: new object?[] { model, property, index, keywords, validators, cleanMethod, codec },
            culture: null)!;
    }
}

/// <summary>A field of type <typeparamref name="TValue"/>, with typed accessors.</summary>
/// <typeparam name="TValue">The field's CLR type.</typeparam>
public sealed class FieldDescriptor<TValue> : FieldDescriptor
{
    private readonly ValueCodec<TValue> codec;
    private readonly Func<DistributedObject, TValue, TValue>? clean;
    private readonly FieldValidator<TValue>[] validators;
    private readonly bool lockedRead;

    internal FieldDescriptor(ModelInfo model, PropertyInfo property, int index, FieldKeywords keywords, IReadOnlyList<ValidationAttribute> validators, MethodInfo? cleanMethod, ValueCodec codec)
        : base(model, property, index, keywords, validators, cleanMethod)
    {
        this.codec = (ValueCodec<TValue>)codec;
        clean = cleanMethod is null ? null : CompiledAccessors.Clean<TValue>(model.ClrType, cleanMethod);
        this.validators = validators.Select(v => FieldValidator<TValue>.Create(v, property.Name)).ToArray();

        // Values wider than 8 bytes could be read torn while another thread writes them.
        lockedRead = typeof(TValue) == typeof(DoId);
    }

    /// <inheritdoc />
    internal override ValueCodec Codec => codec;

    /// <summary>The typed codec.</summary>
    internal ValueCodec<TValue> TypedCodec => codec;

    /// <summary>Reads the value of the field of <paramref name="target"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TValue GetValue(DistributedObject target)
    {
        var slot = (FieldSlot<TValue>)target.Slots[Index];
        if (!lockedRead)
        {
            return slot.Value;
        }

        lock (target.Sync)
        {
            return slot.Value;
        }
    }

    /// <summary>
    /// Normalises, cleans and validates <paramref name="value"/>, then applies it (origin: local). Throws
    /// <see cref="ModelValidationException"/> on failure, leaving the value unchanged.
    /// </summary>
    public void SetValue(DistributedObject target, TValue value)
    {
        target.EnsureUsable();
        target.Binding?.CheckLocalSet(target, this);
        lock (target.Sync)
        {
            var problems = Check(target, ref value);
            if (problems is not null)
            {
                throw new ModelValidationException(Model.Name, new Dictionary<string, IReadOnlyList<string>> { [Name] = problems });
            }

            if (Apply(target, value, ChangeOrigin.Local))
            {
                target.Binding?.OnLocalSet(target, this);
            }
        }
    }

    /// <summary>
    /// Normalises, cleans and validates <paramref name="value"/> as a set on <paramref name="target"/> would, without
    /// applying it; returns the cleaned value.
    /// </summary>
    /// <exception cref="ModelValidationException">The value fails.</exception>
    internal TValue Checked(DistributedObject target, TValue value)
    {
        var problems = Check(target, ref value);
        return problems is null ? value : throw new ModelValidationException(Model.Name, new Dictionary<string, IReadOnlyList<string>> { [Name] = problems });
    }

    /// <inheritdoc />
    public override object? GetBoxed(DistributedObject target) => GetValue(target);

    /// <inheritdoc />
    public override void SetBoxed(DistributedObject target, object? value)
    {
        if (value is not null && value is not TValue)
        {
            throw new ArgumentException($"{Model.Name}.{Name} is of type {ClrType.Name}; got a {value.GetType().Name}.", nameof(value));
        }

        SetValue(target, value is null ? default! : (TValue)value);
    }

    /// <inheritdoc />
    public override void Encode(DistributedObject target, IBufferWriter<byte> writer) => codec.Write(writer, GetValue(target));

    /// <inheritdoc />
    internal override void DecodeAndApply(DistributedObject target, ref WireReader reader, ChangeOrigin origin, bool validate)
    {
        var value = codec.Read(ref reader);
        lock (target.Sync)
        {
            if (validate)
            {
                var problems = Check(target, ref value);
                if (problems is not null)
                {
                    throw new ModelValidationException(Model.Name, new Dictionary<string, IReadOnlyList<string>> { [Name] = problems });
                }
            }

            Apply(target, value, origin);
        }
    }

    /// <inheritdoc />
    internal override IReadOnlyList<string>? DecodeAndValidate(ref WireReader reader, DistributedObject context, IBufferWriter<byte>? cleaned)
    {
        var value = codec.Read(ref reader);
        var problems = Check(context, ref value);
        if (problems is null && cleaned is not null)
        {
            codec.Write(cleaned, value);
        }

        return problems;
    }

    /// <inheritdoc />
    internal override IReadOnlyList<string>? ValidateCurrent(DistributedObject target)
    {
        var value = GetValue(target);
        return RunValidators(target, value);
    }

    /// <inheritdoc />
    internal override FieldSlot CreateSlot() => new FieldSlot<TValue> { Value = codec.Default };

    /// <inheritdoc />
    internal override bool ApplyChecked(DistributedObject target, object? value, ChangeOrigin origin) =>
        Apply(target, value is TValue typed ? typed : codec.Default, origin);

    /// <summary>Stores a checked value and publishes the change; returns false when the value did not change.</summary>
    internal bool Apply(DistributedObject target, TValue value, ChangeOrigin origin)
    {
        var slot = (FieldSlot<TValue>)target.Slots[Index];
        if (slot.Assigned && codec.ValueEquals(slot.Value, value))
        {
            return false;
        }

        var old = slot.Value;
        slot.Value = value;
        slot.Assigned = true;
        target.Publish(this, old, value, origin);
        return true;
    }

    /// <summary>Normalise, then clean, then validate (ARCHITECTURE 2). Returns the problems or null; may replace the value.</summary>
    private List<string>? Check(DistributedObject target, ref TValue value)
    {
        string? normalizeError = codec.Normalize(ref value);
        if (normalizeError is not null)
        {
            return new List<string> { normalizeError };
        }

        if (clean is not null)
        {
            try
            {
                value = clean(target, value);
            }
            catch (ValidationException ex)
            {
                return new List<string> { ex.ValidationResult?.ErrorMessage ?? ex.Message };
            }
            catch (ArgumentException ex)
            {
                return new List<string> { ex.Message };
            }
            catch (ModelValidationException ex)
            {
                return ex.Errors.SelectMany(e => e.Value).ToList();
            }

            normalizeError = codec.Normalize(ref value);
            if (normalizeError is not null)
            {
                return new List<string> { normalizeError };
            }
        }

        return RunValidators(target, value);
    }

    private List<string>? RunValidators(DistributedObject target, TValue value)
    {
        List<string>? problems = null;
        for (int i = 0; i < validators.Length; i++)
        {
            string? message = validators[i].Validate(target, value);
            if (message is not null)
            {
                (problems ??= new List<string>()).Add(message);
            }
        }

        return problems;
    }
}
