using System.Text.Json;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// <c>pastry bench</c> end to end: the bench process starts its own server, runs a short load and prints one JSON
/// object. Only the shape and sanity of the report are checked, never timings (this machine is shared).
/// </summary>
[TestClass]
public sealed class BenchCommandTests
{
    /// <summary>A measured second with no warm-up: long enough for every scenario to deliver, short enough for CI.</summary>
    private static readonly string[] OneSecondNoWarmup = ["--seconds", "1", "--warmup", "0"];

    /// <summary>The smallest fan-out that still fans out: three clients, two objects, one second.</summary>
    private static readonly string[] ShortFanout = ["fanout", "--clients", "3", "--objects", "2", .. OneSecondNoWarmup];

    [TestMethod]
    public async Task BenchFanout_WithAChildServer_DeliversUpdates_AndReportsJson()
    {
        await using var bench = await RunToReportAsync(ShortFanout);
        var root = bench.Report;
        Assert.AreEqual("fanout", root.GetProperty("scenario").GetString());
        Assert.AreEqual(3, root.GetProperty("clients").GetInt32());
        Assert.AreEqual(2, root.GetProperty("objects").GetInt32());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("sets_per_sec").GetDouble() > 0, bench.Output);
        AssertNoErrorsNorEjects(root, bench);
        AssertMeasuredLatency(root, "latency_ms", bench);

        Assert.IsTrue(root.GetProperty("server_rss_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("server_cpu_percent").ValueKind);
        Assert.IsTrue(root.GetProperty("bytes_out_per_sec").GetDouble() > 0);
    }

    [TestMethod]
    public async Task BenchFanout_OverWebSocket_DeliversUpdates_AndReportsRssAfterTheLoad()
    {
        await using var bench = await RunToReportAsync([.. ShortFanout, "--transport", "ws", "--rss-after", "1"]);
        var root = bench.Report;
        Assert.AreEqual("ws", root.GetProperty("transport").GetString());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertNoErrorsNorEjects(root, bench);
        AssertMeasuredLatency(root, "latency_ms", bench);
        foreach (string figure in new[] { "server_rss_before_load_mb", "server_rss_peak_mb", "server_rss_after_mb", "server_rss_after_goal_mb" })
        {
            Assert.IsTrue(root.GetProperty(figure).GetDouble() > 0, figure);
        }
    }

    [TestMethod]
    public async Task BenchRelay_OverWebSocket_DeliversSets()
    {
        await using var bench = await RunToReportAsync(["relay", "--clients", "3", "--rate", "50", "--seconds", "1", "--warmup", "0", "--transport", "ws"]);
        var root = bench.Report;
        Assert.AreEqual("ws", root.GetProperty("transport").GetString());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);
    }

    [TestMethod]
    public async Task BenchFanout_UnknownTransport_IsAUsageError()
    {
        StringAssert.Contains(await RunToUsageErrorAsync("fanout", "--transport", "udp"), "--transport must be tcp or ws");
    }

