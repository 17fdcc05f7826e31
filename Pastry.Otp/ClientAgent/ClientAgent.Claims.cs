using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// One live session per account, across every Client Agent of the world (docs/deployment.md, "One account, one
/// session"): a login's claim goes to <see cref="Channel.SessionEvents"/>, which every Client Agent and AI hears.
/// </summary>
internal sealed partial class ClientAgent
{
    private readonly AccountClaims<ClientSession> accounts;
    private readonly ClaimListener claimListener;

    /// <summary>The accounts this agent's sessions hold now (tests).</summary>
    internal int ClaimedAccounts => accounts.Count;

    /// <summary>
    /// Makes <paramref name="session"/> the one session of <paramref name="account"/>, and tells every other Client
    /// Agent and the AIs (<see cref="InternalMessageType.AccountClaimed"/>): another agent's session of the account
    /// that holds an older claim is ejected there with 100. Returns this agent's session that held the account
    /// before (to be ejected with 100), or null.
    /// </summary>
    internal ClientSession? ClaimAccount(ClientSession session, DoId account)
    {
        var (claim, previous) = accounts.Take(account, session, session.Id);
        Router.Publish(ClaimEnvelope(session, account, claim), Channel.SessionEvents);
        return previous;
    }

    /// <summary>Lets go of <paramref name="account"/> if <paramref name="session"/> still holds it; false when another login took it over.</summary>
    internal bool ReleaseAccount(ClientSession session, DoId account) => accounts.Release(account, session);

    /// <summary>
    /// A claim heard from another Client Agent (on <see cref="Channel.SessionEvents"/>, or as the answer to this agent's
    /// own older claim, on its session's channel); this agent's own claims come back here on some routers and are
    /// ignored. Runs on the router's thread: the eject only queues a frame.
    /// </summary>
    internal void OnAccountClaimed(Envelope envelope)
    {
        // A claim of this agent's own session was settled when it was made (Take): only the others' count here.
        if (envelope.Sender.Kind != ChannelKind.Session || envelope.Subject.IsEmpty || sessionsById.ContainsKey(envelope.Sender.Id))
        {
            return;
        }

        var reader = new WireReader(envelope.Payload.Span);
        long stamp;
        string remote;
        try
        {
            stamp = reader.ReadInt64();
            remote = reader.ReadString();
        }
        catch (WireFormatException ex)
        {
            Logger.LogWarning("Client Agent: ignoring a malformed account claim from {Sender}: {Message}", envelope.Sender, ex.Message);
            return;
        }

        var account = envelope.Subject;
        switch (accounts.OnClaimHeard(account, new AccountClaim(stamp, envelope.Sender.Id), out var holder, out var holderClaim))
        {
            case HeardClaimOutcome.Yield:
                // The same eject, and the same log line, as a second login on this node.
                holder!.Kick(remote);
                break;
            case HeardClaimOutcome.Answer:
                // Two logins raced and this one is newer. The other agent hears this agent's claim on SessionEvents and
                // ejects its session; it is told once more directly, in case it subscribed after that claim went out.
                Logger.LogInformation("Client Agent: account {Account} logged in from {Remote} too, but {Session} here holds a newer claim; the other session is told to end", account, remote, holder!.Name);
                Router.Publish(ClaimEnvelope(holder, account, holderClaim), envelope.Sender);
                break;
        }
    }

    private static Envelope ClaimEnvelope(ClientSession session, DoId account, AccountClaim claim)
    {
        using var payload = new PooledBufferWriter(64);
        payload.WriteInt64(claim.Stamp);
        payload.WriteString(session.Remote);
        return new Envelope(InternalMessageType.AccountClaimed, session.Channel, account, payload.WrittenSpan.ToArray());
    }

    /// <summary>The agent's ear on <see cref="Channel.SessionEvents"/>: it acts on account claims and ignores the rest.</summary>
    private sealed class ClaimListener(ClientAgent agent) : IParticipant
    {
        public string Name => "Client Agent (account claims)";

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (envelope.Type == InternalMessageType.AccountClaimed)
            {
                agent.OnAccountClaimed(envelope);
            }
        }
    }
}
