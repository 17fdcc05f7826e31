using System.Net.Sockets;
using Pastry.Client.Transports;
using System.Reactive.Subjects;
using Pastry.Objects;
using Pastry.Wire;

namespace Pastry.Client;

// Sessions that survive (issue 18): the client keeps the server's resume token, and when the connection drops it
// reconnects by itself with back-off and resumes the session. Objects, interests and streams carry on; when the session
// is gone (grace over, server restarted) the client says so with a typed reason and waits for one LoginAsync.
public sealed partial class PastryClient
{
    private readonly Subject<DisconnectReason> reconnectingEvents = new();
    private readonly Subject<Reconnection> reconnectedEvents = new();
    private readonly Subject<SessionLost> sessionLostEvents = new();
    private long receivedBytes;
    private byte[]? resumeToken;
    private TaskCompletionSource<bool>? reconnecting;
    private TaskCompletionSource<(ResumeStatus Status, string Reason, bool Snapshot)>? resumeAnswer;
    private HashSet<DoId>? resyncSeen;

    /// <summary>
    /// Fires when the connection drops while the session can be resumed: the client is reconnecting by itself (with
    /// back-off, for up to <see cref="ClientOptions.ReconnectTimeout"/>). Objects stay in view meanwhile, and what the
    /// game sends waits to be sent on the new connection.
    /// </summary>
    public IObservable<DisconnectReason> Reconnecting => reconnectingEvents;

    /// <summary>Fires when the session resumed on a new connection: same account, objects, interests and streams.</summary>
    public IObservable<Reconnection> Reconnected => reconnectedEvents;

    /// <summary>
    /// Fires when the client reconnected but the server no longer had the session (<see cref="SessionLost.Status"/>
    /// says why: its grace period ended, or the server restarted). Every object has been disabled and the interests
    /// closed; the connection is open and anonymous, so one <see cref="LoginAsync"/> logs in again.
    /// </summary>
    public IObservable<SessionLost> SessionLost => sessionLostEvents;

    /// <summary>Whether the client is between a dropped connection and its resume.</summary>
    public bool IsReconnecting => Volatile.Read(ref reconnecting) is not null;

    /// <summary>Awaited before the first reconnect attempt (tests hold the reconnect here to act while the session is parked).</summary>
    internal Func<Task>? BeforeReconnect { get; set; }

    /// <summary>Drops the current connection as a network failure would (no Disconnect is sent), so that tests and tools can exercise a resume.</summary>
    public void DropConnectionForTesting()
    {
        ClientConnection current;
        lock (gate)
        {
            current = connection;
        }

        current.Drop();
    }

