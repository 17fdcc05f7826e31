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
    public void Readme_ShowsTheQuickStartBlocks_Verbatim() => Assert.AreEqual(2, CheckBlocks("ReadmeQuickStart.cs"));

    [TestMethod]
    public void Readme_ShowsTheQueryBlocks_Verbatim() => Assert.AreEqual(3, CheckBlocks("ReadmeQueries.cs"));

    [TestMethod]
    public async Task ReadmeQueries_Run_AgainstARealDatabase()
    {
        using var db = new Pastry.Tests.Database.TempDatabase();
        var registry = ModelRegistry.FromTypes(new[] { typeof(Champion) });
        db.Migrate(registry);
        await using var server = Pastry.Tests.EndToEnd.InProcessOtp.Start(o => o.Database.Path = db.Path, registry: registry);
        await using var ai = new Pastry.Ai.AiRepository(server.Router, registry);
        var account = DoId.NewId();
        await ai.CreateInDatabaseAsync(new Champion { Name = "Ann", Gold = 50, Account = account, Slot = 0 });
        await ai.CreateInDatabaseAsync(new Champion { Name = "Abe", Gold = 70, Account = account, Slot = 1 });
        var bea = await ai.CreateInDatabaseAsync(new Champion { Name = "Bea", Gold = 90, Account = DoId.NewId(), Slot = 0 });

        var (ann, richest, count, ids, page, taken) = await ReadmeQueries.RunAsync(ai, account).WaitAsync(TimeSpan.FromSeconds(15));

        Assert.AreEqual("Ann", ann?.Name);
        CollectionAssert.AreEqual(new[] { "Bea", "Abe", "Ann" }, richest.Select(c => c.Name).ToArray());
        Assert.AreEqual(2L, count);
        CollectionAssert.AreEqual(new[] { ann!.DoId, richest[1].DoId }, ids.ToArray());
        CollectionAssert.AreEqual(new[] { "Ann" }, page.Select(c => c.Name).ToArray());
        Assert.AreEqual("Name is taken", taken);

        var live = await ai.ActivateAsync<Champion>(bea.DoId, DoId.Empty, 1).WaitAsync(TimeSpan.FromSeconds(15));
        Assert.AreEqual("Name 'ANN' is taken; still 'Bea'", await ReadmeQueries.RunRejectedAsync(ai, live!).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.AreEqual("Bea", live!.Name);
    }

    private static int CheckBlocks(string file)
    {
        string readme = Normalize(File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")));
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "Tests", "Readme", file));
        int blocks = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].Trim().StartsWith("// README: begin", StringComparison.Ordinal))
            {
                continue;
            }

            int end = Array.FindIndex(lines, i, l => l.Trim() == "// README: end");
            var block = lines.Skip(i + 1).Take(end - i - 1).ToArray();
            int indent = block.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
            string text = string.Join("\n", block.Select(l => l.Length >= indent ? l.Substring(indent) : l));
            StringAssert.Contains(readme, Normalize(text), $"README must show the block of {file} at line {i + 1} verbatim.");
            blocks++;
        }

        return blocks;
    }

    [TestMethod]
    public async Task ReadmeQuickStart_Runs_AgainstARealServer()
    {
        var registry = ModelRegistry.FromAssemblies(typeof(Avatar).Assembly);
        var options = new Pastry.Otp.OtpOptions();
        options.ClientAgent.Port = 0;
        options.MessageDirector.Port = 0;
        options.Accounts.Pbkdf2Iterations = 1000;
        options.Database.Path = string.Empty;
        await using var server = new Pastry.Otp.OtpServer(registry, options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        server.Start();
        await using var ai = new Pastry.Ai.AiRepository(server.Router, registry);
        await new ArenaAi().StartAsync(ai, CancellationToken.None);

        // Twice: the first run creates the account, the second logs in to it.
        for (int run = 1; run <= 2; run++)
        {
            string answer = await ReadmeClient.RunAsync(server.ClientEndPoint.Port).WaitAsync(TimeSpan.FromSeconds(15));
            Assert.AreEqual("The guard heard: hello", answer, $"run {run}");
        }
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
