namespace Pastry.Messaging;

/// <summary>A router that counts the messages it hands to participants of this process (the deliveries metric).</summary>
public interface IDeliveryCounter
{
    /// <summary>Messages handed to participants of this process so far (one per participant reached).</summary>
    long Deliveries { get; }
}
