using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Pastry.Otp.UberDogs;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>Resumes: the parked-session cap, the token check and the per-address throttle of refused resumes (issue 18).</summary>
internal sealed partial class ClientAgent
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<DoId, ClientSession> sessionsById = new();
    private LoginThrottle? resumeThrottle;
    private int parkedCount;

    /// <summary>Sessions findable by id (for a resume or an operator's eject): open and parked ones only.</summary>
    internal int SessionIdCount => sessionsById.Count;

    /// <summary>The open or parked session <paramref name="sessionId"/>, or null (tests reach a session's deadlines through it).</summary>
    internal ClientSession? SessionById(DoId sessionId) => sessionsById.GetValueOrDefault(sessionId);

    /// <summary>Sessions parked now: their connection dropped and their grace period runs.</summary>
    public int ParkedCount => Volatile.Read(ref parkedCount);

    /// <summary>
    /// Random bytes that start every token this agent issues: a token from an earlier run of the server (it restarted)
    /// is told apart from one that is merely unknown, so the client can say why its session is gone.
    /// </summary>
    internal byte[] Epoch { get; } = RandomNumberGenerator.GetBytes(8);

    /// <summary>Counts a session as parked; false when <see cref="ClientAgentOptions.MaxParkedSessions"/> are (unless <paramref name="force"/>: a take-over resumes at once).</summary>
    internal bool TryPark(bool force)
    {
        while (true)
        {
            int now = Volatile.Read(ref parkedCount);
            if (!force && now >= Options.MaxParkedSessions)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref parkedCount, now + 1, now) == now)
            {
                return true;
            }
        }
    }

    /// <summary>A session left the parked state (resumed or ended).</summary>
    internal void Unparked() => Interlocked.Decrement(ref parkedCount);

    /// <summary>Frees one connection's per-address slot.</summary>
    internal void ReleaseAddress(IPAddress address) => addressLimits.Release(address);

    /// <summary>
    /// Hands the connection of <paramref name="caller"/> (which read a Resume) to the session its token names. The
    /// check costs a dictionary lookup and a constant-time comparison, no password hash. A refusal is typed
    /// (<paramref name="status"/>) and counted per address: past the free failures the address backs off (Throttled).
    /// </summary>
    internal bool TryResume(ClientSession caller, ClientSession.ResumeRequest request, ClientSession.Handover handover, out ResumeStatus status, out string reason)
    {
        string? addressKey = caller.RemoteAddress?.ToString();
        var throttle = resumeThrottle ??= new LoginThrottle(Options.FreeResumeFailuresPerAddress, Options.FreeResumeFailuresPerAddress * 4, new AccountOptions(), Time);
        if (addressKey is not null && throttle.WaitFor(addressKey) is { } wait && wait > TimeSpan.Zero)
        {
            return Refuse(ResumeStatus.Throttled, $"too many refused resumes from this address; try again in {Math.Ceiling(wait.TotalSeconds):0} s or log in", out status, out reason);
        }

        var token = request.Token;
        if (token.Length != ClientSession.ResumeTokenBytes)
        {
            return Failed(ResumeStatus.InvalidToken, $"a resume token is {ClientSession.ResumeTokenBytes} bytes, not {token.Length}", out status, out reason);
        }

        if (!CryptographicOperations.FixedTimeEquals(token.AsSpan(0, 8), Epoch))
        {
            return Failed(ResumeStatus.ServerRestarted, "the server restarted since this token was issued; every session of its earlier run is gone: log in again", out status, out reason);
        }

        var sessionId = DoId.Read(token.AsSpan(8, DoId.Size));
        var secret = token.AsSpan(8 + DoId.Size);
        if (!sessionsById.TryGetValue(sessionId, out var target) || target == caller
            || target.TryTakeOver(request.Account, secret, handover) != ResumeStatus.Ok)
        {
            return Failed(ResumeStatus.SessionGone, "no session holds this token (its grace period ended, it was used already, the account logged in elsewhere, or it never existed): log in again", out status, out reason);
        }

        status = ResumeStatus.Ok;
        reason = string.Empty;
        return true;

        bool Failed(ResumeStatus why, string text, out ResumeStatus outStatus, out string outReason)
        {
            if (addressKey is not null)
            {
                throttle.Failed(addressKey);
            }

            return Refuse(why, text, out outStatus, out outReason);
        }

        bool Refuse(ResumeStatus why, string text, out ResumeStatus outStatus, out string outReason)
        {
            Logger.LogInformation("{Session}: resume refused with {Status}: {Reason}", caller.Name, why, text);
            Metrics.ResumeRefused(why);
            outStatus = why;
            outReason = text;
            return false;
        }
    }
}
