using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

// Sessions that survive a dropped connection: parking for the grace period, resume tokens, and the hand-over of a new
// connection to the parked session (issue 18). The session object stays the router's participant throughout, so no
// subscription changes hands and no routed message can slip between two owners.
internal sealed partial class ClientSession
{
    /// <summary>Random bytes of a resume token's secret part: 256 bits from the OS's CSPRNG.</summary>
    internal const int ResumeSecretBytes = 32;

    /// <summary>A token: the agent's epoch (8 bytes), the session's id (16), the secret (<see cref="ResumeSecretBytes"/>).</summary>
    internal const int ResumeTokenBytes = 8 + DoId.Size + ResumeSecretBytes;

    private ResumeRequest? pendingResume;
    private bool handedOver;
    private byte[]? resumeSecret;
    private long appendedBytes;
    private PooledBufferWriter? parkedQueue;
    private bool parkedOverflow;
    private long parkedAtMs;
    private TaskCompletionSource<Handover?>? resumeWaiter;
    private Handover? pendingHandover;
    private HashSet<uint>? snapshotQueries;

    /// <summary>Whether the session is parked (its connection dropped, its grace period runs).</summary>
    public bool IsParked => stage == SessionStage.Parked;

    /// <summary>
    /// Client message Resume, first on a new connection: checks version and schema as Hello does, then stops reading
    /// so that <see cref="RunConnectionAsync"/> can hand the connection to the parked session outside this lock.
    /// </summary>
    private bool OnResume(ref WireReader reader)
    {
        ulong hash = reader.ReadUInt64();
        string version = reader.ReadString();
        var claimedAccount = reader.ReadDoId();
        var token = reader.ReadBytesSpan();
        long receivedBytes = reader.ReadInt64();
        reader.EnsureAtEnd();
        if (!CheckHello(hash, version))
        {
            return false;
        }

        pendingResume = new ResumeRequest(claimedAccount, token.ToArray(), receivedBytes);
        return false;
    }

    /// <summary>
    /// Checks <paramref name="secret"/> against this session's token and, when it matches, takes the new connection:
    /// the token is spent at once (single use), a live old connection is told 351 and dropped, and the session
    /// continues on <paramref name="handover"/>. Runs under this session's lock; never waits.
    /// </summary>
    internal ResumeStatus TryTakeOver(DoId claimedAccount, ReadOnlySpan<byte> secret, Handover handover)
    {
        lock (sync)
        {
            // Constant-time comparison: how long a refusal takes reveals nothing about the secret.
            bool matches = resumeSecret is not null && CryptographicOperations.FixedTimeEquals(resumeSecret, secret);
            if (stage is not (SessionStage.Established or SessionStage.Parked) || !matches || claimedAccount != account || pendingHandover is not null)
            {
                return ResumeStatus.SessionGone;
            }

            resumeSecret = null;
            if (stage == SessionStage.Established)
            {
                // The client came back before the server noticed the old connection die: that connection ends (351).
                logger.LogInformation("{Session} (account {Account}) resumed from {Remote}; its old connection ends with {Code}", Name, account, handover.Remote, (int)EjectCode.ResumedElsewhere);
                agent.OnEjected(this, EjectCode.ResumedElsewhere, "resumed from another connection");
                ParkNow(force: true);
                scratch.Reset();
                ClientFrames.WriteEject(scratch, EjectCode.ResumedElsewhere, $"this session was resumed from another connection ({handover.Remote})");
                outbox.AppendFinal(scratch.WrittenSpan);
                stopReading.Cancel();
            }

            if (resumeWaiter is not null)
            {
                resumeWaiter.TrySetResult(handover);
                resumeWaiter = null;
            }
            else
            {
                // The old connection is still winding down; the session takes this one as soon as it has.
                pendingHandover = handover;
            }

            return ResumeStatus.Ok;
        }
    }

    /// <summary>After a connection ended: parks an established session (within the cap). Returns whether it is parked.</summary>
    private bool Park()
    {
        lock (sync)
        {
            return stage == SessionStage.Parked || (stage == SessionStage.Established && ParkNow(force: false));
        }
    }

