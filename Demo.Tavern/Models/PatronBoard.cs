using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>The "richest patrons" board in the bar: the AI fills it with a query ordered by gold.</summary>
public sealed partial class PatronBoard : DistributedObject<PatronBoard>
{
    /// <summary>The richest characters, richest first, as "Name: N gold".</summary>
    [Ram, Broadcast, Ai, MaxLength(TavernWorld.BoardSize)]
    public partial string[] Richest { get; set; }
}
