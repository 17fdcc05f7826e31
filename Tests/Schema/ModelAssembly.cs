using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Pastry.Tests.Schema;

/// <summary>
/// A game's model assembly built at test time with real Roslyn, optionally embedding a schema lock as the game's
/// csproj would (EmbeddedResource, LogicalName pastry.schema.lock): one build per model version, so that old and new
/// versions of the same model (same class name) exist side by side, in files for <c>pastry --app</c> or loaded here.
/// </summary>
internal static class ModelAssembly
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.Length > 0)
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(group => (MetadataReference)MetadataReference.CreateFromFile(group.First()))
            .ToArray());

    /// <summary>Compiles <paramref name="source"/> (models in plain C#) into <paramref name="path"/>; returns the path.</summary>
    public static string Build(string path, string source, string? schemaLock = null)
    {
        var image = Emit(Path.GetFileNameWithoutExtension(path), source, schemaLock);
        File.WriteAllBytes(path, image);
        return path;
    }

    /// <summary>Compiles <paramref name="source"/> and loads it into this process (a new assembly each call).</summary>
    public static Assembly Load(string source, string? schemaLock = null) =>
        Assembly.Load(Emit("Models" + Guid.NewGuid().ToString("N"), source, schemaLock));

    private static byte[] Emit(string name, string source, string? schemaLock)
    {
        string prelude = "using System;\nusing System.ComponentModel.DataAnnotations;\nusing Pastry;\n";
        var compilation = CSharpCompilation.Create(
            name,
            new[] { CSharpSyntaxTree.ParseText(prelude + source, new CSharpParseOptions(LanguageVersion.CSharp13)) },
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Disable));
        var resources = schemaLock is null
            ? null
            : new[] { new ResourceDescription(SchemaLock.FileName, () => new MemoryStream(Encoding.UTF8.GetBytes(schemaLock)), isPublic: true) };
        using var image = new MemoryStream();
        var result = compilation.Emit(image, manifestResources: resources);
        Assert.IsTrue(result.Success, string.Join("\n", result.Diagnostics));
        return image.ToArray();
    }
}
