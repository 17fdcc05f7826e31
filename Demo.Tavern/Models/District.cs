using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>
/// The world's root: a district at the root (zone 0) whose zones 1..100 are a 10x10 outdoor grid
/// (<see cref="TavernWorld.Grid"/>). Clients ask it for their player.
/// </summary>
public sealed partial class District : DistributedObject<District>
{
    /// <summary>The district's name.</summary>
    [Required, Ram, Broadcast, MaxLength(40)]
    public partial string Name { get; set; }

    /// <summary>
    /// Asks the AI to play the caller's character named <paramref name="name"/>: the stored one (ignoring case), or a
    /// new one if the account has fewer than three and nobody else has the name. The AI answers on the roster with
    /// <paramref name="ticket"/>: an empty notice, or why it refused.
    /// </summary>
    [Distributed, ClSend]
    public void EnterWorld([Required, MaxLength(24), NoControlCharacters] string name, int ticket)
    {
    }

    /// <summary>Asks the AI for the caller's characters: it answers on the account's <see cref="Roster"/> (which only the account sees) with <paramref name="ticket"/>.</summary>
    [Distributed, ClSend]
    public void ListCharacters(int ticket)
    {
    }

    /// <summary>Asks the AI to save the caller's player and take it out of the world (a clean logout).</summary>
    [Distributed, ClSend]
    public void LeaveWorld()
    {
    }
}