    private static int? PeekEjectCode(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload);
        return reader.Remaining >= 2 ? reader.ReadUInt16() : null;
    }

    /// <summary>Ejects after which the session waits parked on the server: a heartbeat timeout (the server parked it) and a shutdown (it may come back).</summary>
    private bool IsResumable(int code) =>
        (code == (int)EjectCode.HeartbeatTimeout || code == (int)EjectCode.ServerShutdown) && CanResume;

    private bool CanResume => options.AutoReconnect && Volatile.Read(ref resumeToken) is not null && Volatile.Read(ref disposed) == 0;

    private void OnResumeToken(ref WireReader reader)
    {
        var token = reader.ReadBytes();
        reader.ReadUInt32();
        Volatile.Write(ref resumeToken, token);
    }

    private void OnResumeResp(ref WireReader reader)
    {
        var status = (ResumeStatus)reader.ReadByte();
        string reason = reader.ReadString();
        bool snapshot = reader.ReadByte() == 1;
        if (status != ResumeStatus.Ok)
        {
            // A new session starts on this connection: counting starts again with its HelloResp.
            receivedBytes = 0;
        }
        else if (snapshot)
        {
            // Before the snapshot's Enters, in the same order: objects they do not re-enter leave at ResumeSnapshotDone.
            events.Run(static state => ((PastryClient)state!).resyncSeen = new HashSet<DoId>(), this);
        }

        Volatile.Read(ref resumeAnswer)?.TrySetResult((status, reason, snapshot));
    }

    private void FinishResync()
    {
        if (resyncSeen is not { } seen)
        {
            return;
        }

        resyncSeen = null;
        foreach (var obj in table.Snapshot())
        {
            if (!seen.Contains(obj.DoId))
            {
                OnLeave(obj.DoId, ObjectState.Disabled);
            }
        }
    }

    /// <summary>A read loop ended: a stale connection's end is ignored; the current one's resumes the session when it can, or closes the client.</summary>
    private void ConnectionLost(Stream ended, int? ejectCode, string reason)
    {
        lock (gate)
        {
            if (!ReferenceEquals(ended, stream))
            {
                return;
            }
        }

        if (Volatile.Read(ref closing) == 1)
        {
            return;
        }

        if ((ejectCode is null || IsResumable(ejectCode.Value)) && CanResume)
        {
            StartReconnect(new DisconnectReason(ejectCode, reason));
            return;
        }

        Close(new DisconnectReason(ejectCode, reason));
    }

    private void StartReconnect(DisconnectReason reason)
    {
        lock (gate)
        {
            if (reconnecting is not null)
            {
                // The connection of an attempt dropped: that attempt fails and the loop tries again.
                resumeAnswer?.TrySetException(new IOException(reason.Reason));
                return;
            }

            reconnecting = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // What the game sends from now on waits in a fresh outbox, sent once the session is back. The dead socket
        // goes at once, so that a send blocked on it ends.
        var previous = Interlocked.Exchange(ref sender, new FrameOutbox(options.MaxOutgoingBytes));
        previous.Complete();
        lock (gate)
        {
            connection.Dispose();
        }

        events.Run(static state => { var (self, why) = ((PastryClient, DisconnectReason))state!; self.reconnectingEvents.OnNext(why); }, (this, reason));
        _ = Task.Run(() => ReconnectAsync(reason, previous));
    }

    private async Task ReconnectAsync(DisconnectReason lost, FrameOutbox previous)
    {
        var started = DateTime.UtcNow;
        var delay = options.ReconnectDelay;
        int attempt = 0;
        string lastProblem = lost.Reason;
        try
        {
            await sendLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }

        previous.Dispose();
        if (BeforeReconnect is { } hold)
        {
            await hold().ConfigureAwait(false);
        }

        while (Volatile.Read(ref closing) == 0 && Volatile.Read(ref disposed) == 0 && DateTime.UtcNow - started < options.ReconnectTimeout)
        {
            attempt++;
            ClientConnection? opened = null;
            try
            {
                opened = await ClientConnection.OpenAsync(address, options, stop.Token).ConfigureAwait(false);
                var attemptStream = opened.Stream;
                var answer = new TaskCompletionSource<(ResumeStatus, string, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (gate)
                {
                    if (Volatile.Read(ref closing) == 1)
                    {
                        opened.Dispose();
                        return;
                    }

                    connection.Dispose();
                    connection = opened;
                    stream = attemptStream;
                    resumeAnswer = answer;
                }

                opened = null;
                using (var frame = new PooledBufferWriter(128))
                {
                    ClientFrames.WriteResume(frame, registry.SchemaHash, options.AppVersion, AccountId, Volatile.Read(ref resumeToken), Interlocked.Read(ref receivedBytes));
                    await attemptStream.WriteAsync(frame.WrittenMemory, stop.Token).ConfigureAwait(false);
                }

                readLoop = Task.Run(() => ReadAsync(attemptStream));
                var (status, reason, snapshot) = await answer.Task.WaitAsync(options.RequestTimeout, stop.Token).ConfigureAwait(false);
                if (status == ResumeStatus.Ok)
                {
                    Resumed(attemptStream, new Reconnection(attempt, snapshot));
                    return;
                }

                await StartNewSessionAsync(attemptStream, new SessionLost(status, reason)).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or ObjectDisposedException or InvalidOperationException)
            {
                lastProblem = ex.Message;
                opened?.Dispose();
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await Task.Delay(delay, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxReconnectDelay.Ticks));
        }

        Close(new DisconnectReason(lost.EjectCode, $"{lost.Reason}; could not resume the session within {options.ReconnectTimeout.TotalSeconds:0.#} s ({attempt} attempts; last: {lastProblem})"));
    }

    /// <summary>The session is back: the waiting outbox starts sending on the new connection.</summary>
    private void Resumed(Stream resumedStream, Reconnection reconnection)
    {
        TaskCompletionSource<bool>? done;
        lock (gate)
        {
            resumeAnswer = null;
            done = reconnecting;
            reconnecting = null;
        }

        sendLoop = sender.RunAsync(resumedStream, stop.Token);
        done?.TrySetResult(true);
        events.Run(static state => { var (self, what) = ((PastryClient, Reconnection))state!; self.reconnectedEvents.OnNext(what); }, (this, reconnection));
    }

    /// <summary>
    /// The server refused the resume: the old session is gone. This connection says Hello and stays open, anonymous;
    /// the objects of the old session are disabled and its interests closed, then <see cref="SessionLost"/> fires.
    /// </summary>
    private async Task StartNewSessionAsync(Stream newStream, SessionLost why)
    {
        var hello = new TaskCompletionSource<DoId>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            helloDone = hello;
        }

        Volatile.Write(ref resumeToken, null);
        using (var frame = new PooledBufferWriter(64))
        {
            ClientFrames.WriteHello(frame, registry.SchemaHash, options.AppVersion);
            await newStream.WriteAsync(frame.WrittenMemory, stop.Token).ConfigureAwait(false);
        }

        SessionId = await hello.Task.WaitAsync(options.RequestTimeout, stop.Token).ConfigureAwait(false);
        AccountId = DoId.Empty;

        // Requests of the old session will never be answered.
        var failure = new IOException($"The session was lost ({why.Status}): {why.Reason}");
        List<TaskCompletionSource<Interest>> interestsWaiting;
        TaskCompletionSource<bool>? done;
        lock (gate)
        {
            interestsWaiting = pendingInterests.Values.Select(p => p.Done).ToList();
            pendingInterests.Clear();
            interests.Clear();
            resumeAnswer = null;
            done = reconnecting;
            reconnecting = null;
        }

        foreach (var waiting in interestsWaiting)
        {
            waiting.TrySetException(failure);
        }

        sendLoop = sender.RunAsync(newStream, stop.Token);
        done?.TrySetResult(false);
        events.Run(static state =>
        {
            var (self, lost) = ((PastryClient, SessionLost))state!;
            self.resyncSeen = null;
            foreach (var obj in self.table.Snapshot())
            {
                self.OnLeave(obj.DoId, ObjectState.Disabled);
            }

            self.sessionLostEvents.OnNext(lost);
        }, (this, why));
    }
}

/// <summary>A resumed session: how many connection attempts it took, and whether the server sent a fresh snapshot (rather than replaying what was missed).</summary>
/// <param name="Attempts">Connection attempts until the resume.</param>
/// <param name="Snapshot">True when the view was rebuilt from a fresh snapshot (the missed updates overflowed their bound, or bytes were lost in flight).</param>
public sealed record Reconnection(int Attempts, bool Snapshot);

/// <summary>The client reconnected but its session was gone; log in again.</summary>
/// <param name="Status">Why: <see cref="ResumeStatus.SessionGone"/> (grace over, ended, token spent) or <see cref="ResumeStatus.ServerRestarted"/>.</param>
/// <param name="Reason">The server's words.</param>
public sealed record SessionLost(ResumeStatus Status, string Reason);
