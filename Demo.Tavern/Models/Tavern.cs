using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>The tavern: an object in one cell of the district, whose zones are its rooms (<see cref="TavernWorld.BarRoom"/>, <see cref="TavernWorld.Cellar"/>).</summary>
public sealed partial class Tavern : DistributedObject<Tavern>
{
    /// <summary>The sign over the door.</summary>
    [Required, Ram, Broadcast, MaxLength(40)]
    public partial string Name { get; set; }
}
