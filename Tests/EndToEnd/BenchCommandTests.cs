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
        foreach (string percentile in new[] { "p50", "p95", "p99", "max" })
        {
            Assert.IsTrue(root.GetProperty("latency_ms").GetProperty(percentile).GetDouble() >= 0);
        }

        Assert.IsTrue(root.GetProperty("server_rss_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("server_cpu_percent").ValueKind);
        Assert.IsTrue(root.GetProperty("bytes_out_per_sec").GetDouble() > 0);
    }

    [TestMethod]
    public async Task BenchIdle_WithAChildServer_ReportsMemoryPerSession()
    {
        await using var bench = PastryProcess.Start("bench", "idle", "--clients", "3", "--settle", "0", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        var root = report.RootElement;
        Assert.AreEqual("idle", root.GetProperty("scenario").GetString());
        Assert.AreEqual(3, root.GetProperty("clients").GetInt32());
        Assert.IsTrue(root.GetProperty("server_rss_after_mb").GetDouble() > 0);
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("kib_per_session").ValueKind, "the child server answers the memory query, so the after-GC figure is known");
        Assert.AreEqual(JsonValueKind.Number, root.GetProperty("managed_kib_per_session").ValueKind);
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
        Assert.IsTrue(root.GetProperty("latency_ms").GetProperty("p99").GetDouble() >= 0);
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
        await using var bench = PastryProcess.Start("bench", "churn", "--workers", "2", "--objects", "3", "--seconds", "1", "--json");
        Assert.AreEqual(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)), bench.Output);

        using var report = ReadReport(bench);
        Assert.IsTrue(report.RootElement.GetProperty("sessions").GetInt32() > 0, bench.Output);
        Assert.AreEqual(0, report.RootElement.GetProperty("errors").GetInt32(), bench.Output);
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
    public async Task Bench_WithAnUnknownScenario_Exits2()
    {
        await using var bench = PastryProcess.Start("bench", "nope");
        Assert.AreEqual(2, await bench.WaitForExitAsync());
        StringAssert.Contains(bench.Output, "Unknown bench scenario 'nope'");
    }

    private static JsonDocument ReadReport(PastryProcess bench)
    {
        // Progress lines go to standard error; the report is the one line that is a JSON object.
        var lines = bench.Output.Split(Environment.NewLine).Where(l => l.StartsWith('{')).ToList();
        Assert.AreEqual(1, lines.Count, bench.Output);
        return JsonDocument.Parse(lines[0]);
    }
}
