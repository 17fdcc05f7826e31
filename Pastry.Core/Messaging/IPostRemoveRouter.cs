namespace Pastry.Messaging;

/// <summary>
/// A router of a process that may die apart from the State Server (an AI process, over the MD's TCP link or over a
/// backplane): it registers post-remove messages, which the Message Director side routes when the process is gone
/// (ARCHITECTURE 4, "post-remove messages handle crashes"). An AI registers its cleanup here whatever carries it.
/// </summary>
public interface IPostRemoveRouter : IMessageRouter
{
    /// <summary>Registers a message routed to <paramref name="targets"/> once this process is gone (its link dropped, or its heartbeats stopped).</summary>
    void AddPostRemove(Envelope envelope, params Channel[] targets);

    /// <summary>Forgets every post-remove message this process registered.</summary>
    void ClearPostRemoves();

    /// <summary>
    /// Raised when the post-removes ran while this process lived on (a backplane declared it dead after it went silent
    /// for too long): they are registered again already, and what they removed (the AI's objects) must be created
    /// again. A router whose death ends it (the MD's TCP link) never raises it; its owner reconnects instead.
    /// </summary>
    event EventHandler? PostRemovesRan;
}
