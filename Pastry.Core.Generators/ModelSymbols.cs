using Microsoft.CodeAnalysis;

namespace Pastry.Generators;

/// <summary>
/// Pastry's types as the compiler sees them in one compilation, and the rules that decide, as the runtime registry
/// does (<c>ModelInfo</c>), which classes are models, which properties are fields and which types may be sent.
/// </summary>
internal sealed class ModelSymbols
{
    private readonly INamedTypeSymbol distributedObject;
    private readonly INamedTypeSymbol? required;
    private readonly INamedTypeSymbol ram;
    private readonly INamedTypeSymbol db;
    private readonly INamedTypeSymbol broadcast;
    private readonly INamedTypeSymbol clSend;
    private readonly INamedTypeSymbol ownSend;
    private readonly INamedTypeSymbol ai;
    private readonly INamedTypeSymbol notDistributed;
    private readonly INamedTypeSymbol doId;

    private ModelSymbols(Compilation compilation, INamedTypeSymbol distributedObject)
    {
        this.distributedObject = distributedObject;
        required = compilation.GetTypeByMetadataName("System.ComponentModel.DataAnnotations.RequiredAttribute");
        ram = compilation.GetTypeByMetadataName("Pastry.RamAttribute")!;
        db = compilation.GetTypeByMetadataName("Pastry.DbAttribute")!;
        broadcast = compilation.GetTypeByMetadataName("Pastry.BroadcastAttribute")!;
        clSend = compilation.GetTypeByMetadataName("Pastry.ClSendAttribute")!;
        ownSend = compilation.GetTypeByMetadataName("Pastry.OwnSendAttribute")!;
        ai = compilation.GetTypeByMetadataName("Pastry.AiAttribute")!;
        Distributed = compilation.GetTypeByMetadataName("Pastry.DistributedAttribute")!;
        notDistributed = compilation.GetTypeByMetadataName("Pastry.NotDistributedAttribute")!;
        doId = compilation.GetTypeByMetadataName("Pastry.DoId")!;
    }

    /// <summary>The keywords the analyzers check, as the runtime's <c>FieldKeywords</c> flags.</summary>
    [Flags]
    internal enum Keywords
    {
        None = 0,
        Required = 1,
        Ram = 2,
        Db = 4,
        Broadcast = 8,
        ClSend = 16,
        OwnSend = 32,
        Ai = 64,
    }

    /// <summary>Pastry's <c>[Distributed]</c> attribute.</summary>
    public INamedTypeSymbol Distributed { get; }

    /// <summary>The symbols of a compilation that references Pastry.Core, or null when it does not.</summary>
    public static ModelSymbols? From(Compilation compilation)
    {
        var distributedObject = compilation.GetTypeByMetadataName("Pastry.DistributedObject`1");
        if (distributedObject is null || compilation.GetTypeByMetadataName("Pastry.RamAttribute") is null)
        {
            return null;
        }

        return new ModelSymbols(compilation, distributedObject);
    }

    /// <summary>Whether <paramref name="type"/> derives from <c>DistributedObject&lt;T&gt;</c>; <paramref name="argument"/> is that T.</summary>
    public static bool IsModel(INamedTypeSymbol type, out ITypeSymbol argument)
    {
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && current.ContainingNamespace?.ToDisplayString() == "Pastry" && current.MetadataName == "DistributedObject`1")
            {
                argument = current.TypeArguments[0];
                return true;
            }
        }

        argument = null!;
        return false;
    }

    /// <summary>Whether <paramref name="type"/> derives from this compilation's <c>DistributedObject&lt;T&gt;</c>.</summary>
    public bool IsModel(INamedTypeSymbol type) =>
        IsModel(type, out _) && Derives(type);

    /// <summary>
    /// Whether the runtime treats <paramref name="property"/> as a field: an instance property, public to read and
    /// write, not an indexer and not <c>[NotDistributed]</c>.
    /// </summary>
    public bool IsField(IPropertySymbol property) =>
        IsCandidate(property) && HasPublicAccessors(property);

    /// <summary>Whether the runtime looks at <paramref name="property"/> at all (public, instance, no indexer, not <c>[NotDistributed]</c>).</summary>
    public bool IsCandidate(IPropertySymbol property) =>
        !property.IsStatic && !property.IsIndexer && property.DeclaredAccessibility == Accessibility.Public && !Has(property, notDistributed);

    /// <summary>Whether both accessors exist and are public.</summary>
    public static bool HasPublicAccessors(IPropertySymbol property) =>
        property.GetMethod is { DeclaredAccessibility: Accessibility.Public } && property.SetMethod is { DeclaredAccessibility: Accessibility.Public };

    /// <summary>The field keywords on <paramref name="member"/>.</summary>
    public Keywords KeywordsOf(ISymbol member)
    {
        var keywords = Keywords.None;
        foreach (var attribute in member.GetAttributes())
        {
            var type = attribute.AttributeClass;
            if (type is null)
            {
                continue;
            }

            keywords |= Same(type, required) ? Keywords.Required
                : Same(type, ram) ? Keywords.Ram
                : Same(type, db) ? Keywords.Db
                : Same(type, broadcast) ? Keywords.Broadcast
                : Same(type, clSend) ? Keywords.ClSend
                : Same(type, ownSend) ? Keywords.OwnSend
                : Same(type, ai) ? Keywords.Ai
                : Keywords.None;
        }

        return keywords;
    }

    /// <summary>Whether <paramref name="member"/> carries <paramref name="attribute"/>.</summary>
    public static bool Has(ISymbol member, INamedTypeSymbol attribute) =>
        member.GetAttributes().Any(a => Same(a.AttributeClass, attribute));

    /// <summary>Whether values of <paramref name="type"/> can be sent: the runtime's <c>ValueCodecs</c> list.</summary>
    public bool IsSendable(ITypeSymbol type) =>
        IsScalar(type) || (type is IArrayTypeSymbol { Rank: 1 } array && IsScalar(array.ElementType));

    /// <summary>A type as C# spells it (<c>List&lt;int&gt;</c>), the way the runtime's messages name it.</summary>
    public static string CSharpName(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);

    private bool IsScalar(ITypeSymbol type) =>
        type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Single or SpecialType.System_Double
            or SpecialType.System_Boolean or SpecialType.System_String or SpecialType.System_DateTime
        || Same(type, doId)
        || type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_Byte };

    private bool Derives(INamedTypeSymbol type)
    {
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (Same(current.OriginalDefinition, distributedObject))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Same(ISymbol? a, ISymbol? b) => b is not null && SymbolEqualityComparer.Default.Equals(a, b);
}
