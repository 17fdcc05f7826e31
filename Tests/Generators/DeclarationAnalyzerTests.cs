namespace Pastry.Tests.Generators;

/// <summary>
/// Each PASTRY0xx analyzer fires on a wrong model declaration, at compile time, with the very words the runtime
/// registry throws for the same model (the snippet is also emitted, loaded and registered to compare).
/// </summary>
/// <remarks>
/// Not in parallel with other classes: each snippet is a real Roslyn compilation against the whole framework, a burst
/// of CPU that would starve the end-to-end tests' heartbeats on a 2-core box.
/// </remarks>
[TestClass]
[DoNotParallelize]
public sealed class DeclarationAnalyzerTests
{
    public static IEnumerable<object[]> WrongDeclarations => new[]
    {
        new object[] { "PASTRY001", "public sealed partial class Mug : DistributedObject<Mug> { [Ai, ClSend] public partial int Gold { get; set; } }" },
        new object[] { "PASTRY001", "public sealed partial class Mug : DistributedObject<Mug> { [Ai, OwnSend] public partial int Gold { get; set; } }" },
        new object[] { "PASTRY001", "public sealed class Mug : DistributedObject<Mug> { [ClSend, OwnSend] public int Gold { get => Get<int>(); set => Set(value); } }" },
        new object[] { "PASTRY001", "public sealed class Mug : DistributedObject<Mug> { [Distributed, Ai, ClSend] public void Poke() { } }" },
        new object[] { "PASTRY002", "public sealed partial class Mug : DistributedObject<Mug> { [Ram] public partial decimal Price { get; set; } }" },
        new object[] { "PASTRY002", "public sealed class Mug : DistributedObject<Mug> { [Ram] public List<int> Scores { get => Get<List<int>>(); set => Set(value); } }" },
        new object[] { "PASTRY003", "public sealed partial class Mug : DistributedObject<Mug> { [Ram] public partial string Name { get; set; } private int CleanName(string value) => value.Length; }" },
        new object[] { "PASTRY003", "public sealed partial class Mug : DistributedObject<Mug> { [Ram] public partial string Name { get; set; } private static string CleanName(string value) => value; }" },
        new object[] { "PASTRY003", "public sealed partial class Mug : DistributedObject<Mug> { [Ram] public partial string Name { get; set; } private string CleanName(string value) => value; private string CleanName(int value) => string.Empty; }" },
        new object[] { "PASTRY004", "public sealed class Mug : DistributedObject<Mug> { [Ram] public int Gold { get => Get<int>(); private set => Set(value); } }" },
        new object[] { "PASTRY005", "public sealed class Mug : DistributedObject<Mug> { [Distributed, ClSend] public int Ping() => 1; }" },
        new object[] { "PASTRY005", "public sealed class Mug : DistributedObject<Mug> { [Distributed, ClSend] public void Pay(decimal amount) { } }" },
        new object[] { "PASTRY005", "public sealed class Mug : DistributedObject<Mug> { [Distributed, ClSend] public void Pay(ref int amount) { } }" },
        new object[] { "PASTRY005", "public sealed class Mug : DistributedObject<Mug> { [Distributed, ClSend] public void Pay<T>(int amount) { } }" },
        new object[] { "PASTRY006", "public sealed class Mug : DistributedObject<Mug> { [Distributed] public void Poke() { } [Distributed] public void Poke(int times) { } }" },
        new object[] { "PASTRY007", "public sealed class Cup : DistributedObject<Cup> { } public sealed class Mug : DistributedObject<Cup> { }" },
        new object[] { "PASTRY008", "public sealed partial class Mug : DistributedObject<Mug> { public Mug(string name) { Name = name; } [Ram] public partial string Name { get; set; } }" },
    };

