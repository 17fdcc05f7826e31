using System.Diagnostics;
using System.Diagnostics.Metrics;
using Pastry.Wire;

namespace Pastry.Otp;

/// <summary>
/// Every instrument of the OTP roles on the <c>Pastry</c> meter (ARCHITECTURE 8), in one place: the roles call its
/// one-line hooks at their measurement points, and the gauges read the roles when a collector asks. Readable with
/// <c>dotnet-counters monitor --counters Pastry</c> and exported by the admin endpoint's <c>/metrics</c>. The list with
/// units and meanings is in README.md ("Operate it").
/// </summary>
/// <remarks>
/// Hot-path counts (bytes, frames, deliveries) are plain <see cref="Interlocked"/> sums read by observable counters, so
/// that a send costs two atomic adds whether anyone listens or not; histograms record once per batch, never per frame.
/// </remarks>
public sealed class OtpMetrics : IDisposable
{
    /// <summary>The meter's name, for <c>dotnet-counters</c> and OpenTelemetry's <c>AddMeter</c>.</summary>
    public const string MeterName = "Pastry";

    // Bucket bounds that fit what is measured (the exporter's defaults are milliseconds-sized).
    private static readonly int[] CountBuckets = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096 };
    private static readonly int[] ByteBuckets = { 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576 };
    private static readonly double[] SecondBuckets = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1 };

    private readonly Meter meter = new(MeterName, "1.0");
    private readonly Counter<long> ejects;
    private readonly Counter<long> sessionsOpened;
    private readonly Counter<long> logins;
    private readonly Counter<long> resumes;
    private readonly Histogram<int> framesPerSend;
    private readonly Histogram<int> outboxDepth;
    private readonly Histogram<double> flushDuration;
    private readonly Histogram<int> databaseBatchSize;
    private readonly Histogram<double> databaseCommitDuration;
    private readonly Counter<long> databaseErrors;
    private int sessions;
    private long bytesIn;
    private long framesIn;
    private long bytesOut;
    private long framesOut;
    private long loginsTotal;
    private long ejectsTotal;

    /// <summary>Creates the instruments that need no role; <see cref="Track"/> adds the gauges that read the roles.</summary>
    internal OtpMetrics()
    {
        ejects = meter.CreateCounter<long>("pastry.client_agent.ejects", unit: "{eject}", description: "Sessions ejected, by code");
        sessionsOpened = meter.CreateCounter<long>("pastry.client_agent.sessions_opened", unit: "{session}", description: "Client connections accepted");
        meter.CreateObservableGauge("pastry.client_agent.sessions", () => Volatile.Read(ref sessions), unit: "{session}", description: "Connected client sessions");
        meter.CreateObservableCounter("pastry.client_agent.bytes_in", () => Interlocked.Read(ref bytesIn), unit: "By", description: "Bytes received from clients");
        meter.CreateObservableCounter("pastry.client_agent.frames_in", () => Interlocked.Read(ref framesIn), unit: "{frame}", description: "Frames received from clients");
        meter.CreateObservableCounter("pastry.client_agent.bytes_out", () => Interlocked.Read(ref bytesOut), unit: "By", description: "Bytes written to clients");
        meter.CreateObservableCounter("pastry.client_agent.frames_out", () => Interlocked.Read(ref framesOut), unit: "{frame}", description: "Frames written to clients");
        framesPerSend = meter.CreateHistogram("pastry.client_agent.frames_per_send", unit: "{frame}", description: "Frames in one batched socket write", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = CountBuckets });
        outboxDepth = meter.CreateHistogram("pastry.client_agent.outbox_depth", unit: "By", description: "Bytes queued in a session's outbox when its send loop takes them", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = ByteBuckets });
        flushDuration = meter.CreateHistogram("pastry.client_agent.flush.duration", unit: "s", description: "Time of one flush round: one batched write of a session's outbox to its socket", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondBuckets });
        resumes = meter.CreateCounter<long>("pastry.client_agent.resumes", unit: "{resume}", description: "Resume attempts, by outcome (replay, snapshot, refused)");
        logins = meter.CreateCounter<long>("pastry.logins", unit: "{login}", description: "Login attempts, by outcome (ok, failed, throttled)");
        databaseBatchSize = meter.CreateHistogram("pastry.database.batch_size", unit: "{request}", description: "Requests in one database transaction", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = CountBuckets });
        databaseCommitDuration = meter.CreateHistogram("pastry.database.commit.duration", unit: "s", description: "Time of one database batch, from its first statement to its commit", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondBuckets });
        databaseErrors = meter.CreateCounter<long>("pastry.database.errors", unit: "{error}", description: "Failed database statements and rolled-back batches");
    }

    /// <summary>Connected sessions now.</summary>
    public int Sessions => Volatile.Read(ref sessions);

    /// <summary>Adds the gauges that read <paramref name="server"/>'s roles (objects, zones, interests, mailboxes, links, deliveries).</summary>
    internal void Track(OtpServer server)
    {
        meter.CreateObservableGauge("pastry.state_server.objects", () => server.StateServer.ObjectCount, unit: "{object}", description: "Objects in the State Server's RAM");
        meter.CreateObservableGauge("pastry.state_server.zones", () => server.StateServer.ZoneCount, unit: "{zone}", description: "Locations (parent, zone) that hold at least one object");
        meter.CreateObservableGauge("pastry.client_agent.parked_sessions", () => server.ClientAgent.ParkedCount, unit: "{session}", description: "Sessions whose connection dropped, waiting for a resume within the grace period");
        meter.CreateObservableGauge("pastry.client_agent.interests", () => server.ClientAgent.InterestCount, unit: "{interest}", description: "Interests held by all sessions");
        meter.CreateObservableGauge("pastry.message_director.links", () => server.MessageDirector.LinkCount, unit: "{link}", description: "Participants (AIs, tools) connected to the Message Director over TCP");
        meter.CreateObservableGauge("pastry.message_director.link_subscriptions", () => server.MessageDirector.SubscriptionCount, unit: "{subscription}", description: "Channels and zone ranges subscribed by all Message Director links (bounded per link, freed on close)");
        meter.CreateObservableGauge("pastry.message_director.post_removes", () => server.MessageDirector.PostRemoveCount, unit: "{message}", description: "Post-remove messages held for all Message Director links (bounded per link, run and freed on close)");
        meter.CreateObservableGauge("pastry.message_director.post_remove_size", () => server.MessageDirector.PostRemoveBytes, unit: "By", description: "Bytes of the post-remove messages held for all Message Director links");
        meter.CreateObservableCounter("pastry.message_director.refused_links", () => server.MessageDirector.RefusedLinks, unit: "{link}", description: "Message Director links refused: failed handshakes, per-link limits, forbidden messages");
        meter.CreateObservableCounter("pastry.message_director.deliveries", () => server.Deliveries, unit: "{delivery}", description: "Messages handed to subscribers by the in-process Message Director");
    }

    /// <summary>Counts a resume: replayed what was missed, sent a fresh snapshot, or refused.</summary>
    internal void Resumed(bool replay) => resumes.Add(1, new KeyValuePair<string, object?>("outcome", replay ? "replay" : "snapshot"));

    /// <summary>Counts a refused resume.</summary>
    internal void ResumeRefused(ResumeStatus status) => resumes.Add(1, new KeyValuePair<string, object?>("outcome", "refused"), new KeyValuePair<string, object?>("status", status.ToString()));

    /// <summary>Counts an eject.</summary>
    internal void Ejected(EjectCode code)
    {
        Interlocked.Increment(ref ejectsTotal);
        ejects.Add(1, new KeyValuePair<string, object?>("code", (int)code));
    }

    /// <summary>Counts a new session.</summary>
    internal void SessionOpened()
    {
        Interlocked.Increment(ref sessions);
        sessionsOpened.Add(1);
    }

    /// <summary>Counts a closed session.</summary>
    internal void SessionClosed() => Interlocked.Decrement(ref sessions);

    /// <summary>Counts what one read from a client brought: its bytes and the whole frames handled from it.</summary>
    internal void Received(long bytes, int frames)
    {
        Interlocked.Add(ref bytesIn, bytes);
        Interlocked.Add(ref framesIn, frames);
    }

    /// <summary>Counts one batched write to a client (whole frames, as the outbox holds them) and how long it took.</summary>
    internal void Flushed(int bytes, int frames, long startedTimestamp)
    {
        Interlocked.Add(ref bytesOut, bytes);
        Interlocked.Add(ref framesOut, frames);
        framesPerSend.Record(frames);
        outboxDepth.Record(bytes);
        flushDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds);
    }

    /// <summary>Counts a login attempt: <c>ok</c>, <c>failed</c> or <c>throttled</c>.</summary>
    internal void Login(string outcome)
    {
        Interlocked.Increment(ref loginsTotal);
        logins.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    }

    /// <summary>The running totals the dashboard turns into rates (the same numbers the instruments report).</summary>
    internal MetricTotals Totals() => new(
        Interlocked.Read(ref bytesIn),
        Interlocked.Read(ref framesIn),
        Interlocked.Read(ref bytesOut),
        Interlocked.Read(ref framesOut),
        Interlocked.Read(ref loginsTotal),
        Interlocked.Read(ref ejectsTotal));

    /// <summary>Records one database batch: its size, its time, and whether it was rolled back.</summary>
    internal void DatabaseBatch(int requests, long startedTimestamp, bool failed)
    {
        databaseBatchSize.Record(requests);
        databaseCommitDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds);
        if (failed)
        {
            databaseErrors.Add(1, new KeyValuePair<string, object?>("scope", "batch"));
        }
    }

    /// <summary>Counts one failed statement inside a batch that still commits.</summary>
    internal void DatabaseStatementFailed() => databaseErrors.Add(1, new KeyValuePair<string, object?>("scope", "statement"));

    /// <inheritdoc />
    public void Dispose() => meter.Dispose();
}

/// <summary>Running totals of the hot-path counters, for the dashboard's rate charts.</summary>
internal readonly record struct MetricTotals(long BytesIn, long FramesIn, long BytesOut, long FramesOut, long Logins, long Ejects);
