using System.Globalization;
using System.Text.Json;
using Pastry.Bench;

namespace Pastry.Tests.Cli;

/// <summary>The sweep's bookkeeping (<c>pastry bench --sweep</c>) on reports made up here; the real runs are in BenchCommandTests.</summary>
[TestClass]
public sealed class BenchSweepTests
{
    [TestMethod]
    public async Task Sweep_PassesEachValueToItsRun_AndDerivesMemoryPerSessionFromTheBaseline()
    {
        var seen = new List<string?>();
        var options = new BenchOptions().Add("sweep", "clients=10,100").Add("objects", "5");
        var sweep = await BenchSweep.RunAsync("fanout", (run, _) =>
        {
            seen.Add(run.Get("clients"));
            Assert.IsFalse(run.Has("sweep"), "a run does not sweep again");
            Assert.AreEqual("5", run.Get("objects"), "the other options reach every run");
            int clients = int.Parse(run.Get("clients")!, CultureInfo.InvariantCulture);
            return Task.FromResult(new BenchReport("fanout")
                .Add("clients", "clients", clients)
                .Add("deliveries_per_sec", "deliveries per second", clients * 1000.0)
                .Add("server_rss_baseline_mb", "baseline", 100.0)
                .Add("server_rss_mb", "rss", 100.0 + (clients / 1024.0 * 8)));
        }, options, CancellationToken.None);

        CollectionAssert.AreEqual(new[] { "10", "100" }, seen);
        string table = sweep.ToTable();
        StringAssert.Contains(table, "KiB/session");
        Assert.AreEqual(2, table.Split(Environment.NewLine).Count(l => l.TrimEnd().EndsWith(" 8", StringComparison.Ordinal)), table);
        Assert.IsFalse(table.Contains("bytes/object", StringComparison.Ordinal), "a column no run reported is left out");

        using var json = JsonDocument.Parse(sweep.ToJson());
        Assert.AreEqual(2, json.RootElement.GetProperty("runs").GetArrayLength());
        Assert.AreEqual(100_000, json.RootElement.GetProperty("runs")[1].GetProperty("deliveries_per_sec").GetDouble());
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("clients")]
    [DataRow("=1,2")]
    [DataRow("clients=1,,2")]
    [DataRow("json=1,2")]
    [DataRow("ClientAgent:FlushInterval=1,2")]
    public void Parse_RefusesWhatIsNotNameEqualsValues(string? text)
    {
        Assert.ThrowsExactly<BenchUsageException>(() => BenchSweep.Parse(text));
    }

    [TestMethod]
    public void Parse_SplitsTheValues()
    {
        var (option, values) = BenchSweep.Parse("clients=10, 100,1000");
        Assert.AreEqual("clients", option);
        CollectionAssert.AreEqual(new[] { "10", "100", "1000" }, values);
    }
}

/// <summary>Each bench default is written once, in the scenario table (BenchScenarios, which help shows), and the scenarios read it from there.</summary>
[TestClass]
public sealed class BenchDefaultsTests
{
    [TestMethod]
    public void ScenarioSettings_WithNothingGiven_AreTheDefaultsHelpShows()
    {
        var fanout = FanoutScenario.Settings.From(new BenchOptions { Scenario = "fanout" });
        Assert.AreEqual(int.Parse(BenchScenarios.DefaultOf("fanout", "clients"), CultureInfo.InvariantCulture), fanout.Clients);
        Assert.AreEqual(int.Parse(BenchScenarios.DefaultOf("fanout", "window"), CultureInfo.InvariantCulture), fanout.Window);
        Assert.AreEqual(double.Parse(BenchScenarios.DefaultOf("fanout", "warmup"), CultureInfo.InvariantCulture), fanout.Warmup);

        var idle = IdleScenario.Settings.From(new BenchOptions { Scenario = "idle" });
        Assert.AreEqual(int.Parse(BenchScenarios.DefaultOf("idle", "clients"), CultureInfo.InvariantCulture), idle.Clients);
    }

    [TestMethod]
    public void EveryNumericDefault_Parses()
    {
        foreach (var (scenario, _, options) in BenchScenarios.Scenarios)
        {
            foreach (var (option, fallback, _) in options)
            {
                bool numeric = double.TryParse(fallback, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
                bool word = fallback is "tcp" || fallback.StartsWith('(') || fallback.StartsWith("none", StringComparison.Ordinal);
                Assert.IsTrue(numeric || word, $"bench {scenario} --{option}: default '{fallback}'");
            }
        }
    }
}
