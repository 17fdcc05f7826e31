using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Pastry.Generators;

/// <summary>
/// Reports model declaration errors at compile time (PASTRY001..PASTRY009), with the words the runtime registry
/// throws at start-up (<c>DeclarationMessages</c>). The registry stays the source of truth: this analyzer only
/// brings the same checks forward, so a wrong model is red in the editor before it ever runs.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class DeclarationAnalyzer : DiagnosticAnalyzer
{
    /// <summary>PASTRY001: contradicting keywords (<c>[Ai]</c> with a client send keyword, or <c>[ClSend]</c> with <c>[OwnSend]</c>).</summary>
    public static readonly DiagnosticDescriptor ContradictingKeywords = Rule("PASTRY001", "Contradicting field keywords");

    /// <summary>PASTRY002: a field type that cannot be sent.</summary>
    public static readonly DiagnosticDescriptor UnsupportedFieldType = Rule("PASTRY002", "Unsupported field type");

    /// <summary>PASTRY003: a clean method with the wrong signature, or several of them.</summary>
    public static readonly DiagnosticDescriptor WrongCleanMethod = Rule("PASTRY003", "Wrong clean method signature");

    /// <summary>PASTRY004: field keywords on a property that is not public to read and write.</summary>
    public static readonly DiagnosticDescriptor KeywordsWithoutPublicAccessors = Rule("PASTRY004", "Field keywords without public accessors");

    /// <summary>PASTRY005: an RPC that returns a value, is generic, or takes a parameter that cannot be sent.</summary>
    public static readonly DiagnosticDescriptor WrongRpcSignature = Rule("PASTRY005", "Wrong RPC signature");

    /// <summary>PASTRY006: two RPCs with one name.</summary>
    public static readonly DiagnosticDescriptor OverloadedRpc = Rule("PASTRY006", "Overloaded RPC");

    /// <summary>PASTRY007: a model whose type argument is another class.</summary>
    public static readonly DiagnosticDescriptor WrongTypeArgument = Rule("PASTRY007", "Model type argument is not the class itself");

    /// <summary>PASTRY008: a model without a parameterless constructor.</summary>
    public static readonly DiagnosticDescriptor NoParameterlessConstructor = Rule("PASTRY008", "Model without a parameterless constructor");

    /// <summary>PASTRY009: a partial property of a model that is not a field, so no accessors are generated for it.</summary>
    public static readonly DiagnosticDescriptor PartialPropertyNotField = Rule("PASTRY009", "Partial property that is not a field");

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        ContradictingKeywords, UnsupportedFieldType, WrongCleanMethod, KeywordsWithoutPublicAccessors, WrongRpcSignature,
        OverloadedRpc, WrongTypeArgument, NoParameterlessConstructor, PartialPropertyNotField);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            // A compilation that does not reference Pastry.Core has no models to check.
            if (ModelSymbols.From(start.Compilation) is { } symbols)
            {
                start.RegisterSymbolAction(symbol => AnalyzeType(symbol, symbols), SymbolKind.NamedType);
            }
        });
    }

    private static DiagnosticDescriptor Rule(string id, string title) =>
        new(id, title, "{0}", "Pastry.Models", DiagnosticSeverity.Error, isEnabledByDefault: true,
            description: "The runtime registry rejects this model declaration at start-up with the same message; fix it here.");

    private static void AnalyzeType(SymbolAnalysisContext context, ModelSymbols symbols)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        if (type.TypeKind != TypeKind.Class || !ModelSymbols.IsModel(type, out var argument) || !symbols.IsModel(type))
        {
            return;
        }

        // Abstract and generic classes are bases of models, not models; their members are still checked below.
        if (!type.IsAbstract && !type.IsGenericType)
        {
            if (!SymbolEqualityComparer.Default.Equals(argument, type))
            {
                Report(context, WrongTypeArgument, type, DeclarationMessages.WrongTypeArgument(type.ToDisplayString(), argument.Name, type.Name));
            }
            else if (!type.InstanceConstructors.Any(c => c.Parameters.Length == 0))
            {
                Report(context, NoParameterlessConstructor, type, DeclarationMessages.NoParameterlessConstructor(type.ToDisplayString()));
            }
        }

        var rpcNames = new HashSet<string>(InheritedRpcNames(type.BaseType, symbols), StringComparer.Ordinal);
        foreach (var member in type.GetMembers())
        {
            switch (member)
            {
                case IPropertySymbol property:
                    AnalyzeProperty(context, symbols, type, property);
                    break;
                case IMethodSymbol method when ModelSymbols.Has(method, symbols.Distributed):
                    AnalyzeRpc(context, symbols, type, method, rpcNames);
                    break;
            }
        }
    }

    private static void AnalyzeProperty(SymbolAnalysisContext context, ModelSymbols symbols, INamedTypeSymbol type, IPropertySymbol property)
    {
        bool isField = symbols.IsField(property);
        if (property.IsPartialDefinition && property.PartialImplementationPart is null && !isField)
        {
            Report(context, PartialPropertyNotField, property, DeclarationMessages.PartialPropertyNotField($"{type.Name}.{property.Name}"));
        }

        if (!symbols.IsCandidate(property))
        {
            return;
        }

        var keywords = symbols.KeywordsOf(property);
        if (!isField)
        {
            if (keywords != ModelSymbols.Keywords.None)
            {
                Report(context, KeywordsWithoutPublicAccessors, property, DeclarationMessages.KeywordsWithoutPublicAccessors(type.Name, property.Name, ModelSymbols.CSharpName(property.Type)));
            }

            return;
        }

        string name = $"{type.Name}.{property.Name}";
        if (!symbols.IsSendable(property.Type))
        {
            Report(context, UnsupportedFieldType, property, DeclarationMessages.UnsupportedFieldType(name, ModelSymbols.CSharpName(property.Type)));
            return;
        }

        CheckKeywords(context, property, name, keywords);
        CheckClean(context, type, property);
    }

    private static void AnalyzeRpc(SymbolAnalysisContext context, ModelSymbols symbols, INamedTypeSymbol type, IMethodSymbol method, HashSet<string> rpcNames)
    {
        string name = $"{type.Name}.{method.Name}";
        if (!method.ReturnsVoid)
        {
            Report(context, WrongRpcSignature, method, DeclarationMessages.RpcReturnsValue(name, ModelSymbols.CSharpName(method.ReturnType)));
        }

        if (method.IsGenericMethod)
        {
            Report(context, WrongRpcSignature, method, DeclarationMessages.GenericRpc(name));
        }

        foreach (var parameter in method.Parameters)
        {
            if (parameter.RefKind != RefKind.None || !symbols.IsSendable(parameter.Type))
            {
                string typeName = (parameter.RefKind != RefKind.None ? "ref " : string.Empty) + ModelSymbols.CSharpName(parameter.Type);
                Report(context, WrongRpcSignature, parameter, DeclarationMessages.UnsupportedParameterType(name, parameter.Name, typeName));
            }
        }

        if (!rpcNames.Add(method.Name))
        {
            Report(context, OverloadedRpc, method, DeclarationMessages.OverloadedRpc(name));
        }

        CheckKeywords(context, method, name, symbols.KeywordsOf(method));
    }

    private static void CheckKeywords(SymbolAnalysisContext context, ISymbol member, string name, ModelSymbols.Keywords keywords)
    {
        bool ai = (keywords & ModelSymbols.Keywords.Ai) != 0;
        bool clSend = (keywords & ModelSymbols.Keywords.ClSend) != 0;
        bool ownSend = (keywords & ModelSymbols.Keywords.OwnSend) != 0;
        if (ai && clSend)
        {
            Report(context, ContradictingKeywords, member, DeclarationMessages.AiAndClSend(name));
        }

        if (ai && ownSend)
        {
            Report(context, ContradictingKeywords, member, DeclarationMessages.AiAndOwnSend(name));
        }

        if (clSend && ownSend)
        {
            Report(context, ContradictingKeywords, member, DeclarationMessages.ClSendAndOwnSend(name));
        }
    }

    /// <summary>The clean method is found by name, as the registry finds it: this class's methods and the non-private ones it inherits.</summary>
    private static void CheckClean(SymbolAnalysisContext context, INamedTypeSymbol type, IPropertySymbol property)
    {
        string cleanName = "Clean" + property.Name;
        var candidates = type.GetMembers(cleanName).OfType<IMethodSymbol>().ToList();
        for (var baseType = type.BaseType; baseType is not null; baseType = baseType.BaseType)
        {
            candidates.AddRange(baseType.GetMembers(cleanName).OfType<IMethodSymbol>().Where(m => m.DeclaredAccessibility != Accessibility.Private && !m.IsOverride));
        }

        candidates.RemoveAll(m => m.MethodKind != MethodKind.Ordinary);
        if (candidates.Count == 0)
        {
            return;
        }

        string typeName = ModelSymbols.CSharpName(property.Type);
        if (candidates.Count > 1)
        {
            Report(context, WrongCleanMethod, candidates[0], DeclarationMessages.SeveralCleanMethods(type.Name, candidates.Count, cleanName, typeName));
            return;
        }

        var method = candidates[0];
        bool sameType(ITypeSymbol t) => SymbolEqualityComparer.Default.Equals(t, property.Type);
        if (method.IsStatic || method.IsGenericMethod || !sameType(method.ReturnType) || method.Parameters.Length != 1
            || method.Parameters[0].RefKind != RefKind.None || !sameType(method.Parameters[0].Type))
        {
            Report(context, WrongCleanMethod, method, DeclarationMessages.CleanWrongSignature(type.Name, cleanName, typeName));
        }
    }

    private static IEnumerable<string> InheritedRpcNames(INamedTypeSymbol? type, ModelSymbols symbols)
    {
        for (; type is not null && ModelSymbols.IsModel(type, out _); type = type.BaseType)
        {
            foreach (var method in type.GetMembers().OfType<IMethodSymbol>())
            {
                if (ModelSymbols.Has(method, symbols.Distributed))
                {
                    yield return method.Name;
                }
            }
        }
    }

    private static void Report(SymbolAnalysisContext context, DiagnosticDescriptor rule, ISymbol at, string message)
    {
        // Only where the symbol is declared in this compilation's source; a base class from a package is its author's to fix.
        var location = at.Locations.FirstOrDefault(l => l.IsInSource);
        if (location is not null)
        {
            context.ReportDiagnostic(Diagnostic.Create(rule, location, message));
        }
    }
}
