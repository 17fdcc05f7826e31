namespace Pastry.Messaging;

/// <summary>
/// A router over which several OTP nodes share one world (the NATS backplane, docs/deployment.md "Placement across OTP
/// nodes"): the State Server tells it which objects it holds, so that requests about them reach this node. The
/// in-process router does not implement it, so the one-process path does not change.
/// </summary>
public interface IPlacementRouter : IMessageRouter
{
    /// <summary>This node's State Server holds <paramref name="id"/> from now on (created, or being activated); before it publishes anything about it.</summary>
    void Hold(DoId id);

    /// <summary>
    /// This node's State Server no longer holds <paramref name="id"/> (deleted, its activation failed, or it moved to
    /// another node): what still arrives on its holder subject is dropped here, because the holder that has it now
    /// (if any) subscribed that subject before.
    /// </summary>
    void Release(DoId id);

    /// <summary>This OTP node's id: where an <see cref="SendToNode"/> of another node reaches this node's State Server.</summary>
    DoId NodeId { get; }

    /// <summary>
    /// Sends <paramref name="envelope"/> to the State Server of OTP node <paramref name="node"/> (its placement subject;
    /// in process when it is this node): the answers and forwards of an object moving between nodes.
    /// </summary>
    void SendToNode(DoId node, Envelope envelope);
}
