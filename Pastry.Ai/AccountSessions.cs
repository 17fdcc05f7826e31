using Pastry.Messaging;

namespace Pastry.Ai;

/// <summary>
/// The session that holds each logged-in account, as the Client Agents' claims say (<see cref="InternalMessageType.AccountClaimed"/>),
/// so that the close of a session that no longer holds its account does not unload the player of the one that does
/// (issue 14: a player whose OTP node died logs in again on another node before the dead session's
/// <see cref="InternalMessageType.SessionClosed"/> is routed by the survivors). Touched only on the AI's logic loop.
/// </summary>
/// <remarks>
/// One entry per logged-in account, dropped when the holding session closes (a session ejected by a newer login is
/// replaced by that login's claim). At most <see cref="Capacity"/> entries: an account logged in beyond that is not
/// tracked, and its sessions' closes are raised as they were before claims existed; so is the close of an account
/// whose claim this AI never heard (it started later).
/// </remarks>
internal sealed class AccountSessions
{
    /// <summary>The default most accounts tracked (about 80 bytes each).</summary>
    public const int DefaultCapacity = 1 << 20;

    private readonly Dictionary<DoId, (Channel Session, long Stamp)> holders = new();

    /// <summary>Tracks at most <paramref name="capacity"/> accounts.</summary>
    public AccountSessions(int capacity = DefaultCapacity)
    {
        Capacity = capacity;
    }

    /// <summary>The most accounts tracked.</summary>
    public int Capacity { get; }

    /// <summary>Accounts tracked now.</summary>
    public int Count => holders.Count;

    /// <summary>
    /// A login's claim: <paramref name="session"/> holds <paramref name="account"/> unless a claim heard before is
    /// newer (two logins raced, and the claims arrived out of order: the Client Agents keep the newer one too).
    /// False when the account is not tracked because <see cref="Capacity"/> is reached.
    /// </summary>
    public bool OnClaimed(DoId account, Channel session, long stamp)
    {
        if (holders.TryGetValue(account, out var held))
        {
            if (stamp > held.Stamp || (stamp == held.Stamp && session.Id.CompareTo(held.Session.Id) > 0))
            {
                holders[account] = (session, stamp);
            }

            return true;
        }

        if (holders.Count >= Capacity)
        {
            return false;
        }

        holders[account] = (session, stamp);
        return true;
    }

    /// <summary>
    /// A session of <paramref name="account"/> closed: true when it is the session that holds the account (or no claim
    /// of the account is known), and the account is forgotten; false, with the holder in <paramref name="holder"/>, when
    /// another session holds it: the close must not touch the account's objects.
    /// </summary>
    public bool OnClosed(DoId account, Channel session, out Channel holder)
    {
        if (holders.TryGetValue(account, out var held) && held.Session != session)
        {
            holder = held.Session;
            return false;
        }

        holders.Remove(account);
        holder = session;
        return true;
    }
}
