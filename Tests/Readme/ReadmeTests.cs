using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Readme;

[TestClass]
public sealed class ReadmeTests
{
    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pastry.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Pastry.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Normalize(string text) =>
        string.Join("\n", text.Replace("\r", string.Empty, StringComparison.Ordinal).Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0));

    [TestMethod]
    public void Readme_ShowsTheCompiledModelExample_Verbatim()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        string source = File.ReadAllText(Path.Combine(RepositoryRoot(), "Tests", "Readme", "ReadmeModel.cs"));
        string model = source.Substring(source.IndexOf("using System.ComponentModel", StringComparison.Ordinal));
        model = model.Replace("namespace Pastry.Tests.Readme;\n\n", string.Empty, StringComparison.Ordinal);
        StringAssert.Contains(Normalize(readme), Normalize(model), "README's model example must match Tests/Readme/ReadmeModel.cs (without its namespace line).");
    }

    [TestMethod]
    public void ReadmeModel_WorksStandalone_AsTheReadmeDescribes()
    {
        var avatar = new Avatar { Name = "  Ann  ", Gold = 10 };
        Assert.AreEqual("Ann", avatar.Name);
        var error = Assert.ThrowsExactly<ModelValidationException>(() => avatar.Gold = -1);
        Assert.IsTrue(error.Errors.ContainsKey(nameof(Avatar.Gold)));
        Assert.AreEqual(10, avatar.Gold);
        Assert.IsFalse(avatar.DoId.IsEmpty);
    }
}
