namespace Pastry.Messaging;

/// <summary>
/// A router whose post-removes are kept by other processes (the NATS backplane's keepers), so that a process which
/// outlives its participants (an OTP node and its Client Agent's sessions) can still have their cleanup run when it
/// dies: each participant registers the message to send if the process dies while it lives, and removes it when it
/// ends cleanly (and sends the message itself). The in-process router and the MD's TCP link do not implement it: there
/// the sessions die with everything that would hear their cleanup.
/// </summary>
public interface IOwnedPostRemoveRouter : IMessageRouter
{
    /// <summary>
    /// Registers <paramref name="envelope"/>, to be routed to <paramref name="target"/> if this process dies, as the one
    /// post-remove of its sender (<see cref="Envelope.Sender"/>, the owner); it replaces the owner's previous one.
    /// </summary>
    void AddOwnedPostRemove(Envelope envelope, Channel target);

    /// <summary>Forgets the post-remove of <paramref name="owner"/> (it ended cleanly); nothing when it has none.</summary>
    void RemoveOwnedPostRemove(Channel owner);
}
