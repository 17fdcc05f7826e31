// This file is the README's "Declare a model" example, compiled. ReadmeTests checks that the README shows it verbatim.
using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Pastry.Tests.Readme;

public sealed class Avatar : DistributedObject<Avatar>
{
    [Required, Ram, Db, Broadcast, MaxLength(24)]
    public string Name { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public float[] Position { get => Get<float[]>(); set => Set(value); }

    [Db, Ai, Range(0, 1_000_000)]
    public int Gold { get => Get<int>(); set => Set(value); }

    [Db, OwnSend]
    public byte[] Appearance { get => Get<byte[]>(); set => Set(value); }

    [Db, Ai]
    public DateTime LastSeen { get => Get<DateTime>(); set => Set(value); }

    // Runs before the validators; may normalise or reject (throw ValidationException).
    private string CleanName(string value) => value.Trim();

    // An RPC: the body runs on the receiving side (here, the AI).
    [Distributed, ClSend, Broadcast]
    public void Say([MaxLength(200)] string text) { }
}
