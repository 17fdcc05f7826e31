namespace Pastry.Messaging;

/// <summary>Something that receives routed messages: a role, a client session, or a link to a remote process.</summary>
public interface IParticipant
{
    /// <summary>A name for logs.</summary>
    string Name { get; }

    /// <summary>
    /// Receives one message. It is called on the publisher's thread, so it must not block: queue the work or do
    /// something short. The envelope is shared with other subscribers and must not be changed.
    /// </summary>
    void Deliver(Envelope envelope);
}

/// <summary>
/// The Message Director's routing contract (ARCHITECTURE 4). The roles talk only through it, so that a broker
/// backplane (NATS) can replace the in-process router without touching them.
/// </summary>
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
