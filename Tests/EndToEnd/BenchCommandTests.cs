using System.Text.Json;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// <c>pastry bench</c> end to end: the bench process starts its own server, runs a short load and prints one JSON
/// object. Only the shape and sanity of the report are checked, never timings (this machine is shared).
/// </summary>
[TestClass]
public sealed class BenchCommandTests
{
    [TestMethod]
    public async Task BenchFanout_WithAChildServer_DeliversUpdates_AndReportsJson()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--clients", "3", "--objects", "2", "--seconds", "1", "--warmup", "0", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("fanout", root.GetProperty("scenario").GetString());
        Assert.AreEqual(3, root.GetProperty("clients").GetInt32());
        Assert.AreEqual(2, root.GetProperty("objects").GetInt32());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("sets_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32(), bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);

        Assert.IsTrue(root.GetProperty("server_rss_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("server_cpu_percent").ValueKind);
        Assert.IsTrue(root.GetProperty("bytes_out_per_sec").GetDouble() > 0);
    }

    [TestMethod]
    public async Task BenchFanout_OverWebSocket_DeliversUpdates_AndReportsRssAfterTheLoad()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--clients", "3", "--objects", "2", "--seconds", "1", "--warmup", "0", "--transport", "ws", "--rss-after", "1", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("ws", root.GetProperty("transport").GetString());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32(), bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);
        foreach (string figure in new[] { "server_rss_before_load_mb", "server_rss_peak_mb", "server_rss_after_mb", "server_rss_after_goal_mb" })
        {
            Assert.IsTrue(root.GetProperty(figure).GetDouble() > 0, figure);
        }
    }

    [TestMethod]
    public async Task BenchRelay_OverWebSocket_DeliversSets()
    {
        await using var bench = PastryProcess.Start("bench", "relay", "--clients", "3", "--rate", "50", "--seconds", "1", "--warmup", "0", "--transport", "ws", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("ws", root.GetProperty("transport").GetString());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);
    }

    [TestMethod]
    public async Task BenchFanout_UnknownTransport_IsAUsageError()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--transport", "udp");
        Assert.AreNotEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(60)), bench.Output);
        StringAssert.Contains(bench.Output, "--transport must be tcp or ws");
    }

    [TestMethod]
    public async Task BenchGrid_ClientsWalkAcrossCells_UpdatesAreDelivered_AndInterestFollows()
    {
        // Three cells per side and a fast walk, so that avatars cross cells (and interests change) within a second.
        await using var bench = PastryProcess.Start("bench", "grid", "--clients", "6", "--grid", "3", "--speed", "200", "--hz", "10", "--seconds", "1", "--warmup", "0.5", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("grid", root.GetProperty("scenario").GetString());
        Assert.AreEqual(6, root.GetProperty("clients").GetInt32());
        Assert.AreEqual(3, root.GetProperty("grid").GetInt32());
        Assert.IsTrue(root.GetProperty("sets_per_sec").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("receivers_per_update").GetDouble() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("interest_changes").GetInt64() > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("moves_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32(), bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);

        AssertMeasuredLatency(root, "interest_change_ms", bench);
        Assert.IsTrue(root.GetProperty("server_rss_baseline_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("server_cpu_s_per_million").ValueKind);
    }

    [TestMethod]
    public async Task BenchFanout_PercentOfPeak_MeasuresThePeakFirst_ThenRunsAtThatShareOfIt()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--clients", "3", "--objects", "2", "--seconds", "1", "--warmup", "0", "--percent-of-peak", "50", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual(50, root.GetProperty("percent_of_peak").GetDouble());
        double peakSets = root.GetProperty("peak_sets_per_sec").GetDouble();
        Assert.IsTrue(peakSets > 0, bench.Output);
        Assert.IsTrue(root.GetProperty("peak_deliveries_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(Math.Max(1, peakSets / 2), root.GetProperty("rate").GetDouble(), 0.1, "the paced phase runs at half the peak's update rate");
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertMeasuredLatency(root, "peak_latency_ms", bench);
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32(), bench.Output);
    }

    [TestMethod]
    public async Task BenchFanout_RateAndPercentOfPeakTogether_IsAUsageError()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--rate", "100", "--percent-of-peak", "50");
        Assert.AreEqual(2, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        StringAssert.Contains(bench.Output, "--percent-of-peak");
    }

    [TestMethod]
    public async Task BenchIdle_WithAChildServer_ReportsMemoryPerSession()
    {
        await using var bench = PastryProcess.Start("bench", "idle", "--clients", "3", "--settle", "0", "--cpu-seconds", "1", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("idle", root.GetProperty("scenario").GetString());
        Assert.AreEqual(3, root.GetProperty("clients").GetInt32());
        Assert.IsTrue(root.GetProperty("server_rss_after_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("kib_per_session").ValueKind, "the child server answers the memory query, so the after-GC figure is known");
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("managed_kib_per_session").ValueKind);
        Assert.IsGreaterThanOrEqualTo(0.0, root.GetProperty("server_cpu_percent_no_sessions").GetDouble());
        Assert.IsGreaterThanOrEqualTo(0.0, root.GetProperty("server_cpu_percent_idle_sessions").GetDouble());
        Assert.AreEqual(0, root.GetProperty("errors").GetInt32(), bench.Output);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32(), bench.Output);
    }

    [TestMethod]
    public async Task BenchObjects_WithAChildServer_ReportsMemoryPerObject()
    {
        await using var bench = PastryProcess.Start("bench", "objects", "--objects", "50", "--zones", "3", "--settle", "0", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
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
        await using var bench = PastryProcess.Start("bench", "relay", "--clients", "3", "--rate", "50", "--seconds", "1", "--warmup", "0", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("relay", root.GetProperty("scenario").GetString());
        Assert.IsTrue(root.GetProperty("deliveries_per_sec").GetDouble() > 0, bench.Output);
        AssertMeasuredLatency(root, "latency_ms", bench);
        Assert.AreEqual(0, root.GetProperty("ejects").GetInt32());
    }

    [TestMethod]
    public async Task BenchClientMem_ReportsBytesPerObjectInView()
    {
        await using var bench = PastryProcess.Start("bench", "clientmem", "--objects", "20", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        Assert.AreEqual(20, report.RootElement.GetProperty("objects").GetInt32());
        Assert.AreEqual(JsonValueKind.Number, report.RootElement.GetProperty("bytes_per_object").ValueKind);
    }

    [TestMethod]
    public async Task BenchChurn_CountsSessions()
    {
        await using var bench = PastryProcess.Start("bench", "churn", "--workers", "2", "--objects", "3", "--accounts", "4", "--warmup", "0.2", "--seconds", "1", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
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
        await using var bench = PastryProcess.Start("bench", "db", "--objects", "5", "--window", "16", "--seconds", "1", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        Assert.IsTrue(report.RootElement.GetProperty("committed_writes_per_sec").GetDouble() > 0, bench.Output);
        Assert.AreEqual(0, report.RootElement.GetProperty("errors").GetInt32(), bench.Output);
    }

    [TestMethod]
    public async Task BenchSoak_ForAFewSeconds_ReportsSamplesOfTheServersResources_AndTheAiRestart()
    {
        // The report's shape, not its timing: a few seconds with three bots that drop their connections often.
        await using var bench = PastryProcess.Start("bench", "soak", "--bots", "3", "--minutes", "0.1", "--sample-seconds", "1", "--drop-every", "2", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(120)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
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
        await using var bench = PastryProcess.Start("bench", "nope");
        Assert.AreEqual(2, await bench.WaitForExitAsync());
        StringAssert.Contains(bench.Output, "Unrecognized command or argument 'nope'");
    }

    [TestMethod]
    public async Task BenchSweep_RunsTheScenarioOncePerValue_AndReportsEveryRun()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--sweep", "clients=1,3", "--objects", "2", "--seconds", "0.5", "--warmup", "0", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(120)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
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
        await using var bench = PastryProcess.Start("bench", "db", "--objects", "3", "--seconds", "1", "--live", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        Assert.AreEqual("db", report.RootElement.GetProperty("scenario").GetString());
        StringAssert.Contains(bench.Output, "\u001b[", "the live view draws with ANSI escapes");
        StringAssert.Contains(bench.Output, "committed writes", "the scenario's live counter is on the view");
        StringAssert.Contains(bench.Output, "server RSS MB", "the child server's gauges are on the view");
        Assert.IsFalse(bench.Output.Contains("bench: starting the server", StringComparison.Ordinal), "a live run draws its phases instead of printing plain lines");
    }

    [TestMethod]
    public async Task BenchSweep_WithoutValues_Exits2_AndSaysTheForm()
    {
        await using var bench = PastryProcess.Start("bench", "fanout", "--sweep", "clients");
        Assert.AreEqual(2, await bench.WaitForExitAsync());
        StringAssert.Contains(bench.Output, "--sweep takes NAME=V1,V2,...");
    }

    /// <summary>
    /// A latency group that was measured: every percentile is above zero (a delivery over loopback takes microseconds,
    /// and the histogram counts whole microseconds, so zero means nothing was timed) and they rise from p50 to max.
    /// </summary>
    private static void AssertMeasuredLatency(JsonElement root, string group, PastryProcess bench)
    {
        var latency = root.GetProperty(group);
        double[] values = new[] { "p50", "p95", "p99", "max" }.Select(p => latency.GetProperty(p).GetDouble()).ToArray();
        Assert.IsTrue(values[0] > 0, $"{group}.p50 is {values[0]}: no delivery was timed. {bench.Output}");
        for (int i = 1; i < values.Length; i++)
        {
            Assert.IsTrue(values[i] >= values[i - 1], $"{group}: p50, p95, p99, max must not decrease ({string.Join(", ", values)}).");
        }
    }

    private static JsonDocument ReadReport(PastryProcess bench)
    {
        // Progress lines go to standard error; the report is the one line that is a JSON object.
        var lines = bench.Output.Split(Environment.NewLine).Where(l => l.StartsWith('{')).ToList();
        Assert.AreEqual(1, lines.Count, bench.Output);
        return JsonDocument.Parse(lines[0]);
    }
}