    [TestMethod]
    public async Task BenchGrid_ClientsWalkAcrossCells_UpdatesAreDelivered_AndInterestFollows()
    {
        // Three cells per side and a fast walk, so that avatars cross cells (and interests change) within a second.
        await using var bench = await RunToReportAsync(["grid", "--clients", "6", "--grid", "3", "--speed", "200", "--hz", "10", "--seconds", "1", "--warmup", "0.5"]);
        var root = bench.Report;
        Assert.AreEqual("grid", root.GetProperty("scenario").GetString());
        Assert.AreEqual(6, root.GetProperty("clients").GetInt32());
        Assert.AreEqual(3, root.GetProperty("grid").GetInt32());
        Assert.IsTrue(root.GetProperty("sets_per_sec").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("receivers_per_update").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("interest_changes").GetInt64() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("moves_per_sec").GetDouble() > 0, bench.Output);
        AssertNoErrorsNorEjects(root, bench);
        AssertMeasuredLatency(root, "latency_ms", bench);

        AssertMeasuredLatency(root, "interest_change_ms", bench);
        Assert.IsTrue(root.GetProperty("server_rss_baseline_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("server_cpu_s_per_million").ValueKind);
    }

    [TestMethod]
    public async Task BenchFanout_PercentOfPeak_MeasuresThePeakFirst_ThenRunsAtThatShareOfIt()
    {
        await using var bench = await RunToReportAsync([.. ShortFanout, "--percent-of-peak", "50"]);
        var root = bench.Report;
        Assert.AreEqual(50, root.GetProperty("percent_of_peak").GetDouble());
        double peakSets = root.GetProperty("peak_sets_per_sec").GetDouble();
        Assert.IsTrue(peakSets > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("peak_deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(Math.Max(1, peakSets / 2), root.GetProperty("rate").GetDouble(), 0.1, "the paced phase runs at half the peak's update rate");
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertMeasuredLatency(root, "peak_latency_ms", bench);
        AssertNoErrorsNorEjects(root, bench);
    }

    [TestMethod]
    public async Task BenchFanout_RateAndPercentOfPeakTogether_IsAUsageError()
    {
        StringAssert.Contains(await RunToUsageErrorAsync("fanout", "--rate", "100", "--percent-of-peak", "50"), "--percent-of-peak");
    }

    [TestMethod]
    public async Task BenchIdle_WithAChildServer_ReportsMemoryPerSession()
    {
        await using var bench = await RunToReportAsync(["idle", "--clients", "3", "--settle", "0", "--cpu-seconds", "1"]);
        var root = bench.Report;
        Assert.AreEqual("idle", root.GetProperty("scenario").GetString());
        Assert.AreEqual(3, root.GetProperty("clients").GetInt32());
        Assert.IsTrue(root.GetProperty("server_rss_after_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("kib_per_session").ValueKind, "the child server answers the memory query, so the after-GC figure is known");
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("managed_kib_per_session").ValueKind);
        Assert.IsGreaterThanOrEqualTo(0.0, root.GetProperty("server_cpu_percent_no_sessions").GetDouble());
        Assert.IsGreaterThanOrEqualTo(0.0, root.GetProperty("server_cpu_percent_idle_sessions").GetDouble());
        AssertNoErrorsNorEjects(root, bench);
    }

    [TestMethod]
    public async Task BenchObjects_WithAChildServer_ReportsMemoryPerObject()
    {
        await using var bench = await RunToReportAsync(["objects", "--objects", "50", "--zones", "3", "--settle", "0"]);
        var root = bench.Report;
        Assert.AreEqual("objects", root.GetProperty("scenario").GetString());
        Assert.AreEqual(50, root.GetProperty("objects").GetInt32());
        Assert.AreEqual(3, root.GetProperty("zones").GetInt32());
        Assert.IsTrue(root.GetProperty("server_rss_baseline_mb").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("server_rss_mb").GetDouble() > 0, bench.Output);
        foreach (string perObject in new[] { "bytes_per_object_without_gc", "bytes_per_object", "managed_bytes_per_object" })
        {
            Assert.AreEqual(JsonValueKind.Number, root.GetProperty(perObject).ValueKind, $"{perObject}: the child server answers the memory query");
        }

        Assert.IsTrue(root.GetProperty("managed_heap_after_mb").GetDouble() > 0, bench.Output);
        Assert.AreEqual(1024, root.GetProperty("goal_bytes_per_object").GetInt32());
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("server_warnings").GetInt32(), bench.Output);
    }

    [TestMethod]
    public async Task BenchRelay_MeasuresClientToClientLatency_WithTheClientLibrary()
    {
        await using var bench = await RunToReportAsync(["relay", "--clients", "3", "--rate", "50", .. OneSecondNoWarmup]);
        var root = bench.Report;
        Assert.AreEqual("relay", root.GetProperty("scenario").GetString());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32());
    }

    [TestMethod]
    public async Task BenchClientMem_ReportsBytesPerObjectInView()
    {
        await using var bench = await RunToReportAsync(["clientmem", "--objects", "20"]);
        Assert.AreEqual(20, bench.Report.GetProperty("objects").GetInt32());
        Assert.AreEqual(JsonValueKind.Number, bench.Report.GetProperty("bytes_per_object").ValueKind);
    }

    [TestMethod]
    public async Task BenchChurn_CountsSessions()
    {
        await using var bench = await RunToReportAsync(["churn", "--workers", "2", "--objects", "3", "--accounts", "4", "--warmup", "0.2", "--seconds", "1"]);
        var root = bench.Report;
        Assert.AreEqual(4, root.GetProperty("accounts").GetInt32(), bench.Output);
        Assert.IsTrue(root.GetProperty("sessions").GetInt32() > 0, bench.Output);
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(1000, root.GetProperty("pbkdf2_iterations").GetInt32());
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("server_cpu_ms_per_session").ValueKind, bench.Output);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("bench_cpu_ms_per_session").ValueKind, bench.Output);
        Assert.IsTrue(root.GetProperty("login_hash_ms_default").GetDouble() > 0, bench.Output);
    }

    [TestMethod]
    public async Task BenchDb_CountsCommittedWrites()
    {
        await using var bench = await RunToReportAsync(["db", "--objects", "5", "--window", "16", "--seconds", "1"]);
        Assert.IsTrue(bench.Report.GetProperty("committed_writes_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(0, bench.Report.GetProperty("errors").GetInt32(), bench.Output);
    }

    [TestMethod]
    public async Task BenchSoak_ForAFewSeconds_ReportsSamplesOfTheServersResources_AndTheAiRestart()
    {
        // The report's shape, not its timing: a few seconds with three bots that drop their connections often.
        await using var bench = await RunToReportAsync(["soak", "--bots", "3", "--minutes", "0.1", "--sample-seconds", "1", "--drop-every", "2"], TimeSpan.FromSeconds(120));
        var root = bench.Report;
        Assert.AreEqual("soak", root.GetProperty("scenario").GetString());
        var samples = root.GetProperty("samples").EnumerateArray().ToList();
        Assert.IsTrue(samples.Count >= 2, bench.Output);
        foreach (var sample in samples)
        {
            Assert.IsTrue(sample.GetProperty("rss_mb").GetDouble() > 0, bench.Output);
            Assert.IsTrue(sample.GetProperty("heap_mb").GetDouble() > 0, bench.Output);
            Assert.IsTrue(sample.GetProperty("handles").GetInt32() > 0, bench.Output);
            Assert.IsTrue(sample.GetProperty("threads").GetInt32() > 0, bench.Output);
        }

        Assert.AreEqual(JsonValueKind.Number, samples[^1].GetProperty("live_heap_mb").ValueKind, "The last sample reads the live heap.");
        Assert.IsTrue(root.GetProperty("moves").GetInt64() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("db_writes").GetInt64() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("ai_restart_taken_back").GetInt64() > 3, "The restarted AI took back the zone and the three players. " + bench.Output);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("rss_growth_percent").ValueKind, bench.Output);
    }

    [TestMethod]
    public async Task Bench_WithAnUnknownScenario_Exits2()
    {
        StringAssert.Contains(await RunToUsageErrorAsync("nope"), "Unrecognized command or argument 'nope'");
    }

    [TestMethod]
    public async Task BenchSweep_RunsTheScenarioOncePerValue_AndReportsEveryRun()
    {
        await using var bench = await RunToReportAsync(["fanout", "--sweep", "clients=1,3", "--objects", "2", "--seconds", "0.5", "--warmup", "0"], TimeSpan.FromSeconds(120));
        var root = bench.Report;
        Assert.AreEqual("fanout", root.GetProperty("scenario").GetString());
        Assert.AreEqual("clients", root.GetProperty("sweep").GetString());
        var runs = root.GetProperty("runs").EnumerateArray().ToList();
        CollectionAssert.AreEqual(new[] { 1, 3 }, runs.Select(r => r.GetProperty("clients").GetInt32()).ToArray());
        foreach (var run in runs)
        {
            Assert.AreEqual("fanout", run.GetProperty("scenario").GetString());
            Assert.IsTrue(run.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
            Assert.AreEqual(0, run.GetProperty("errors").GetInt32(), bench.Output);
        }
    }

    [TestMethod]
    public async Task BenchLive_DrawsTheSpectreView_OnStandardError_AndKeepsTheReportOnStandardOutput()
    {
        // --live forces the view although standard error is a pipe here; the report line stays plain JSON.
        await using var bench = await RunToReportAsync(["db", "--objects", "3", "--seconds", "1", "--live"]);
        Assert.AreEqual("db", bench.Report.GetProperty("scenario").GetString());
        StringAssert.Contains(bench.Output, "\u001b[", "the live view draws with ANSI escapes");
        StringAssert.Contains(bench.Output, "committed writes", "the scenario's live counter is on the view");
        StringAssert.Contains(bench.Output, "server RSS MB", "the child server's gauges are on the view");
        Assert.IsFalse(bench.Output.Contains("bench: starting the server", StringComparison.Ordinal), "a live run draws its phases instead of printing plain lines");
    }

    [TestMethod]
    public async Task BenchSweep_WithoutValues_Exits2_AndSaysTheForm()
    {
        StringAssert.Contains(await RunToUsageErrorAsync("fanout", "--sweep", "clients"), "--sweep takes NAME=V1,V2,...");
    }

    /// <summary>
    /// A latency group that was measured: every percentile is above zero (a delivery over loopback takes microseconds,
    /// and the histogram counts whole microseconds, so zero means nothing was timed) and they rise from p50 to max.
    /// </summary>
    private static void AssertMeasuredLatency(JsonElement root, string group, BenchRun bench)
    {
        var latency = root.GetProperty(group);
        double[] values = new[] { "p50", "p95", "p99", "max" }.Select(p => latency.GetProperty(p).GetDouble()).ToArray();
        Assert.IsTrue(values[0] > 0, $"{group}.p50 is {values[0]}: no delivery was timed. {bench.Output}");
        for (int i = 1; i < values.Length; i++)
        {
            Assert.IsTrue(values[i] >= values[i - 1], $"{group}: p50, p95, p99, max must not decrease ({string.Join(", ", values)}).");
        }
    }

    /// <summary>The run saw no error on the bench's side and no client was ejected.</summary>
    private static void AssertNoErrorsNorEjects(JsonElement root, BenchRun bench)
    {
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32(), bench.Output);
    }

    /// <summary>
    /// Runs <c>pastry bench <paramref name="arguments"/> --json</c> (a real process with its own child server) to its
    /// end, checks that it exited 0, and reads its report: the one line of the output that is a JSON object (progress
    /// lines go to standard error).
    /// </summary>
    private static async Task<BenchRun> RunToReportAsync(string[] arguments, TimeSpan? timeout = null)
    {
        var process = PastryProcess.Start(["bench", .. arguments, "--json"]);
        try
        {
            Assert.AreEqual(0, await process.WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(90)), process.Output);
            var lines = process.Output.Split(Environment.NewLine).Where(l => l.StartsWith('{')).ToList();
            Assert.AreEqual(1, lines.Count, process.Output);
            return new BenchRun(process, JsonDocument.Parse(lines[0]));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <c>pastry bench <paramref name="arguments"/></c>, checks that it exited 2 (a usage error), and returns its output.</summary>
    private static async Task<string> RunToUsageErrorAsync(params string[] arguments)
    {
        await using var process = PastryProcess.Start(["bench", .. arguments]);
        Assert.AreEqual(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(90)), process.Output);
        return process.Output;
    }

    /// <summary>A finished bench process and its JSON report.</summary>
    private sealed class BenchRun(PastryProcess process, JsonDocument report) : IAsyncDisposable
    {
        /// <summary>The report's root object.</summary>
        public JsonElement Report => report.RootElement;

        /// <summary>Everything the process printed, for failure messages.</summary>
        public string Output => process.Output;

        public async ValueTask DisposeAsync()
        {
            report.Dispose();
            await process.DisposeAsync();
        }
    }
}
