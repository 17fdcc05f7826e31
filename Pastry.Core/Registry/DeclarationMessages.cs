namespace Pastry;

/// <summary>
/// The words of every model declaration error, in one place. The runtime registry (<c>ModelInfo</c>) throws
/// them in a <c>ModelDeclarationException</c>, and the PASTRY0xx analyzers of Pastry.Core.Generators, which
/// compile this same file, report them at build time, so a problem reads the same in the editor and at start-up.
/// </summary>
/// <remarks>
/// This file is linked into a netstandard2.0 analyzer: it must stay plain C# on strings, with no Pastry types.
/// Type names are passed as C# spells them (<c>int</c>, <c>List&lt;int&gt;</c>).
/// </remarks>
internal static class DeclarationMessages
{
    /// <summary>The field types a model may use, for the messages that reject another type.</summary>
    public const string SupportedTypeList = "int, long, float, double, bool, string, byte[], DateTime, DoId, and arrays of these";

    /// <summary>PASTRY001: a field or method is both <c>[Ai]</c> and <c>[ClSend]</c>.</summary>
    public static string AiAndClSend(string member) =>
        $"{member} is both [Ai] (only the AI may send it) and [ClSend] (any client may send it); remove one of them.";

    /// <summary>PASTRY001: a field or method is both <c>[Ai]</c> and <c>[OwnSend]</c>.</summary>
    public static string AiAndOwnSend(string member) =>
        $"{member} is both [Ai] (only the AI may send it) and [OwnSend] (the owning client may send it); remove one of them.";

    /// <summary>PASTRY001: a field or method is both <c>[ClSend]</c> and <c>[OwnSend]</c>.</summary>
    public static string ClSendAndOwnSend(string member) =>
        $"{member} is both [ClSend] and [OwnSend]; [ClSend] already lets the owner send it, so keep only the one you mean.";

    /// <summary>PASTRY002: a field's type has no wire codec.</summary>
    public static string UnsupportedFieldType(string member, string typeName) =>
        $"{member} has type {typeName}, which is not a field type. Supported: {SupportedTypeList}. Mark the property [NotDistributed] if it is not meant to be synchronised.";

    /// <summary>PASTRY003: several methods share a field's clean-method name.</summary>
    public static string SeveralCleanMethods(string model, int count, string cleanName, string typeName) =>
        $"{model} has {count} methods named {cleanName}; keep one, declared as {CleanSignature(cleanName, typeName)}.";

    /// <summary>PASTRY003: a field's clean method has the wrong signature.</summary>
    public static string CleanWrongSignature(string model, string cleanName, string typeName) =>
        $"{model}.{cleanName} has the wrong signature; declare it as the instance method {CleanSignature(cleanName, typeName)}: it receives the new value and returns the cleaned value (throw ValidationException to reject).";

    /// <summary>PASTRY004: a property has field keywords but is not a public read-write property.</summary>
    public static string KeywordsWithoutPublicAccessors(string model, string property, string typeName) =>
        $"{model}.{property} has field keywords but no public getter and setter; declare it as 'public partial {typeName} {property} {{ get; set; }}' in a partial model, or write it as '{{ get => Get<{typeName}>(); set => Set(value); }}'.";

    /// <summary>PASTRY005: an RPC returns a value.</summary>
    public static string RpcReturnsValue(string member, string typeName) =>
        $"{member} is [Distributed] but returns {typeName}; RPCs are one-way messages, so they must return void. Send the answer back with another call or a field.";

    /// <summary>PASTRY005: an RPC is generic.</summary>
    public static string GenericRpc(string member) =>
        $"{member} is [Distributed] and generic; RPCs must have concrete parameter types.";

    /// <summary>PASTRY005: an RPC parameter's type cannot be sent.</summary>
    public static string UnsupportedParameterType(string member, string parameter, string typeName) =>
        $"{member} parameter '{parameter}' has type {typeName}, which cannot be sent. Supported: {SupportedTypeList}.";

    /// <summary>PASTRY006: two RPCs share a name.</summary>
    public static string OverloadedRpc(string member) =>
        $"{member}: [Distributed] methods cannot be overloaded; give each one its own name.";

    /// <summary>PASTRY007: a model names another class as its type argument.</summary>
    public static string WrongTypeArgument(string fullName, string argument, string name) =>
        $"{fullName} derives from DistributedObject<{argument}>; the type argument must be the class itself: 'class {name} : DistributedObject<{name}>'.";

    /// <summary>PASTRY008: a model has no parameterless constructor.</summary>
    public static string NoParameterlessConstructor(string fullName) =>
        $"{fullName} has no parameterless constructor; add one (it may be private) so that repositories can create instances.";

    /// <summary>PASTRY009: a partial property of a model is not a field, so no accessors are generated for it.</summary>
    public static string PartialPropertyNotField(string member) =>
        $"{member} is partial but not a field (fields are public read-write properties without [NotDistributed]), so Pastry generates no accessors for it; make it a public field or write its body yourself.";

    private static string CleanSignature(string cleanName, string typeName) => $"'{typeName} {cleanName}({typeName} value)'";
}
