using System.Diagnostics;

namespace Pastry.Bench;

/// <summary>
/// <c>pastry bench objects</c>: the server's memory per idle RAM object. The bench AI creates one
/// <see cref="BenchZone"/> at the root and M <see cref="BenchEntity"/> objects under it, spread round-robin over Z
/// zones, with both of their small fields set (<c>Value</c>: int, Required Ram Broadcast; <c>SentTicks</c>: long,
/// Ram Broadcast); no client connects and nothing changes afterwards. A warm-up batch is created first, so that code
/// paths and pools are warm before the baseline; the result is the growth of the server's memory while the M objects
/// are created, divided by M: RSS as found, RSS after a full compacting GC, and the managed heap after that GC.
/// </summary>
internal static class ObjectsScenario
{
    private const int WarmUpObjects = 1000;

    /// <summary>Creates in flight at most: enough to keep the link busy, few enough that no queue of creates inflates a reading.</summary>
    private const int CreateWindow = 8192;

    /// <summary>The fields of every measured object, as the report states them.</summary>
    private const string Fields = "BenchEntity: Value int (Required, Ram, Broadcast) + SentTicks long (Ram, Broadcast), both set";

    public static async Task<BenchReport> RunAsync(Settings settings, CancellationToken cancellation)
    {
        await using var server = await BenchRunner.StartServerAsync(settings.Options, needsDirector: true, Array.Empty<string>(), cancellation).ConfigureAwait(false);
        if (server.ReadRssBytes() is null)
        {
            throw new BenchUsageException("bench objects reads the server's memory: run it without --target, or give --pid of the target server.");
        }

        await using var ai = await BenchAi.ConnectAsync(server, cancellation).ConfigureAwait(false);
        var parent = ai.CreateParent("objects");
        await ai.CreateEntitiesAsync(parent.DoId, WarmUpObjects, settings.Zones, CreateWindow, 0, cancellation).ConfigureAwait(false);
        var before = await IdleScenario.ReadMemoryAsync(server, ai, settings.Settle, cancellation).ConfigureAwait(false);
        if (before.RssAfterGc is null)
        {
            throw new BenchException("the server did not answer the memory query (MemoryQuery to its diagnostics role) within 30 s");
        }

        BenchRunner.Progress($"with {WarmUpObjects} warm-up objects: {before}");

        var started = Stopwatch.GetTimestamp();
        using (BenchProgress.Current.Counter("objects placed", () => ai.Placed))
        {
            await ai.CreateEntitiesAsync(parent.DoId, settings.Objects, settings.Zones, CreateWindow, WarmUpObjects, cancellation).ConfigureAwait(false);
        }

        double createSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        BenchRunner.Progress($"created {settings.Objects} objects in {settings.Zones} zones in {createSeconds:0.0} s");

        var after = await IdleScenario.ReadMemoryAsync(server, ai, settings.Settle, cancellation).ConfigureAwait(false);
        BenchRunner.Progress($"with {settings.Objects} more objects: {after}");
        server.EnsureAlive();

        return new BenchReport("objects")
            .Add("server", "server", server.IsChild ? "child" : "target")
            .Add("objects", "idle objects measured", settings.Objects)
            .Add("zones", "zones (of one parent)", (int)settings.Zones)
            .Add("fields", "fields per object", Fields)
            .Add("warmup_objects", "warm-up objects (before)", WarmUpObjects)
            .Add("create_seconds", "time to create them", Math.Round(createSeconds, 2), "s")
            .Add("server_rss_baseline_mb", "server RSS before, after a full GC", IdleScenario.Megabytes(before.Baseline), "MB")
            .Add("server_rss_mb", "server RSS after, as found", IdleScenario.Megabytes(after.Rss), "MB")
            .Add("server_rss_after_gc_mb", "server RSS after, after a full GC", IdleScenario.Megabytes(after.RssAfterGc), "MB")
            .Add("managed_heap_before_mb", "managed heap before", IdleScenario.Megabytes(before.Managed), "MB")
            .Add("managed_heap_after_mb", "managed heap after", IdleScenario.Megabytes(after.Managed), "MB")
            .Add("bytes_per_object_without_gc", "RSS per object, as found", PerObject(before.Baseline, after.Rss, settings.Objects), "bytes")
            .Add("bytes_per_object", "RSS per object, after a full GC", PerObject(before.RssAfterGc, after.RssAfterGc, settings.Objects), "bytes")
            .Add("managed_bytes_per_object", "managed heap per object", PerObject(before.Managed, after.Managed, settings.Objects), "bytes")
            .Add("goal_bytes_per_object", "goal", 1024, "bytes")
            .Add("errors", "errors (refusals)", ai.Errors)
            .Add("server_warnings", "server warnings logged", server.Warnings);
    }

    private static double? PerObject(long? before, long? after, int objects) =>
        before is long b && after is long a ? Math.Round((double)(a - b) / objects, 1) : null;

    /// <summary>The options of <c>pastry bench objects</c>.</summary>
    public sealed record Settings(BenchOptions Options, int Objects, uint Zones, double Settle)
    {
        public static Settings From(BenchOptions options)
        {
            BenchRunner.AllowOnly(options, "objects", "zones", "settle");
            return new Settings(
                options,
                BenchRunner.Int(options, "objects", 1),
                (uint)BenchRunner.Int(options, "zones", 1),
                BenchRunner.Number(options, "settle", 0));
        }
    }
}
