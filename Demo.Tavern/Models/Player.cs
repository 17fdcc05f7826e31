using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>
/// A player's avatar: saved in the database under its account's id, seen by everyone nearby, walked around by its
/// owner. Outdoors it lives in a district grid zone; inside, in a room of the tavern.
/// </summary>
public sealed partial class Player : DistributedObject<Player>
{
    /// <summary>The name everyone sees.</summary>
    [Required, Ram, Db, Broadcast, MaxLength(24), NoControlCharacters]
    public partial string Name { get; set; }

    /// <summary>Gold coins; only the AI may change them (the bartender when selling a drink). The owner sees them, others do not.</summary>
    [Ram, Db, Ai, Range(0, 1_000_000)]
    public partial int Gold { get; set; }

    /// <summary>Looks, chosen by the owner; only the owner may send it.</summary>
    [Db, Ram, OwnSend, MaxLength(64)]
    public partial byte[] Appearance { get; set; }

    /// <summary>When the player last entered or left the world.</summary>
    [Db, Ai]
    public partial DateTime LastSeen { get; set; }

    /// <summary>Position in the current place (x, y); only its owner may send it ([OwnSend]: with [ClSend] any viewer could move it), and everyone nearby sees it.</summary>
    [Ram, Broadcast, OwnSend, MaxLength(2)]
    public partial float[] Position { get; set; }

    /// <summary>The owner speaks; the AI checks it and repeats it to everyone nearby with <see cref="Said"/>.</summary>
    [Distributed, OwnSend]
    public void Say([Required, MaxLength(120), NoControlCharacters] string text)
    {
    }

    /// <summary>A line of chat, from the AI to everyone who sees this player.</summary>
    [Distributed, Broadcast, Ai]
    public void Said(string name, string text)
    {
    }

    private string CleanName(string value) => value.Trim();
}
