using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>An NPC that the AI walks around the district's grid on a timer.</summary>
public sealed partial class Wanderer : DistributedObject<Wanderer>
{
    /// <summary>The wanderer's name.</summary>
    [Required, Ram, Broadcast, MaxLength(24)]
    public partial string Name { get; set; }

    /// <summary>Position in the district (x, y), in world units (<see cref="TavernWorld.CellSize"/> per cell).</summary>
    [Ram, Broadcast, Ai, MaxLength(2)]
    public partial float[] Position { get; set; }
}
