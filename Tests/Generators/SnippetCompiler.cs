using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Pastry.Generators;

namespace Pastry.Tests.Generators;

/// <summary>
/// Compiles a C# snippet against Pastry.Core the way a game's build does: the accessor generator runs first, then the
/// compiler and the PASTRY0xx analyzers. Real Roslyn, no mocks.
/// </summary>
internal static class SnippetCompiler
{
    private static int counter;

    // Everything the test process itself runs on (the .NET runtime, DataAnnotations, Pastry.Core), loaded once.
    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.Length > 0)
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(group => (MetadataReference)MetadataReference.CreateFromFile(group.First()))
            .ToArray());

    /// <summary>Generates, compiles and analyzes <paramref name="source"/>.</summary>
    public static Snippet Compile(string source)
    {
        string prelude = "using System;\nusing System.Collections.Generic;\nusing System.ComponentModel.DataAnnotations;\nusing Pastry;\n";
        var parse = new CSharpParseOptions(LanguageVersion.CSharp13);
        var compilation = CSharpCompilation.Create(
            "Snippet" + Interlocked.Increment(ref counter),
            new[] { CSharpSyntaxTree.ParseText(prelude + source, parse, path: "Snippet.cs") },
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new AccessorGenerator().AsSourceGenerator() }, parseOptions: parse);
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var generated, out var generatorDiagnostics);
        Assert.IsEmpty(generatorDiagnostics, "The generator itself reports nothing.");

        var analyzers = generated.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new DeclarationAnalyzer()));
        var analyzerDiagnostics = analyzers.GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        var generatedSources = driver.GetRunResult().Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString()).ToArray();
        return new Snippet(generated, generated.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray(), analyzerDiagnostics.ToArray(), generatedSources);
    }

    /// <summary>A compiled snippet: the compiler's warnings and errors, the analyzers' diagnostics and the generated files.</summary>
    public sealed record Snippet(Compilation Compilation, Diagnostic[] CompilerDiagnostics, Diagnostic[] AnalyzerDiagnostics, string[] GeneratedSources)
    {
        /// <summary>Emits the snippet and loads it, to hand its types to the runtime registry.</summary>
        public Assembly Load()
        {
            using var image = new MemoryStream();
            var result = Compilation.Emit(image);
            Assert.IsTrue(result.Success, string.Join("\n", result.Diagnostics));
            return Assembly.Load(image.ToArray());
        }
    }
}
