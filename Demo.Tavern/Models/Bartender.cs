using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>The AI's bartender in the bar room: greets newcomers and sells drinks for gold.</summary>
public sealed partial class Bartender : DistributedObject<Bartender>
{
    /// <summary>The bartender's name.</summary>
    [Required, Ram, Broadcast, MaxLength(24)]
    public partial string Name { get; set; }

    /// <summary>Any client in the room may order; the AI takes the price from the caller's gold.</summary>
    [Distributed, ClSend]
    public void BuyDrink([Required, MaxLength(16), NoControlCharacters] string drink)
    {
    }

    /// <summary>What the bartender says, to everyone in the room.</summary>
    [Distributed, Broadcast, Ai]
    public void Greet(string text)
    {
    }
}
