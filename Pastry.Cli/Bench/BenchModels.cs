using System.ComponentModel.DataAnnotations;

namespace Pastry.Cli.Bench;

/// <summary>
/// The parent object of <c>pastry bench</c>: the bench AI creates one per run and puts its entities in its zones.
/// A server under test must know these models, so it is started with <c>--app pastry.dll</c>.
/// </summary>
internal sealed class BenchZone : DistributedObject<BenchZone>
{
    /// <summary>A name for logs.</summary>
    [Required, Ram, Broadcast]
    public string Name { get => Get<string>(); set => Set(value); }
}

/// <summary>
/// The object whose updates <c>pastry bench</c> fans out. <see cref="SentTicks"/> carries the AI's send time
/// (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>; AI and clients run in the bench process and share that clock).
/// </summary>
internal sealed class BenchEntity : DistributedObject<BenchEntity>
{
    /// <summary>The entity's number within its run.</summary>
    [Required, Ram, Broadcast]
    public int Value { get => Get<int>(); set => Set(value); }

    /// <summary>When the AI sent the update, in Stopwatch ticks of the bench process.</summary>
    [Ram, Broadcast]
    public long SentTicks { get => Get<long>(); set => Set(value); }
}

/// <summary>
/// A walking avatar of <c>pastry bench grid</c>: the bench AI creates one per client in its cell, and the client
/// sends its position with the send time in one SetFields at the walking rate. The AI sees each position and moves
/// the avatar to the cell it is in; the send time is relayed, not stored.
/// </summary>
internal sealed class BenchAvatar : DistributedObject<BenchAvatar>
{
    /// <summary>World x, in the bench's world units.</summary>
    [Required, Ram, Broadcast, ClSend]
    public float X { get => Get<float>(); set => Set(value); }

    /// <summary>World y, in the bench's world units.</summary>
    [Required, Ram, Broadcast, ClSend]
    public float Y { get => Get<float>(); set => Set(value); }

    /// <summary>When the client sent this position, in Stopwatch ticks of the bench process (relayed, not stored).</summary>
    [Broadcast, ClSend]
    public long SentTicks { get => Get<long>(); set => Set(value); }
}
