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

    /// <summary>Asks the AI for the caller's player: the stored one if the account has one, else a new one named <paramref name="name"/>.</summary>
    [Distributed, ClSend]
    public void EnterWorld([Required, MaxLength(24), NoControlCharacters] string name)
    {
    }

    /// <summary>Asks the AI to save the caller's player and take it out of the world (a clean logout).</summary>
    [Distributed, ClSend]
    public void LeaveWorld()
    {
    }
}
