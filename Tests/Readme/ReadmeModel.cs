// This file is the README's "Declare a model" example, compiled. ReadmeTests checks that the README shows it verbatim.
using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Pastry.Tests.Readme;

public sealed partial class Avatar : DistributedObject<Avatar>
{
    [Required, Ram, Db, Broadcast, MaxLength(24)]
    public partial string Name { get; set; }

    [Ram, Broadcast, ClSend]
    public partial float[] Position { get; set; }

    [Ram, Db, Ai, Broadcast, Range(0, 1_000_000)]
    public partial int Gold { get; set; }

    [Db, OwnSend]
    public partial byte[] Appearance { get; set; }

    [Db, Ai]
    public partial DateTime LastSeen { get; set; }

    // Runs before the validators; may normalise or reject (throw ValidationException).
    private string CleanName(string value) => value.Trim();

    // An RPC: the body runs on the receiving side (here, the AI).
    [Distributed, ClSend, Broadcast]
    public void Say([MaxLength(200)] string text) { }
}
