using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.EndToEnd;

/// <summary>A parent object for end-to-end tests (a realm holds knights in zones).</summary>
public sealed class Realm : DistributedObject<Realm>
{
    [Required, Ram, Broadcast]
    public string Title { get => Get<string>(); set => Set(value); }

    /// <summary>Asks the AI for an avatar owned by the caller.</summary>
    [Distributed, ClSend]
    public void Summon([MaxLength(16)] string name)
    {
    }

    /// <summary>Asks the AI to delete a knight.</summary>
    [Distributed, ClSend]
    public void Dismiss(DoId knight)
    {
    }
}

/// <summary>The end-to-end test model: one field per rule the Client Agent enforces.</summary>
public sealed class Knight : DistributedObject<Knight>
{
    [Required, Ram, Broadcast, MaxLength(16)]
    public string Name { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast, ClSend, Range(0, 100)]
    public int X { get => Get<int>(); set => Set(value); }

    [Ram, OwnSend]
    public int Mood { get => Get<int>(); set => Set(value); }

    [Ram, Broadcast, Ai]
    public int Gold { get => Get<int>(); set => Set(value); }

    [Broadcast, Ai]
    public byte[] Banner { get => Get<byte[]>(); set => Set(value); }

    [Distributed, ClSend]
    public void Wave([MaxLength(32)] string text)
    {
    }

    [Distributed, Broadcast, Ai]
    public void Shout(string text)
    {
    }
}
