using System.Text.RegularExpressions;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Readme;

/// <summary>
/// Follows the README's "An AI and a client in five minutes" as a newcomer would: its code blocks become a class
/// library and a console client in a fresh folder, built against the Pastry assemblies built next to the tests; its
/// commands create the game's database and start the real <c>pastry serve --role all</c>; the client runs twice and
/// must print what the README's comments say; then all of it again (migrate, serve, client) on the same database; and
/// no <c>pastry.db</c> may be opened or created on the way.
/// </summary>
/// <remarks>
/// The only departures from the README's text, each needed to run beside other tests on one machine: the server
/// listens on OS-assigned ports (<c>--ClientAgent:Port 0 --MessageDirector:Port 0 --Admin:Port 0</c>), so the client's
/// <c>int port = 7199;</c> line reads the port from an environment variable; and <c>dotnet run --project Pastry.Cli --</c>
/// is the <c>pastry.dll</c> built next to the tests (the same program).
/// </remarks>
[TestClass]
public sealed partial class ReadmeWalkthroughTests
{
    private const string PortLine = "int port = 7199;";
    private const string PortVariable = "PASTRY_README_PORT";
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(8);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    [TestMethod]
    public async Task ReadmeQuickStart_RunsVerbatim_TwiceInARow_WithItsOwnDatabase()
    {
        string repository = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(repository, "README.md")).Replace("\r", string.Empty, StringComparison.Ordinal);
        string model = CodeBlocks(Section(readme, "## Declare a model"), "csharp")[0];
        string quickStart = Section(readme, "## An AI and a client in five minutes");
        var code = CodeBlocks(quickStart, "csharp");
        string ai = code[0];
        string client = code[1];
        var commands = CodeBlocks(quickStart, "bash")[0].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = ExpectedOutput().Matches(client).Select(m => m.Groups[1].Value).ToArray();
        CollectionAssert.AreEqual(new[] { "Guard has 10 gold", "The guard heard: hello" }, expected, "The README's client says what it prints in its comments.");
        StringAssert.Contains(client, PortLine, "The test replaces this line of the README's client with the server's actual port.");

