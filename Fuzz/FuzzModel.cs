using System.ComponentModel.DataAnnotations;

namespace Pastry.Fuzz;

/// <summary>A model with a field of every wire type (and arrays), with validators, so that one registry exercises every codec.</summary>
public sealed class FuzzModel : DistributedObject<FuzzModel>
{
    [Ram, Broadcast, ClSend, Range(-1000, 1000)]
    public int Number { get => Get<int>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public long Big { get => Get<long>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public float Single { get => Get<float>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public double Double { get => Get<double>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public bool Flag { get => Get<bool>(); set => Set(value); }

    [Ram, Broadcast, ClSend, MaxLength(32)]
    public string Text { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast, ClSend, MaxLength(64)]
    public byte[] Bytes { get => Get<byte[]>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public DateTime When { get => Get<DateTime>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public DoId Other { get => Get<DoId>(); set => Set(value); }

    [Ram, Broadcast, ClSend, MaxLength(8)]
    public float[] Position { get => Get<float[]>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public string[] Lines { get => Get<string[]>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public DoId[] Friends { get => Get<DoId[]>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public DateTime[] Times { get => Get<DateTime[]>(); set => Set(value); }

    [Distributed, ClSend]
    public void Say([MaxLength(200)] string text, int volume)
    {
    }
}
