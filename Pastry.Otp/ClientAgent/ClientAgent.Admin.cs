using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>What the admin endpoint reads from the Client Agent: sessions by page, recent ejects, and the operator's eject.</summary>
internal sealed partial class ClientAgent
{
    /// <summary>How many ejects <see cref="RecentEjects"/> keeps.</summary>
    public const int RecentEjectCapacity = 100;

    private readonly Queue<EjectRecord> recentEjects = new();

    /// <summary>Interests held by all sessions (each session's count is read without its lock: a gauge, not a ledger).</summary>
    public int InterestCount
    {
        get
        {
            int total = 0;
            foreach (var session in sessions.Keys)
            {
                total += session.InterestCountForMetrics;
            }

            return total;
        }
    }

    /// <summary>The last <see cref="RecentEjectCapacity"/> ejects, newest first.</summary>
    public IReadOnlyList<EjectRecord> RecentEjects
    {
        get
        {
            lock (recentEjects)
            {
                return recentEjects.Reverse().ToList();
            }
        }
    }

    /// <summary>
    /// One page of the sessions, oldest first. <paramref name="filter"/> keeps the sessions whose id, account or address
    /// contains it. Only the page's sessions are described (each under its own lock), so a page costs a sort of the
    /// session keys however many thousands are connected; <paramref name="count"/> is capped at 1000.
    /// </summary>
    public (int Total, IReadOnlyList<SessionInfo> Page) Sessions(int offset, int count, string? filter = null)
    {
        IEnumerable<ClientSession> all = sessions.Keys;
        if (!string.IsNullOrWhiteSpace(filter))
        {
            all = all.Where(session =>
            {
                var s = session.Describe();
                return s.Id.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)
                    || s.Account.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)
                    || s.Address.Contains(filter, StringComparison.OrdinalIgnoreCase);
            });
        }

        // ConnectedAt and Id never change, so they are read without the sessions' locks.
        var ordered = all.OrderBy(s => s.ConnectedAt).ThenBy(s => s.Id).ToList();
        var page = ordered.Skip(Math.Max(0, offset)).Take(Math.Clamp(count, 0, 1000)).Select(s => s.Describe()).ToList();
        return (ordered.Count, page);
    }

    /// <summary>Ejects session <paramref name="sessionId"/> with <see cref="EjectCode.OperatorEject"/>; false when no such session is open.</summary>
    public bool EjectByOperator(DoId sessionId, string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        foreach (var session in sessions.Keys)
        {
            if (session.Id == sessionId)
            {
                return session.EjectByOperator(reason);
            }
        }

        return false;
    }

    /// <summary>Counts an eject and keeps it for the dashboard.</summary>
    internal void OnEjected(ClientSession session, EjectCode code, string reason)
    {
        Metrics.Ejected(code);
        lock (recentEjects)
        {
            if (recentEjects.Count == RecentEjectCapacity)
            {
                recentEjects.Dequeue();
            }

            recentEjects.Enqueue(new EjectRecord(DateTime.UtcNow, session.Id, session.Account, session.Remote, (int)code, code.ToString(), reason));
        }
    }
}

/// <summary>One eject as the dashboard lists it.</summary>
/// <param name="At">When (UTC).</param>
/// <param name="Session">The session.</param>
/// <param name="Account">Its account, or empty.</param>
/// <param name="Address">The client's address.</param>
/// <param name="Code">The eject code (ARCHITECTURE 3).</param>
/// <param name="CodeName">The code's name.</param>
/// <param name="Reason">The reason sent to the client.</param>
internal sealed record EjectRecord(DateTime At, DoId Session, DoId Account, string Address, int Code, string CodeName, string Reason);
