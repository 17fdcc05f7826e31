using System.Text.Json;
using System.Text.Json.Serialization;
using Pastry.Otp.ClientAgent;
using Pastry.Otp.StateServer;

namespace Pastry.Otp.Admin;

/// <summary>
/// What the dashboard shows, gathered in one object per refresh: totals for the rate charts, one page of sessions,
/// the State Server's snapshot (zones, the zone graph, AIs, the map), recent ejects and the database's state.
/// Everything grows with the world is bounded here: sessions come a page at a time, locations fullest first.
/// </summary>
internal static class DashboardFeed
{
    /// <summary>Sessions in one page when the page does not say.</summary>
    public const int DefaultPageSize = 50;

    /// <summary>The most sessions one page may ask for: a refresh costs the same with 50 sessions or 50,000.</summary>
    public const int MaxPageSize = 200;

    public static readonly JsonSerializerOptions JsonOptions = CreateJsonOptions();

    public static async Task<Overview> BuildAsync(OtpServer? server, AdminOptions options, AdminReadiness readiness, SnapshotCache cache, int offset, int count, string? filter, CancellationToken cancellation)
    {
        var map = options.Map;
        var mapInfo = new MapInfo(map.ParentId, map.Width, map.Height, map.FirstZone, map.CellSize);
        var ready = readiness.Check();
        if (server is null)
        {
            return new Overview(DateTime.UtcNow, Environment.ProcessId, ready, null, null, null, Array.Empty<EjectRecord>(), null, mapInfo);
        }

        var state = await cache.GetAsync(server, map, cancellation).ConfigureAwait(false);
        var (total, page) = server.ClientAgent.Sessions(offset, count, filter);
        var totals = server.Metrics.Totals();
        var db = server.Database;
        return new Overview(
            DateTime.UtcNow,
            Environment.ProcessId,
            ready,
            new Counters(total, server.ClientAgent.InterestCount, totals.BytesIn, totals.FramesIn, totals.BytesOut, totals.FramesOut, server.Deliveries, totals.Logins, totals.Ejects, db?.CommittedWrites ?? 0, db?.Batches ?? 0, server.MessageDirector.LinkCount),
            new SessionPage(total, offset, page),
            state,
            server.ClientAgent.RecentEjects,
            db is null ? new DatabaseInfo(false, false, string.Empty, 0, 0, 0, null) : new DatabaseInfo(true, db.IsOpen, db.FullPath, db.Batches, db.CommittedWrites, db.MailboxDepth, db.LastError),
            mapInfo);
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        json.Converters.Add(new DoIdConverter());
        json.MakeReadOnly(populateMissingResolver: true);
        return json;
    }

    public sealed record Overview(DateTime At, int ProcessId, IReadOnlyList<ReadinessResult> Readiness, Counters? Counters, SessionPage? Sessions, StateSnapshot? State, IReadOnlyList<EjectRecord> Ejects, DatabaseInfo? Database, MapInfo Map);

    public sealed record Counters(int Sessions, int Interests, long BytesIn, long FramesIn, long BytesOut, long FramesOut, long Deliveries, long Logins, long Ejects, long DatabaseWrites, long DatabaseBatches, int MessageDirectorLinks);

    public sealed record SessionPage(int Total, int Offset, IReadOnlyList<SessionInfo> Items);

    public sealed record DatabaseInfo(bool Enabled, bool Open, string Path, long Batches, long Writes, int Queued, string? LastError);

    public sealed record MapInfo(DoId Parent, int Width, int Height, uint FirstZone, float CellSize);

    /// <summary>DoIds travel as their UUID text.</summary>
    private sealed class DoIdConverter : JsonConverter<DoId>
    {
        public override DoId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => DoId.Parse(reader.GetString() ?? string.Empty);

        public override void Write(Utf8JsonWriter writer, DoId value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }
}

/// <summary>
/// One State Server snapshot serves every open page for up to a second: a scan of a big world costs the State Server's
/// task once per refresh, however many operators watch.
/// </summary>
internal sealed class SnapshotCache
{
    private volatile Entry? latest;

    public async Task<StateSnapshot> GetAsync(OtpServer server, AdminMapOptions map, CancellationToken cancellation)
    {
        var entry = latest;
        if (entry is null || !ReferenceEquals(entry.Server, server) || Environment.TickCount64 - entry.TakenMs >= 900)
        {
            entry = new Entry(server, Environment.TickCount64, server.StateServer.SnapshotAsync(new StateQuery(map.ParentId, map.PositionField), CancellationToken.None));
            latest = entry;
        }

        return await entry.Snapshot.WaitAsync(cancellation).ConfigureAwait(false);
    }

    private sealed record Entry(OtpServer Server, long TakenMs, Task<StateSnapshot> Snapshot);
}
