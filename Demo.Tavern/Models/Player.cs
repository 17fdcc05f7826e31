using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>A player's avatar: saved in the database, seen by everyone nearby, walked around by its owner.</summary>
public sealed class Player : DistributedObject<Player>
{
    /// <summary>The name everyone sees.</summary>
    [Required, Ram, Db, Broadcast, MaxLength(24)]
    public string Name { get => Get<string>(); set => Set(value); }

    /// <summary>Gold coins; only the AI may change them (for example the bartender when selling a drink).</summary>
    [Db, Ai, Range(0, 1_000_000)]
    public int Gold { get => Get<int>(); set => Set(value); }

    /// <summary>Looks, chosen by the owner; only the owner may send it.</summary>
    [Db, Ram, OwnSend, MaxLength(64)]
    public byte[] Appearance { get => Get<byte[]>(); set => Set(value); }

    /// <summary>When the player last logged out.</summary>
    [Db, Ai]
    public DateTime LastSeen { get => Get<DateTime>(); set => Set(value); }

    /// <summary>Position in the current zone (x, y); any client in view may send it, and everyone nearby sees it.</summary>
    [Ram, Broadcast, ClSend, MaxLength(3)]
    public float[] Position { get => Get<float[]>(); set => Set(value); }

    private string CleanName(string value) => value.Trim();
}