    /// <summary>Parks now (under the lock): the session keeps everything, and what it is sent waits in a bounded queue.</summary>
    private bool ParkNow(bool force)
    {
        if (resumeSecret is null && !force)
        {
            return false;
        }

        if (!agent.TryPark(force))
        {
            logger.LogWarning("{Session} (account {Account}): not parked, {Max} sessions are parked already (ClientAgent:MaxParkedSessions)", Name, account, agent.Options.MaxParkedSessions);
            return false;
        }

        stage = SessionStage.Parked;
        parkedAtMs = Environment.TickCount64;
        parkedOverflow = false;
        parkedQueue = new PooledBufferWriter(256);
        logger.LogInformation("{Session} (account {Account}) parked for a resume within {Grace} s", Name, account, agent.Options.ResumeGrace.TotalSeconds);
        agent.SweepBy(NextCheckMs);
        return true;
    }

    /// <summary>Queues frames for a parked session, up to <see cref="ClientAgentOptions.ResumeQueueBytes"/>; past that it will get a fresh snapshot instead.</summary>
    private bool AppendParked(ReadOnlySpan<byte> frames)
    {
        if (parkedOverflow)
        {
            return true;
        }

        if (parkedQueue is null || parkedQueue.WrittenCount + frames.Length > agent.Options.ResumeQueueBytes)
        {
            parkedOverflow = true;
            parkedQueue?.Dispose();
            parkedQueue = null;
            return true;
        }

        parkedQueue.WriteRaw(frames);
        return true;
    }

    /// <summary>Waits for a resume (the connection to continue on) or the end of the grace period (null).</summary>
    private Task<Handover?> WaitForResumeAsync()
    {
        lock (sync)
        {
            if (stage != SessionStage.Parked)
            {
                return Task.FromResult<Handover?>(null);
            }

            if (pendingHandover is { } ready)
            {
                pendingHandover = null;
                return Task.FromResult<Handover?>(ready);
            }

            resumeWaiter = new TaskCompletionSource<Handover?>(TaskCreationOptions.RunContinuationsAsynchronously);
            return resumeWaiter.Task;
        }
    }

    /// <summary>Ends the grace period of a parked session whose time is up: the normal cleanup runs.</summary>
    private void CheckGrace(long nowMs)
    {
        lock (sync)
        {
            if (stage == SessionStage.Parked && pendingHandover is null && nowMs - parkedAtMs > agent.Options.ResumeGrace.TotalMilliseconds)
            {
                logger.LogInformation("{Session} (account {Account}) was not resumed within {Grace} s; closing it", Name, account, agent.Options.ResumeGrace.TotalSeconds);
                EndParking();
            }
        }
    }

    /// <summary>Ends a parked session (grace over, kicked by a login elsewhere, ejected, shutdown); under the lock.</summary>
    private void EndParking()
    {
        stage = SessionStage.Closed;
        resumeSecret = null;
        resumeWaiter?.TrySetResult(null);
        resumeWaiter = null;

        // Closed from Parked: CloseForGoodAsync no longer sees it parked, so the count drops here.
        agent.Unparked();
    }

    /// <summary>
    /// Continues the session on the connection a resume handed over: a new outbox, the answer, a new token, then what
    /// the client missed. The queue replays when the client read every byte sent before the drop and the queue did not
    /// overflow; otherwise a fresh snapshot of the view follows (Enter for every object, then ResumeSnapshotDone).
    /// </summary>
    private void Adopt(Handover handover)
    {
        lock (sync)
        {
            connection = handover.Connection;
            stream = handover.Stream;
            Remote = handover.Remote;
            RemoteAddress = handover.Address;
            stopReading = new CancellationTokenSource();
            abort = new CancellationTokenSource();
            outbox = new FrameOutbox(agent.Options.MaxOutgoingBytes, agent.Flusher);
            Interlocked.Exchange(ref lastReceivedMs, Environment.TickCount64);
            stage = SessionStage.Established;
            agent.SweepBy(NextCheckMs);
            agent.Unparked();
            var queue = parkedQueue;
            parkedQueue = null;
            bool replay = !parkedOverflow && queue is not null && handover.ReceivedBytes == appendedBytes;
            logger.LogInformation("{Session} (account {Account}) resumed from {Remote}: {Mode}", Name, account, Remote, replay ? $"replaying {queue!.WrittenCount} bytes" : "fresh snapshot");
            agent.Metrics.Resumed(replay);
            scratch.Reset();
            ClientFrames.WriteResumeResp(scratch, ResumeStatus.Ok, replay ? "resumed; replaying what was missed" : "resumed; a fresh snapshot follows", snapshot: !replay);
            Append(scratch.WrittenSpan);
            IssueResumeToken();
            if (replay)
            {
                Append(queue!.WrittenSpan);
            }
            else
            {
                StartSnapshot();
            }

            queue?.Dispose();
        }
    }

