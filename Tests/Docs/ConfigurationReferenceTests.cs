using Pastry.Cli.Hosting;

namespace Pastry.Tests.Docs;

/// <summary>docs/configuration.md is generated from the options classes; this fails when the file and the code disagree.</summary>
[TestClass]
public sealed class ConfigurationReferenceTests
{
    [TestMethod]
    public void ConfigurationReference_InDocs_MatchesTheOptionsClasses()
    {
        string path = Path.Combine(RepositoryRoot(), "docs", "configuration.md");
        string generated = ConfigurationReference.ToMarkdown();
        if (Environment.GetEnvironmentVariable("PASTRY_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, generated);
        }

        Assert.IsTrue(File.Exists(path), $"{path} is missing; run PASTRY_UPDATE_DOCS=1 dotnet test Tests --filter ConfigurationReference");
        Assert.AreEqual(generated, File.ReadAllText(path).ReplaceLineEndings("\n"), "docs/configuration.md is out of date; run PASTRY_UPDATE_DOCS=1 dotnet test Tests --filter ConfigurationReference");
    }

    [TestMethod]
    public void ConfigurationReference_ListsEveryKeyWithADefaultAndAMeaning()
    {
        string page = ConfigurationReference.ToMarkdown();
        foreach (var (key, _, _) in KnownSettings.Keys)
        {
            var row = page.Split('\n').Single(l => l.StartsWith($"| `{key}` |", StringComparison.Ordinal));
            Assert.IsFalse(row.EndsWith("|  |", StringComparison.Ordinal), $"{key} has no meaning: give its property an XML doc summary. Row: {row}");
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pastry.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Pastry.sln not found above " + AppContext.BaseDirectory);
    }
}
