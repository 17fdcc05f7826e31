using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>What the admin endpoint reads from a session, and the operator's eject.</summary>
internal sealed partial class ClientSession
{
    /// <summary>When the connection was accepted (UTC).</summary>
    public DateTime ConnectedAt { get; } = DateTime.UtcNow;

    /// <summary>Interests held, read without the lock (an int read never tears; metrics may lag by a message).</summary>
    public int InterestCountForMetrics => interests.Count;

    /// <summary>The capacity of the send buffers the session holds now (tests: a burst grows them, an idle sweep gives them back).</summary>
    internal int OutboxRetainedBytes => outbox.RetainedBytes;

    /// <summary>The session as the dashboard lists it, read under the session's lock so that it never tears.</summary>
    public SessionInfo Describe()
    {
        lock (sync)
        {
            return new SessionInfo(Id, account, Remote, stage.ToString(), interests.Count, visible.Count, outbox.PendingBytes, ConnectedAt);
        }
    }

    /// <summary>Ejects the session because an operator asked (the admin endpoint writes the audit line).</summary>
    public bool EjectByOperator(string reason)
    {
        lock (sync)
        {
            if (stage == SessionStage.Closed)
            {
                return false;
            }

            Eject(EjectCode.OperatorEject, reason);
            return true;
        }
    }
}

/// <summary>One session as the dashboard lists it.</summary>
/// <param name="Id">The session's id.</param>
/// <param name="Account">Its account, or empty while anonymous.</param>
/// <param name="Address">The client's address and port.</param>
/// <param name="Stage">AwaitingHello, Anonymous, Established or Closed.</param>
/// <param name="Interests">Interests it holds.</param>
/// <param name="Visible">Objects in its view.</param>
/// <param name="OutboxBytes">Bytes waiting to be sent to it.</param>
/// <param name="ConnectedAt">When it connected (UTC).</param>
internal sealed record SessionInfo(DoId Id, DoId Account, string Address, string Stage, int Interests, int Visible, int OutboxBytes, DateTime ConnectedAt);
