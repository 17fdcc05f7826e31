using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Cli;

/// <summary>The one command-line parser, through the real <c>pastry</c> and Tavern processes: help, version, suggestions, warnings and one-line start-up failures.</summary>
[TestClass]
public sealed class CommandLineProcessTests
{
    private static string TavernDll => Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll");

    [TestMethod]
    [DataRow("serve", "--role <otp|ai|all>", "[default: all]", "--ClientAgent:Port 7199")]
    [DataRow("migrate", "--db <path>", "[default: pastry.db]", "--allow-data-loss")]
    [DataRow("schema", "--json", "[default: false]", "--app <assembly>")]
    [DataRow("bench", "fanout", "clientmem", "churn")]
    public async Task CommandHelp_ListsEveryOptionWithItsDefault_AndExits0(string command, string first, string second, string third)
    {
        await using var pastry = PastryProcess.Start(command, "--help");
        Assert.AreEqual(0, await pastry.WaitForExitAsync());
        foreach (string expected in new[] { first, second, third })
        {
            StringAssert.Contains(pastry.Output, expected);
        }
    }

    [TestMethod]
    public async Task BenchHelp_ListsAllEightScenarios_AndAScenarioItsOptionsWithDefaults()
    {
        await using var bench = PastryProcess.Start("bench", "--help");
        Assert.AreEqual(0, await bench.WaitForExitAsync());
        foreach (string scenario in new[] { "fanout", "grid", "idle", "objects", "relay", "clientmem", "churn", "db" })
        {
            StringAssert.Matches(bench.Output, new Regex($"(?m)^\\s+{scenario}\\s"));
        }

        await using var grid = PastryProcess.Start("bench", "grid", "--help");
        Assert.AreEqual(0, await grid.WaitForExitAsync());
        StringAssert.Contains(grid.Output, "--hz");
        StringAssert.Contains(grid.Output, "[default: 5]");
    }

    [TestMethod]
    public async Task Help_DescribesTheSettingFlags_AndTheRootHelpListsEachCommandOnOneLine()
    {
        await using var serve = PastryProcess.Start("serve", "--help");
        Assert.AreEqual(0, await serve.WaitForExitAsync());
        StringAssert.Contains(serve.Output, "<--Section:Key value>");
        StringAssert.Contains(serve.Output, "--Database:Path pastry.db");
        Assert.IsFalse(serve.Output.Contains("Arguments passed to the application", StringComparison.Ordinal), serve.Output);

        await using var fanout = PastryProcess.Start("bench", "fanout", "--help");
        Assert.AreEqual(0, await fanout.WaitForExitAsync());
        StringAssert.Contains(fanout.Output, "settings for the child server");
        Assert.IsFalse(fanout.Output.Contains("Arguments passed to the application", StringComparison.Ordinal), fanout.Output);

        await using var root = PastryProcess.Start("--help");
        Assert.AreEqual(0, await root.WaitForExitAsync());
        Assert.IsFalse(root.Output.Contains("--ClientAgent:Port 7199", StringComparison.Ordinal), "The settings list is serve's own help:\n" + root.Output);
        foreach (string command in new[] { "serve", "migrate", "backup", "schema", "bench" })
        {
            StringAssert.Matches(root.Output, new Regex($"(?m)^\\s+{command}\\b"));
        }
    }

    [TestMethod]
    public async Task BenchSettings_ReachTheChildServer_InEitherForm()
    {
        // The child server refuses the port; its reason comes back through the bench, naming the key.
        await using var bench = PastryProcess.Start("bench", "clientmem", "--objects", "5", "--ClientAgent:Port=70000");
        Assert.AreEqual(1, await bench.WaitForExitAsync());
        StringAssert.Contains(bench.Output, "ClientAgent:Port must be between 0 and 65535");

        await using var spaced = PastryProcess.Start("bench", "clientmem", "--objects", "5", "--ClientAgent:Port", "70000");
        Assert.AreEqual(1, await spaced.WaitForExitAsync());
        StringAssert.Contains(spaced.Output, "ClientAgent:Port must be between 0 and 65535");
    }

    [TestMethod]
    public async Task TavernHelp_ListsItsCommandsAndThePastryCommands_AndExits0()
    {
        await using var tavern = PastryProcess.StartDll(TavernDll, null, "--help");
        Assert.AreEqual(0, await tavern.WaitForExitAsync());
        foreach (string expected in new[] { "play", "bots", "serve", "migrate", "--count", "[default: 5]", "[default: 7199]" })
        {
            StringAssert.Contains(tavern.Output, expected);
        }
    }

    [TestMethod]
    public async Task Version_PrintsTheVersion_AndExits0()
    {
        await using var pastry = PastryProcess.Start("--version");
        Assert.AreEqual(0, await pastry.WaitForExitAsync());
        StringAssert.Matches(pastry.Output, new Regex(@"^\d+\.\d+\.\d+"));
    }

    [TestMethod]
    [DataRow("serv", "serve")]
    [DataRow("serve --rol otp", "--role")]
    [DataRow("bench fanot", "fanout")]
    public async Task AMistypedCommandOrOption_Exits2_SuggestingTheRightOne(string arguments, string suggestion)
    {
        await using var pastry = PastryProcess.Start(arguments.Split(' '));
        Assert.AreEqual(2, await pastry.WaitForExitAsync());
        StringAssert.Matches(pastry.Output, new Regex($"(?i)did you mean[^\\n]*\\n?[^\\n]*{Regex.Escape(suggestion)}"));
    }

    [TestMethod]
    public async Task Bench_RefusesApp_Exit2_SayingWhy()
    {
        await using var pastry = PastryProcess.Start("bench", "fanout", "--app", "Game.dll");
        Assert.AreEqual(2, await pastry.WaitForExitAsync());
        StringAssert.Contains(pastry.Output, "bench does not take --app");
    }

    [TestMethod]
    public async Task AnUnknownSetting_GetsAWarningNamingTheClosestKnownKey()
    {
        var (otp, _, _) = await PastryProcess.StartOtpAsync("--ClientAgent:Prot", "7200");
        await using var _ = otp;
        await otp.WaitForLineAsync(new Regex("warning: unknown setting 'ClientAgent:Prot' \\(ignored\\)\\. Did you mean 'ClientAgent:Port'\\?"));
    }

    [TestMethod]
    public async Task APortInUse_Exits1_WithOneLineNamingTheAddressAndTheFix()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        int port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var otp = PastryProcess.Start("serve", "--role", "otp", "--Database:Path", string.Empty, "--MessageDirector:Port", "0", "--ClientAgent:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.AreEqual(1, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, $"The Client Agent cannot listen on 127.0.0.1:{port}");
        StringAssert.Contains(otp.Output, "ClientAgent:Port");
        Assert.IsFalse(Regex.IsMatch(otp.Output, @"(?m)^\s+at "), "no stack trace:\n" + otp.Output);
    }

    [TestMethod]
    public async Task AnAiWithNoOtpToReach_Exits1_WithOneLineNamingTheAddressAndTheFix()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var ai = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Ai:MessageDirector", $"127.0.0.1:{port}");
        Assert.AreEqual(1, await ai.WaitForExitAsync());
        StringAssert.Contains(ai.Output, $"The AI cannot reach the Message Director at 127.0.0.1:{port}");
        StringAssert.Contains(ai.Output, "Ai:MessageDirector");
        Assert.IsFalse(Regex.IsMatch(ai.Output, @"(?m)^\s+at "), "no stack trace:\n" + ai.Output);
    }
}
