using System.ComponentModel.DataAnnotations;

namespace Pastry.Bench;

/// <summary>
/// The parent object of <c>pastry bench</c>: the bench AI creates one per run and puts its entities in its zones.
/// A server under test must know these models, the bench's own (this file holds every one of them), so it is started
/// with <c>--app Pastry.Bench.dll</c>.
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

/// <summary>A shared object that any client in view may set: the relay scenario's carrier of send times.</summary>
internal sealed class BenchToken : DistributedObject<BenchToken>
{
    /// <summary>When a client set it, in Stopwatch ticks of the bench process.</summary>
    [Ram, Broadcast, ClSend]
    public long Stamp { get => Get<long>(); set => Set(value); }

    /// <summary>A label, so the object has a Required field like a real one.</summary>
    [Required, Ram, Broadcast]
    public string Label { get => Get<string>(); set => Set(value); }
}

/// <summary>A stored record for <c>pastry bench db</c>: two Db fields written in a stream.</summary>
internal sealed class BenchRecord : DistributedObject<BenchRecord>
{
    /// <summary>A counter the writer increments; indexed, so every write also updates an index (as a game's gold would).</summary>
    [Db, Indexed]
    public long Counter { get => Get<long>(); set => Set(value); }

    /// <summary>A unique label ("record N"), which <c>--queries</c> looks records up by.</summary>
    [Db, Unique]
    public string Label { get => Get<string>(); set => Set(value); }
}

/// <summary>A bot's character in <c>pastry bench soak</c>: stored, walked by its owner, scored by the AI.</summary>
internal sealed class SoakPlayer : DistributedObject<SoakPlayer>
{
    /// <summary>The bot's name.</summary>
    [Required, Ram, Db, Broadcast, MaxLength(40)]
    public string Name { get => Get<string>(); set => Set(value); }

    /// <summary>Points the AI awards (a write-through Db write each time, and a compare-and-swap now and then).</summary>
    [Ram, Db, Ai]
    public long Score { get => Get<long>(); set => Set(value); }

    /// <summary>Where the bot stands; only its owner moves it, everyone in the zone sees it.</summary>
    [Ram, Broadcast, OwnSend]
    public float X { get => Get<float>(); set => Set(value); }
}
