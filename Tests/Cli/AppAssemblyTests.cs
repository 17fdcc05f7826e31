using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Cli;

/// <summary>
/// <c>--app</c> with a game laid out as <c>dotnet new pastry-game</c> lays it out: the AI in one DLL, its models in a
/// netstandard-style library copied beside it. Real DLLs compiled here with Roslyn, served by the real <c>pastry</c>.
/// </summary>
[TestClass]
public sealed class AppAssemblyTests
{
    private const string Models = """
        using Pastry;
        namespace Lanterns;
        public sealed class Lantern : DistributedObject<Lantern>
        {
            [Ram, Broadcast] public int Oil { get => Get<int>(); set => Set(value); }
        }
        """;

    private const string Ai = """
        using System.Threading;
        using System.Threading.Tasks;
        using Pastry;
        using Pastry.Ai;
        namespace Lanterns;
        public sealed class LanternAi : IAiApplication
        {
            public Task StartAsync(AiRepository ai, CancellationToken cancellation)
            {
                ai.Create(new Lantern { Oil = 3 }, DoId.Empty, 1);
                return Task.CompletedTask;
            }
        }
        """;

    private const string Stray = """
        using Pastry;
        namespace Strays;
        public sealed class Stray : DistributedObject<Stray>
        {
            [Ram] public int Fleas { get => Get<int>(); set => Set(value); }
        }
        """;

    [TestMethod]
    public async Task AppOfAnAiWithoutModels_BringsTheModelsLibraryItReferences_AndNoOtherDllOfItsFolder()
    {
        string folder = Directory.CreateTempSubdirectory("pastry-app-").FullName;
        try
        {
            var models = Emit(folder, "Lanterns.Models", Models);
            Emit(folder, "Strays", Stray);
            string ai = Path.Combine(folder, "Lanterns.Ai.dll");
            Emit(folder, "Lanterns.Ai", Ai, models);

            await using (var schema = PastryProcess.Start("schema", "--app", ai))
            {
                Assert.AreEqual(0, await schema.WaitForExitAsync(), schema.Output);
                StringAssert.Contains(schema.Output, "Lantern");
                Assert.IsFalse(schema.Output.Contains("Stray", StringComparison.Ordinal), "A DLL the AI does not reference stays out:\n" + schema.Output);
            }

            // The one --app serves the AI and its models: the AI creates its lantern and starts.
            await using var serve = PastryProcess.Start("serve", "--role", "all", "--app", ai, "--Database:Path", string.Empty, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0");
            await serve.WaitForLineAsync(new Regex("1 app model\\(s\\) loaded, AI: Lanterns.LanternAi"));
            await serve.WaitForLineAsync(new Regex("AI application LanternAi started"));
            serve.Terminate();
            Assert.AreEqual(0, await serve.WaitForExitAsync(), serve.Output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public async Task AnAiThatThrowsAtStart_ExitsWithCode1_AndItsMessageFirst_NotACrash()
    {
        string folder = Directory.CreateTempSubdirectory("pastry-app-").FullName;
        try
        {
            string ai = Path.Combine(folder, "Flooded.dll");
            Emit(folder, "Flooded", """
                using System;
                using System.Threading;
                using System.Threading.Tasks;
                using Pastry.Ai;
                public sealed class FloodedAi : IAiApplication
                {
                    public Task StartAsync(AiRepository ai, CancellationToken cancellation) => throw new InvalidOperationException("the cellar is flooded");
                }
                """);

            await using var serve = PastryProcess.Start("serve", "--role", "all", "--app", ai, "--Database:Path", string.Empty, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0");
            Assert.AreEqual(1, await serve.WaitForExitAsync(), serve.Output);
            StringAssert.Contains(serve.Output, "pastry: failed: the cellar is flooded");
            Assert.IsFalse(serve.Output.Contains("Unhandled exception", StringComparison.Ordinal), serve.Output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Compiles <paramref name="source"/> into <c>folder/name.dll</c> against the test's own runtime and Pastry assemblies.</summary>
    private static MetadataReference Emit(string folder, string name, string source, params MetadataReference[] extra)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.Length > 0)
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(group => (MetadataReference)MetadataReference.CreateFromFile(group.First()))
            .Concat(extra);
        var compilation = CSharpCompilation.Create(name, new[] { CSharpSyntaxTree.ParseText(source) }, references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        string path = Path.Combine(folder, name + ".dll");
        var result = compilation.Emit(path);
        Assert.IsTrue(result.Success, string.Join("\n", result.Diagnostics));
        return MetadataReference.CreateFromFile(path);
    }
}
