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

    /// <summary>This node's State Server no longer holds <paramref name="id"/> (deleted, or its activation failed).</summary>
    void Release(DoId id);
}