        string root = Directory.CreateTempSubdirectory("pastry-readme-").FullName;
        try
        {
            // Where the newcomer stands: a folder whose pastry.db (the Tavern's, in the repository root) must stay untouched.
            string here = Directory.CreateDirectory(Path.Combine(root, "here")).FullName;
            string decoy = Path.Combine(here, "pastry.db");
            File.WriteAllText(decoy, "Not a database: the Tavern's pastry.db, which the walkthrough must never open.");

            string game = Directory.CreateDirectory(Path.Combine(root, "Game")).FullName;
            File.WriteAllText(Path.Combine(game, "Game.csproj"), Project("Library", "Pastry.Core", "Pastry.Ai"));
            File.WriteAllText(Path.Combine(game, "Avatar.cs"), model);
            File.WriteAllText(Path.Combine(game, "Arena.cs"), ai);
            string clientFolder = Directory.CreateDirectory(Path.Combine(root, "Client")).FullName;
            File.WriteAllText(Path.Combine(clientFolder, "Client.csproj"), Project("Exe", "Pastry.Core", "Pastry.Client"));
            File.WriteAllText(
                Path.Combine(clientFolder, "Program.cs"),
                client.Replace(PortLine, $"int port = int.Parse(Environment.GetEnvironmentVariable(\"{PortVariable}\")!);", StringComparison.Ordinal));

            // One build: the client's project builds the game's.
            await RunToEndAsync(root, null, BuildTimeout, "build", Path.Combine(clientFolder, "Client.csproj"), "-nologo", "-v", "q", "-nodeReuse:false");
            string framework = $"net{Environment.Version.Major}.0";
            string gameBin = Path.Combine(game, "bin", "Debug", framework);
            string clientDll = Path.Combine(clientFolder, "bin", "Debug", framework, "Client.dll");
            Assert.IsTrue(File.Exists(Path.Combine(gameBin, "Game.dll")), "the build made Game.dll");

            // The README's commands, with path/to/ the game's output folder.
            Assert.AreEqual(2, commands.Length, "The README runs two commands: migrate, then serve.");
            var migrate = Command(commands[0], gameBin);
            var serve = Command(commands[1], gameBin);
            Assert.AreEqual("migrate", migrate[1]);
            CollectionAssert.AreEqual(new[] { "serve", "--role", "all" }, serve.Skip(1).Take(3).ToArray());
            // The whole walkthrough twice in a row: the second time migrate finds its tables, the server reopens the
            // same game.db, and the client logs in to the account the first time created.
            for (int round = 1; round <= 2; round++)
            {
                await RunToEndAsync(here, null, RunTimeout, migrate);
                Assert.IsTrue(File.Exists(Path.Combine(gameBin, "game.db")), "migrate created the game's database where the README says");

                await using var server = PastryProcess.StartDotnet(here, null, [.. serve, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0"]);
                var listening = await server.WaitForLineAsync(ClientAgentListening(), RunTimeout);
                await server.WaitForLineAsync(AiStarted(), RunTimeout);
                var environment = new Dictionary<string, string> { [PortVariable] = listening.Groups[1].Value };

                for (int run = 1; run <= 2; run++)
                {
                    string output = await RunToEndAsync(here, environment, RunTimeout, clientDll);
                    var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    CollectionAssert.AreEqual(expected, lines, $"Round {round}, run {run} of the README's client printed:{Environment.NewLine}{output}{Environment.NewLine}Server:{Environment.NewLine}{server.Output}");
                }

                server.Terminate();
                Assert.AreEqual(0, await server.WaitForExitAsync(RunTimeout), server.Output);
            }

            Assert.AreEqual("Not a database: the Tavern's pastry.db, which the walkthrough must never open.", File.ReadAllText(decoy));
            var strays = Directory.EnumerateFiles(root, "pastry.db*", SearchOption.AllDirectories).Where(f => f != decoy).ToArray();
            Assert.AreEqual(0, strays.Length, "No other pastry.db may appear: " + string.Join(", ", strays));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Runs <c>dotnet arguments</c> to its end and returns its output; a non-zero exit fails the test with it.</summary>
    private static async Task<string> RunToEndAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, params string[] arguments)
    {
        await using var process = PastryProcess.StartDotnet(workingDirectory, environment, arguments);
        int exit = await process.WaitForExitAsync(timeout);
        Assert.AreEqual(0, exit, $"dotnet {string.Join(' ', arguments)} failed:{Environment.NewLine}{process.Output}");
        return process.Output;
    }

    /// <summary>A README command line with <c>path/to/</c> replaced, as the arguments of <c>dotnet pastry.dll</c>.</summary>
    private static string[] Command(string line, string pathTo)
    {
        const string Prefix = "dotnet run --project Pastry.Cli -- ";
        Assert.IsTrue(line.StartsWith(Prefix, StringComparison.Ordinal), "A README command runs the CLI: " + line);
        var words = line.Substring(Prefix.Length).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return [PastryProcess.PastryDll, .. words.Select(w => w.Replace("path/to/", pathTo + Path.DirectorySeparatorChar, StringComparison.Ordinal))];
    }

    /// <summary>An SDK-style project that references the Pastry assemblies built next to the tests.</summary>
    private static string Project(string outputType, params string[] pastry)
    {
        string bin = AppContext.BaseDirectory;
        var references = pastry.Concat(new[] { "System.Reactive", "Microsoft.Extensions.Logging.Abstractions" })
            .Select(name => $"    <Reference Include=\"{Path.Combine(bin, name + ".dll")}\" />");
        string gameReference = outputType == "Exe" ? "    <ProjectReference Include=\"../Game/Game.csproj\" />" : string.Empty;
        return $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>{outputType}</OutputType>
                <TargetFramework>net{Environment.Version.Major}.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
            {string.Join("\n", references)}
                <Analyzer Include="{Path.Combine(bin, "Pastry.Core.Generators.dll")}" />
            {gameReference}
              </ItemGroup>
            </Project>
            """;
    }

    private static string Section(string readme, string heading)
    {
        int start = readme.IndexOf(heading + "\n", StringComparison.Ordinal);
        Assert.IsTrue(start >= 0, "README has the section " + heading);
        int end = readme.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
        return end < 0 ? readme.Substring(start) : readme.Substring(start, end - start);
    }

    private static List<string> CodeBlocks(string text, string language) =>
        Regex.Matches(text, $"```{language}\\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pastry.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Pastry.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("""Console\.WriteLine\(.*//\s*"([^"]+)"$""", RegexOptions.Multiline)]
    private static partial Regex ExpectedOutput();

    [GeneratedRegex(@"Client Agent listening on (?:\S+):(\d+)")]
    private static partial Regex ClientAgentListening();

    [GeneratedRegex("AI application .* started")]
    private static partial Regex AiStarted();
}