    /// <summary>
    /// Rebuilds the client's view from the State Server: every object leaves the server's picture of the view, then
    /// every interest's locations and the account's owned objects are queried again. Updates meanwhile queue as in any
    /// interest sync and replay after it, so nothing goes back in time.
    /// </summary>
    private void StartSnapshot()
    {
        foreach (var id in visible.Keys)
        {
            (recentlyLeft ??= new RecentlyLeftObjects()).Add(id);
        }

        visible.Clear();
        snapshotQueries ??= new HashSet<uint>();
        foreach (var group in interests.Locations.GroupBy(l => l.Parent))
        {
            uint query = ++nextQuery;
            pendingQueries[query] = 0;
            snapshotQueries.Add(query);
            scratch.Reset();
            scratch.WriteUInt32(query);
            scratch.WriteDoId(group.Key);
            var zones = group.Select(l => l.Zone).ToArray();
            scratch.WriteVarUInt32((uint)zones.Length);
            foreach (uint zone in zones)
            {
                scratch.WriteUInt32(zone);
            }

            agent.Router.Publish(new Envelope(InternalMessageType.QueryZones, Channel, DoId.Empty, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
        }

        uint owned = ++nextQuery;
        pendingQueries[owned] = 0;
        snapshotQueries.Add(owned);
        scratch.Reset();
        scratch.WriteUInt32(owned);
        scratch.WriteDoId(account);
        agent.Router.Publish(new Envelope(InternalMessageType.QueryOwned, Channel, DoId.Empty, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
    }

    /// <summary>A snapshot query finished; the last one tells the client the snapshot is complete. False when it was not a snapshot query.</summary>
    private bool SnapshotQueryDone(uint query)
    {
        if (snapshotQueries is null || !snapshotQueries.Remove(query))
        {
            return false;
        }

        if (snapshotQueries.Count == 0)
        {
            scratch.Reset();
            ClientFrames.WriteEmpty(scratch, MessageType.ResumeSnapshotDone);
            Append(scratch.WrittenSpan);
        }

        return true;
    }

    /// <summary>Issues a fresh single-use token (after a login or a resume) and sends it; under the lock.</summary>
    private void IssueResumeToken()
    {
        if (agent.Options.ResumeGrace <= TimeSpan.Zero)
        {
            return;
        }

        resumeSecret = RandomNumberGenerator.GetBytes(ResumeSecretBytes);
        Span<byte> token = stackalloc byte[ResumeTokenBytes];
        agent.Epoch.CopyTo(token);
        Id.Write(token.Slice(8, DoId.Size));
        resumeSecret.CopyTo(token.Slice(8 + DoId.Size));
        scratch.Reset();
        ClientFrames.WriteResumeToken(scratch, token, (uint)agent.Options.ResumeGrace.TotalMilliseconds);
        Append(scratch.WrittenSpan);
        token.Clear();
    }

    /// <summary>A client's Resume: the account it claims, its token and the bytes it read from the session.</summary>
    internal sealed record ResumeRequest(DoId Account, byte[] Token, long ReceivedBytes);

    /// <summary>A connection handed from the session that read the Resume to the session it resumes.</summary>
    internal sealed record Handover(IDisposable Connection, Stream Stream, PipeReader Reader, string Remote, System.Net.IPAddress? Address, long ReceivedBytes);
}