    [TestMethod]
    [DynamicData(nameof(WrongDeclarations))]
    public void Analyzer_ReportsTheDeclarationError_WithTheRegistrysWords(string id, string declaration)
    {
        var snippet = SnippetCompiler.Compile("namespace Snippets;\n" + declaration);

        Assert.IsEmpty(snippet.CompilerDiagnostics, "The C# itself is fine: " + string.Join("\n", snippet.CompilerDiagnostics));
        Assert.IsNotEmpty(snippet.AnalyzerDiagnostics, "An analyzer must report " + id);
        foreach (var diagnostic in snippet.AnalyzerDiagnostics)
        {
            Assert.AreEqual(id, diagnostic.Id, diagnostic.ToString());
            Assert.AreEqual(Microsoft.CodeAnalysis.DiagnosticSeverity.Error, diagnostic.Severity);
            Assert.IsTrue(diagnostic.Location.IsInSource);
        }

        var mug = snippet.Load().GetType("Snippets.Mug", throwOnError: true)!;
        var error = Assert.ThrowsExactly<ModelDeclarationException>(() => ModelRegistry.FromTypes(new[] { mug }));
        CollectionAssert.AreEquivalent(error.Problems.ToArray(), snippet.AnalyzerDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    [TestMethod]
    public void Analyzer_IsSilent_OnACorrectModel_InEitherForm()
    {
        var snippet = SnippetCompiler.Compile("""
            namespace Snippets;
            public abstract class Creature<T> : DistributedObject<T> where T : Creature<T>
            {
                [Ram] public int Level { get => Get<int>(); set => Set(value); }
            }
            public sealed partial class Mug : Creature<Mug>
            {
                [Required, Ram, Broadcast, MaxLength(24)] public partial string Name { get; set; }
                [Ram, Db, Ai, Range(0, 100)] public partial int Sips { get; set; }
                [Ram, ClSend] public float[] Foam { get => Get<float[]>(); set => Set(value); }
                [NotDistributed] public decimal Price { get; set; }
                public decimal Cost => Price;
                private string CleanName(string value) => value.Trim();
                [Distributed, OwnSend] public void Drink(int sips, string[] toasts) { }
            }
            """);

        Assert.IsEmpty(snippet.CompilerDiagnostics, string.Join("\n", snippet.CompilerDiagnostics));
        Assert.IsEmpty(snippet.AnalyzerDiagnostics, string.Join("\n", snippet.AnalyzerDiagnostics));
        var registered = ModelRegistry.FromTypes(new[] { snippet.Load().GetType("Snippets.Mug", throwOnError: true)! }).Models.Single(m => m.Name == "Mug");
        CollectionAssert.AreEqual(new[] { "Level", "Name", "Sips", "Foam" }, registered.Fields.Select(f => f.Name).ToArray());
    }

    [TestMethod]
    public void Generator_WritesTheHandWrittenBodies_ForEachPartialField()
    {
        var snippet = SnippetCompiler.Compile("""
            namespace Snippets;
            public sealed partial class Mug : DistributedObject<Mug>
            {
                [Required, Ram, Broadcast, MaxLength(24)] public partial string Name { get; set; }
                [Ram] public partial DoId Brewer { get; set; }
            }
            """);

        string source = string.Join("\n", snippet.GeneratedSources);
        StringAssert.Contains(source, "public partial string Name { get => Get<string>(); set => Set(value); }");
        StringAssert.Contains(source, "public partial global::Pastry.DoId Brewer { get => Get<global::Pastry.DoId>(); set => Set(value); }");
        Assert.IsEmpty(snippet.CompilerDiagnostics, string.Join("\n", snippet.CompilerDiagnostics));
    }

    [TestMethod]
    public void PartialPropertyThatIsNotAField_GetsNoBody_AndPastry009SaysWhy()
    {
        var snippet = SnippetCompiler.Compile("""
            namespace Snippets;
            public sealed partial class Mug : DistributedObject<Mug>
            {
                [NotDistributed] public partial int Cache { get; set; }
            }
            """);

        Assert.IsEmpty(snippet.GeneratedSources);
        var pastry = snippet.AnalyzerDiagnostics.Single();
        Assert.AreEqual("PASTRY009", pastry.Id);
        Assert.AreEqual(DeclarationMessages.PartialPropertyNotField("Mug.Cache"), pastry.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.IsTrue(snippet.CompilerDiagnostics.Any(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error), "The compiler also asks for a body.");
    }
}
