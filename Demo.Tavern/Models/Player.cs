using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>
/// A player's character: saved in the database (an account has up to <see cref="TavernWorld.MaxCharacters"/>), seen by
/// everyone nearby, walked around by its owner. Outdoors it lives in a district grid zone; inside, in a room of the tavern.
/// </summary>
public sealed partial class Player : DistributedObject<Player>
{
    /// <summary>The name everyone sees: unique among all characters, ignoring case ("Ann" takes "ANN").</summary>
    [Required, Ram, Db, Broadcast, MaxLength(24), NoControlCharacters, Unique(IgnoreCase = true)]
    public partial string Name { get; set; }

    /// <summary>Gold coins; only the AI may change them (the bartender when selling a drink). The owner sees them, others do not. Indexed for the richest-patrons board.</summary>
    [Ram, Db, Ai, Range(0, 1_000_000), Indexed]
    public partial int Gold { get; set; }

    /// <summary>The account that plays this character (its characters are found by a query on it).</summary>
    [Db, Ai, Indexed]
    public partial DoId Account { get; set; }

    /// <summary>The character's place in its account's list (0, 1 or 2), the order the list is shown in.</summary>
    [Db, Ai, Range(0, TavernWorld.MaxCharacters - 1)]
    public partial int Slot { get; set; }

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

    /// <summary>
    /// The owner asks to go in through the tavern's door; the AI moves the player into the bar when it stands at the
    /// door (in the tavern's cell or the cell south of it), and tells it otherwise. Entering is the AI's move, not a
    /// jump of <see cref="Position"/>, so the speed check never stands in its way.
    /// </summary>
    [Distributed, OwnSend]
    public void GoInside()
    {
    }

    /// <summary>The owner asks to go out (from the bar or the cellar); the AI moves the player onto the street at the door.</summary>
    [Distributed, OwnSend]
    public void GoOutside()
    {
    }

    /// <summary>A line of chat, from the AI to everyone who sees this player.</summary>
    [Distributed, Broadcast, Ai]
    public void Said(string name, string text)
    {
    }

    /// <summary>A line from the AI for this player alone (not broadcast: only the owner hears it), such as a bump into a wall.</summary>
    [Distributed, Ai]
    public void Told(string text)
    {
    }

    private string CleanName(string value) => value.Trim();
}
