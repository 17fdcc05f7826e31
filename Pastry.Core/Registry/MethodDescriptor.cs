using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Pastry.Wire;

namespace Pastry;

/// <summary>One parameter of a <c>[Distributed]</c> method.</summary>
public sealed class ParameterDescriptor
{
    private readonly ValidationAttribute[] validators;

    internal ParameterDescriptor(ParameterInfo parameter, ValueCodec codec)
    {
        Name = parameter.Name ?? $"arg{parameter.Position}";
        Codec = codec;
        IsOptional = parameter.HasDefaultValue;
        DefaultValue = parameter.HasDefaultValue ? parameter.DefaultValue : null;
        validators = parameter.GetCustomAttributes<ValidationAttribute>(inherit: true).ToArray();
    }

    /// <summary>The parameter's name.</summary>
    public string Name { get; }

    /// <summary>The codec of the parameter's type.</summary>
    internal ValueCodec Codec { get; }

    /// <summary>
    /// Whether the parameter has a default value. A call that ends before it (sent by a client built before the
    /// parameter was added) gets the default, which is why adding an optional parameter at the end is compatible.
    /// </summary>
    public bool IsOptional { get; }

    /// <summary>The default value of an optional parameter.</summary>
    public object? DefaultValue { get; }

    /// <summary>DataAnnotations validators on the parameter (for example <c>[MaxLength(200)] string text</c>).</summary>
    public IReadOnlyList<ValidationAttribute> Validators => validators;

    internal string? Validate(DistributedObject target, object? value)
    {
        foreach (var validator in validators)
        {
            var context = new ValidationContext(target) { MemberName = Name, DisplayName = Name };
            var result = validator.GetValidationResult(value, context);
            if (result != ValidationResult.Success && result is not null)
            {
                return result.ErrorMessage ?? validator.FormatErrorMessage(Name);
            }
        }

        return null;
    }
}

/// <summary>
/// A <c>[Distributed]</c> method (an RPC): a field that is not stored. Its keywords say who may call it, and its
/// body runs on the receiving side.
/// </summary>
public sealed class MethodDescriptor
{
    private readonly Action<DistributedObject, object?[]> invoker;
    private readonly ParameterDescriptor[] parameters;

    internal MethodDescriptor(ModelInfo model, MethodInfo method, int index, FieldKeywords keywords, ParameterDescriptor[] parameters)
    {
        Model = model;
        Method = method;
        Name = method.Name;
        Index = index;
        WireId = (ushort)index;
        Keywords = keywords;
        this.parameters = parameters;
        invoker = CompiledAccessors.Invoker(model.ClrType, method);
    }

    /// <summary>The model the method belongs to.</summary>
    public ModelInfo Model { get; }

    /// <summary>The CLR method.</summary>
    public MethodInfo Method { get; }

    /// <summary>The method's name.</summary>
    public string Name { get; }

    /// <summary>The method's position in <see cref="ModelInfo.Methods"/> (declaration order).</summary>
    public int Index { get; }

    /// <summary>The method's id on the wire: from the schema lock when the model's assembly embeds one, else <see cref="Index"/>.</summary>
    public ushort WireId { get; internal set; }

    /// <summary>The method's keywords (ClSend, OwnSend, Ai, Broadcast, Anonymous).</summary>
    public FieldKeywords Keywords { get; }

    /// <summary>The parameters, in order.</summary>
    public IReadOnlyList<ParameterDescriptor> Parameters => parameters;

    /// <summary><c>[Broadcast]</c>: an AI call reaches every client with interest.</summary>
    public bool IsBroadcast => (Keywords & FieldKeywords.Broadcast) != 0;

    /// <summary><c>[ClSend]</c>: any client with the object in view may call it.</summary>
    public bool IsClSend => (Keywords & FieldKeywords.ClSend) != 0;

    /// <summary><c>[OwnSend]</c>: only the owner may call it.</summary>
    public bool IsOwnSend => (Keywords & FieldKeywords.OwnSend) != 0;

    /// <summary><c>[Anonymous]</c>: sessions that have not logged in may call it.</summary>
    public bool IsAnonymous => (Keywords & FieldKeywords.Anonymous) != 0;

    /// <inheritdoc />
    public override string ToString() => $"{Model.Name}.{Name}";

    /// <summary>Encodes the arguments, in parameter order.</summary>
    public void EncodeArguments(IBufferWriter<byte> writer, object?[] arguments)
    {
        if (arguments.Length != parameters.Length)
        {
            throw new ArgumentException($"{this} takes {parameters.Length} argument(s); got {arguments.Length}.", nameof(arguments));
        }

        for (int i = 0; i < parameters.Length; i++)
        {
            parameters[i].Codec.WriteBoxed(writer, arguments[i]);
        }
    }

    /// <summary>Decodes the arguments; hostile bytes throw <see cref="WireFormatException"/>.</summary>
    internal object?[] DecodeArguments(ref WireReader reader)
    {
        var arguments = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            // An older build of the caller stops before the optional parameters added since (see IsOptional).
            arguments[i] = reader.IsAtEnd && parameters[i].IsOptional ? parameters[i].DefaultValue : parameters[i].Codec.ReadBoxed(ref reader);
        }

        return arguments;
    }

    /// <summary>Runs the parameters' validators; returns parameter name to message for the first failure of each, or null.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? ValidateArguments(DistributedObject target, object?[] arguments)
    {
        Dictionary<string, IReadOnlyList<string>>? problems = null;
        for (int i = 0; i < parameters.Length; i++)
        {
            string? message = parameters[i].Validate(target, arguments[i]);
            if (message is not null)
            {
                (problems ??= new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal))[parameters[i].Name] = new[] { message };
            }
        }

        return problems;
    }

    /// <summary>Runs the method's body on <paramref name="target"/> (the receiving side).</summary>
    public void Invoke(DistributedObject target, object?[] arguments) => invoker(target, arguments);
}
