using System.ComponentModel.DataAnnotations;
using Pastry;

namespace MyGame.Models;

/// <summary>
/// A hero in the world: everyone in its zone sees its name and gold, and may greet it. Fields are partial properties:
/// Pastry.Core's source generator writes their bodies, and its analyzers check the keywords as you type (PASTRY001...).
/// </summary>
public sealed partial class Hero : DistributedObject<Hero>
{
    /// <summary>The well-known id of the hero the AI creates at start.</summary>
    public static readonly DoId GuideId = DoId.Parse("00000000-0000-0000-0000-000000000001");

    /// <summary>The zone of the root where the world lives.</summary>
    public const uint TownSquare = 1;

    /// <summary>The hero's name.</summary>
    [Required, Ram, Broadcast, MaxLength(24)]
    public partial string Name { get; set; }

    /// <summary>Only the AI may change a hero's gold.</summary>
    [Ram, Broadcast, Ai, Range(0, 1_000_000)]
    public partial int Gold { get; set; }

    /// <summary>A client greets the hero; the body runs on the AI.</summary>
    [Distributed, ClSend]
    public void Greet([MaxLength(100)] string text)
    {
    }

    /// <summary>The AI's answer, heard by every client in the zone.</summary>
    [Distributed, Broadcast, Ai]
    public void Answer(string text)
    {
    }
}
