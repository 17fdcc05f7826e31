using System.ComponentModel.DataAnnotations;
using System.Linq.Expressions;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using System.Runtime.CompilerServices;
using System.Text;

namespace Pastry;

/// <summary>
/// The non-generic base of every model: identity, owner, location, typed field storage and the change stream.
/// Game code derives from <see cref="DistributedObject{T}"/> instead.
/// </summary>
/// <remarks>
/// Concurrency: every set of one object (local or from the network) runs under that object's lock, so sets of the
/// same object from several threads are applied one at a time, last writer wins, and <see cref="Changes"/> reports
/// them in the order they were applied. Sets of different objects never contend. Reads take no lock; each field read
/// is atomic (DoId fields are read under the lock because they are 16 bytes).
/// </remarks>
public abstract class DistributedObject
{
    private readonly FieldSlot[] slots;
    private Subject<FieldChange>? changes;
    private volatile ObjectState state;
    private DoId doId;

    private protected DistributedObject(ModelInfo model)
    {
        Model = model;
        slots = model.CreateSlots();
        doId = DoId.NewId();
    }

    /// <summary>The model (class) this object is an instance of.</summary>
    public ModelInfo Model { get; }

    /// <summary>
    /// The object's id. A new object gets a fresh time-ordered id; assign another before the object is created on
    /// the server to give it a well-known id (a world root, say). Once the object is live the id cannot change.
    /// </summary>
    public DoId DoId
    {
        get => doId;
        set
        {
            if (state != ObjectState.Standalone)
            {
                throw new InvalidOperationException($"{Model.Name} {doId} is already {state.ToString().ToLowerInvariant()}; its DoId can only be set before it is created.");
            }

            doId = value;
        }
    }

    /// <summary>Who owns the object: <see cref="DoId.Empty"/> means the AI that created it (the default).</summary>
    public DoId Owner { get; internal set; }

    /// <summary>The parent object of the object's location (<see cref="DoId.Empty"/> for the root).</summary>
    public DoId Parent { get; internal set; }

    /// <summary>The zone of the object's location under <see cref="Parent"/>.</summary>
    public uint Zone { get; internal set; }

    /// <summary>Whether the object is standalone, live, disabled or deleted in this process.</summary>
    public ObjectState State => state;

    /// <summary>Every applied change of every field, in the order applied. Completes when the object is disabled or deleted.</summary>
    public IObservable<FieldChange> Changes
    {
        get
        {
            lock (slots)
            {
                if (state >= ObjectState.Disabled)
                {
                    return Observable.Empty<FieldChange>();
                }

                return changes ??= new Subject<FieldChange>();
            }
        }
    }

    internal IObjectBinding? Binding { get; set; }

    internal object Sync => slots;

    internal FieldSlot[] Slots => slots;

    /// <summary>
    /// Checks the whole object, as Django's <c>full_clean</c> does: Required fields that were never assigned, every
    /// field's validators on its current value, and <see cref="Clean"/>. Throws one
    /// <see cref="ModelValidationException"/> that lists every problem.
    /// </summary>
    public void FullClean()
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        lock (slots)
        {
            foreach (var field in Model.Fields)
            {
                if (field.IsRequired && !slots[field.Index].Assigned)
                {
                    Add(errors, field.Name, "This field is required.");
                    continue;
                }

                var problems = field.ValidateCurrent(this);
                if (problems is not null)
                {
                    foreach (var problem in problems)
                    {
                        Add(errors, field.Name, problem);
                    }
                }
            }

            try
            {
                Clean();
            }
            catch (ModelValidationException ex)
            {
                foreach (var pair in ex.Errors)
                {
                    foreach (var message in pair.Value)
                    {
                        Add(errors, pair.Key, message);
                    }
                }
            }
            catch (ValidationException ex)
            {
                var members = ex.ValidationResult?.MemberNames?.ToList();
                string message = ex.ValidationResult?.ErrorMessage ?? ex.Message;
                if (members is null || members.Count == 0)
                {
                    Add(errors, ModelValidationException.ObjectKey, message);
                }
                else
                {
                    foreach (var member in members)
                    {
                        Add(errors, member, message);
                    }
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new ModelValidationException(Model.Name, errors.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal));
        }

        static void Add(Dictionary<string, List<string>> errors, string key, string message)
        {
            if (!errors.TryGetValue(key, out var list))
            {
                errors[key] = list = new List<string>();
            }

            list.Add(message);
        }
    }

    /// <summary>Whether <paramref name="field"/> was ever given a value.</summary>
    public bool IsAssigned(FieldDescriptor field) => slots[field.Index].Assigned;

