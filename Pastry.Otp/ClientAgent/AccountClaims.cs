namespace Pastry.Otp.ClientAgent;

/// <summary>
/// A login's claim on its account: its stamp (a hybrid logical clock, see <see cref="AccountClaims{TSession}"/>) and its
/// session. Claims are ordered by stamp, then by session id, so every Client Agent that compares the same two claims
/// picks the same one.
/// </summary>
internal readonly record struct AccountClaim(long Stamp, DoId Session) : IComparable<AccountClaim>
{
    /// <inheritdoc />
    public int CompareTo(AccountClaim other) => Stamp != other.Stamp ? Stamp.CompareTo(other.Stamp) : Session.CompareTo(other.Session);

    /// <summary>Whether <paramref name="left"/> is older than <paramref name="right"/>.</summary>
    public static bool operator <(AccountClaim left, AccountClaim right) => left.CompareTo(right) < 0;

    /// <summary>Whether <paramref name="left"/> is newer than <paramref name="right"/>.</summary>
    public static bool operator >(AccountClaim left, AccountClaim right) => left.CompareTo(right) > 0;

    /// <summary>Whether <paramref name="left"/> is not newer than <paramref name="right"/>.</summary>
    public static bool operator <=(AccountClaim left, AccountClaim right) => left.CompareTo(right) <= 0;

    /// <summary>Whether <paramref name="left"/> is not older than <paramref name="right"/>.</summary>
    public static bool operator >=(AccountClaim left, AccountClaim right) => left.CompareTo(right) >= 0;
}

/// <summary>What a Client Agent does with another node's claim (<see cref="AccountClaims{TSession}.OnClaimHeard"/>).</summary>
internal enum HeardClaimOutcome
{
    /// <summary>No session of this agent holds the account (or the claim is its own holder's): nothing to do.</summary>
    Nothing,

    /// <summary>This agent's session held an older claim: it no longer holds the account and is ejected (100).</summary>
    Yield,

    /// <summary>This agent's session holds a newer claim: the claimant is told (it may not have heard it), and ejects itself.</summary>
    Answer,
}

/// <summary>
/// The one session of each account, on one Client Agent and across every Client Agent of the world (issue 14).
/// A login takes its account here (<see cref="Take"/>) and its claim goes to every other agent; an agent that hears a
/// newer claim of an account one of its sessions holds lets that session go (<see cref="OnClaimHeard"/>), which is ejected
/// with 100 as a second login on one node ejects the first. So exactly one of two logins wins, wherever they happen,
/// and every agent agrees which: the one with the higher <see cref="AccountClaim"/>.
/// </summary>
/// <remarks>
/// A stamp is a hybrid logical clock: the wall clock in Unix milliseconds, but always above every stamp this agent made
/// or heard. So a login that follows another one it heard of always wins, even when the clocks of two machines
/// disagree; two logins that did not hear of each other (simultaneous) are ordered by their stamps, then session ids.
/// Only this agent's own sessions are kept (one entry per logged-in account): a claim heard for an account no local
/// session holds leaves nothing behind but the clock.
/// </remarks>
internal sealed class AccountClaims<TSession>
    where TSession : class
{
    private readonly object gate = new();
    private readonly Dictionary<DoId, (TSession Session, AccountClaim Claim)> holders = new();
    private readonly TimeProvider time;
    private long clock;

    /// <summary>Claims stamped by <paramref name="time"/>'s wall clock.</summary>
    public AccountClaims(TimeProvider time)
    {
        this.time = time;
    }

    /// <summary>Accounts a session of this agent holds now.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return holders.Count;
            }
        }
    }

    /// <summary>The highest stamp made or heard so far.</summary>
    public long Clock
    {
        get
        {
            lock (gate)
            {
                return clock;
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="session"/> (whose id is <paramref name="sessionId"/>) the holder of <paramref name="account"/>
    /// with a new claim, newer than every claim this agent made or heard; returns the claim and the session that held the
    /// account here before (to be ejected with 100), or null.
    /// </summary>
    public (AccountClaim Claim, TSession? Previous) Take(DoId account, TSession session, DoId sessionId)
    {
        lock (gate)
        {
            clock = Math.Max(clock + 1, time.GetUtcNow().ToUnixTimeMilliseconds());
            var claim = new AccountClaim(clock, sessionId);
            holders.TryGetValue(account, out var previous);
            holders[account] = (session, claim);
            return (claim, ReferenceEquals(previous.Session, session) ? null : previous.Session);
        }
    }

    /// <summary>Lets go of <paramref name="account"/> if <paramref name="session"/> still holds it; false when another claim took it.</summary>
    public bool Release(DoId account, TSession session)
    {
        lock (gate)
        {
            if (!holders.TryGetValue(account, out var holder) || !ReferenceEquals(holder.Session, session))
            {
                return false;
            }

            holders.Remove(account);
            return true;
        }
    }

    /// <summary>
    /// Another agent's (or this agent's own, echoed) claim <paramref name="claim"/> of <paramref name="account"/>:
    /// moves the clock past it, and when a session of this agent holds the account, either lets it go (an older claim:
    /// <see cref="HeardClaimOutcome.Yield"/>, the session is in <paramref name="holder"/>) or keeps it
    /// (<see cref="HeardClaimOutcome.Answer"/>: <paramref name="holder"/> and <paramref name="holderClaim"/> are the newer
    /// claim, for the claimant).
    /// </summary>
    public HeardClaimOutcome OnClaimHeard(DoId account, AccountClaim claim, out TSession? holder, out AccountClaim holderClaim)
    {
        lock (gate)
        {
            clock = Math.Max(clock, claim.Stamp);
            holder = null;
            holderClaim = default;
            if (!holders.TryGetValue(account, out var held) || held.Claim.Session == claim.Session)
            {
                return HeardClaimOutcome.Nothing;
            }

            holder = held.Session;
            holderClaim = held.Claim;
            if (held.Claim > claim)
            {
                return HeardClaimOutcome.Answer;
            }

            holders.Remove(account);
            return HeardClaimOutcome.Yield;
        }
    }
}
