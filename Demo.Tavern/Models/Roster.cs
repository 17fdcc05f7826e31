using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>
/// An account's characters, as the AI found them with a query, and why it last refused to let the account in. It is
/// owned by the account and placed where no interest reaches (<see cref="TavernWorld.RosterZone"/>), so only its owner
/// sees it (an owner always sees what it owns).
/// </summary>
public sealed partial class Roster : DistributedObject<Roster>
{
    /// <summary>The account's character names, in slot order.</summary>
    [Ram, Ai, MaxLength(TavernWorld.MaxCharacters)]
    public partial string[] Characters { get; set; }

    /// <summary>Why the last EnterWorld was refused (empty when it was not): a taken name, a full roster, an NPC's name.</summary>
    [Ram, Ai, MaxLength(200)]
    public partial string Notice { get; set; }

    /// <summary>The ticket of the request this answers (the AI sets it last), so a client waits for the answer to its own request.</summary>
    [Ram, Ai]
    public partial int Ticket { get; set; }
}