    /// <summary>Prints the object and its fields for logs; byte arrays print as hex.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(Model.Name).Append('(').Append(DoId).Append(") {");
        for (int i = 0; i < Model.Fields.Count; i++)
        {
            var field = Model.Fields[i];
            text.Append(i == 0 ? " " : ", ").Append(field.Name).Append('=').Append(field.FormatBoxed(field.GetBoxed(this)));
        }

        return text.Append(" }").ToString();
    }

    /// <summary>
    /// Object-level validation, run by <see cref="FullClean"/> after the field checks. Override it to check rules
    /// that involve several fields; throw <see cref="ModelValidationException"/> or DataAnnotations'
    /// <see cref="ValidationException"/> to reject.
    /// </summary>
    protected virtual void Clean()
    {
    }

    /// <summary>Throws when the object may no longer be touched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void EnsureUsable()
    {
        var current = state;
        if (current >= ObjectState.Disabled)
        {
            ThrowStale(current);
        }
    }

    /// <summary>Publishes one applied change; call under <see cref="Sync"/>. Boxes only when someone listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Publish<TValue>(FieldDescriptor field, TValue oldValue, TValue newValue, ChangeOrigin origin)
    {
        var subject = changes;
        if (subject is not null && subject.HasObservers)
        {
            subject.OnNext(new FieldChange(this, field, oldValue, newValue, origin));
        }
    }

    /// <summary>Moves the object to <paramref name="next"/> (live, disabled or deleted) and completes its streams when it ends.</summary>
    internal void SetState(ObjectState next)
    {
        Subject<FieldChange>? toComplete = null;
        lock (slots)
        {
            state = next;
            if (next >= ObjectState.Disabled)
            {
                toComplete = changes;
                changes = null;
            }
        }

        if (toComplete is not null)
        {
            toComplete.OnCompleted();
            toComplete.Dispose();
        }
    }

    private void ThrowStale(ObjectState current)
    {
        if (current == ObjectState.Deleted)
        {
            throw new ObjectDeletedException(this);
        }

        throw new ObjectDisabledException(this);
    }
}

/// <summary>
/// The base class of a model. Public read-write properties are its fields; attributes named after the field keywords
/// (<c>[Required]</c>, <c>[Ram]</c>, <c>[Db]</c>, <c>[Broadcast]</c>, <c>[ClSend]</c>, <c>[OwnSend]</c>, <c>[Ai]</c>)
/// mark them; DataAnnotations validators and <c>Clean{Field}</c> methods check them. In a partial model a field is a
/// partial property and Pastry.Core's source generator writes its body; elsewhere write
/// <c>{ get =&gt; Get&lt;T&gt;(); set =&gt; Set(value); }</c> by hand.
/// </summary>
/// <typeparam name="T">The model class itself.</typeparam>
/// <example>
/// <code>
/// public sealed partial class Avatar : DistributedObject&lt;Avatar&gt;
/// {
///     [Required, Ram, Db, Broadcast, MaxLength(24)]
///     public partial string Name { get; set; }
/// }
/// </code>
/// </example>
public abstract class DistributedObject<T> : DistributedObject
    where T : DistributedObject<T>
{
    // RS0022: on purpose. Models derive from this class only, never from the non-generic base, which keeps its
    // constructors internal; the protected members it exposes to models are part of the listed surface.
#pragma warning disable RS0022
    /// <summary>Creates an object with a fresh DoId and every field at its default.</summary>
    protected DistributedObject()
#pragma warning restore RS0022
        : base(ModelInfo.For<T>())
    {
    }

    /// <summary>A typed stream of one field's new values, for example <c>avatar.Observe(a =&gt; a.Gold)</c>.</summary>
    public IObservable<TValue> Observe<TValue>(Expression<Func<T, TValue>> property)
    {
        if (property.Body is not MemberExpression { Member: var member })
        {
            throw new ArgumentException("Pass a property of the model, for example a => a.Gold.", nameof(property));
        }

        var field = Model.GetField(member.Name);
        return Changes.Where(change => ReferenceEquals(change.Field, field)).Select(change => (TValue)change.NewValue!);
    }

    /// <summary>Reads the field named by the calling property.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected TValue Get<TValue>([CallerMemberName] string field = "")
    {
        EnsureUsable();
        return Model.GetField<TValue>(field).GetValue(this);
    }

    /// <summary>Cleans, validates and applies a value to the field named by the calling property.</summary>
    /// <exception cref="ModelValidationException">The value failed the clean method or a validator; nothing changed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected void Set<TValue>(TValue value, [CallerMemberName] string field = "") =>
        Model.GetField<TValue>(field).SetValue(this, value);
}
