namespace Pastry.Messaging;

/// <summary>Something that receives routed messages: a role, a client session, or a link to a remote process.</summary>
public interface IParticipant
{
    /// <summary>A name for logs.</summary>
    string Name { get; }

    /// <summary>
    /// Receives one message. It is called on the publisher's thread (or the backplane's), so it must not block: queue
    /// the work or do something short. The envelope is shared with other subscribers and must not be changed.
    /// </summary>
    /// <param name="envelope">The message.</param>
    /// <param name="targets">
    /// Every channel the publish was addressed to, not only those this participant subscribes to: a link to another
    /// process forwards them, so that the far side picks its own subscribers. Valid only during the call.
    /// </param>
    void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets);
}

/// <summary>
/// The Message Director's routing contract (ARCHITECTURE 4), and the only seam a backplane implements: the roles, the
/// MD's TCP endpoint and the AI's link talk only through it, so that a broker backplane (NATS) replaces the
/// in-process router without touching any of them.
/// </summary>
/// <remarks>
/// What an implementation promises:
/// <list type="bullet">
/// <item>A publish reaches each participant subscribed to any of its targets (a channel, or a location inside a
/// subscribed zone range) exactly once, through <see cref="IParticipant.Deliver"/>, with the publish's full target
/// list passed explicitly: no other state (thread-static or ambient) carries it.</item>
/// <item>Messages from one publisher reach one participant in the order they were published.</item>
/// <item>Subscribing is idempotent, and a participant may publish from inside <see cref="IParticipant.Deliver"/>.</item>
/// <item>Every participant sees the same envelope and must not change it.</item>
/// </list>
/// </remarks>
public interface IMessageRouter
{
    /// <summary>Subscribes <paramref name="participant"/> to <paramref name="channel"/>. Subscribing twice is the same as once.</summary>
    void Subscribe(IParticipant participant, Channel channel);

    /// <summary>Unsubscribes <paramref name="participant"/> from <paramref name="channel"/>.</summary>
    void Unsubscribe(IParticipant participant, Channel channel);

    /// <summary>Subscribes to every location channel of <paramref name="parent"/> with a zone in <c>[low, high]</c>.</summary>
    void SubscribeRange(IParticipant participant, DoId parent, uint low, uint high);

    /// <summary>Removes a range subscription made with the same bounds.</summary>
    void UnsubscribeRange(IParticipant participant, DoId parent, uint low, uint high);

    /// <summary>Removes every subscription of <paramref name="participant"/>.</summary>
    void UnsubscribeAll(IParticipant participant);

    /// <summary>Delivers <paramref name="envelope"/> to every subscriber of <paramref name="target"/>.</summary>
    void Publish(Envelope envelope, Channel target);

    /// <summary>Delivers <paramref name="envelope"/> once to every participant subscribed to any of <paramref name="targets"/>.</summary>
    void Publish(Envelope envelope, ReadOnlySpan<Channel> targets);
}
