using System.ComponentModel.DataAnnotations;

namespace Pastry.Benchmarks;

/// <summary>
/// A typical 6-field game model (int, long, float, string, float[], DoId) used by every micro-benchmark, so the
/// numbers describe the same object shape. Level has a Range validator and Name a MaxLength validator.
/// </summary>
public sealed class BenchAvatar : DistributedObject<BenchAvatar>
{
    /// <summary>Display name; exercises the string codec and MaxLength.</summary>
    [Required, Ram, Db, Broadcast, MaxLength(24)]
    public string Name { get => Get<string>(); set => Set(value); }

    /// <summary>Level; exercises the int codec and Range.</summary>
    [Ram, Db, Broadcast, Range(1, 100)]
    public int Level { get => Get<int>(); set => Set(value); }

    /// <summary>Gold; a plain long field with no validator.</summary>
    [Ram, Db, OwnSend]
    public long Gold { get => Get<long>(); set => Set(value); }

    /// <summary>Movement speed; a float field.</summary>
    [Ram, Broadcast]
    public float Speed { get => Get<float>(); set => Set(value); }

    /// <summary>Position as x, y, z; a small array field.</summary>
    [Ram, Broadcast]
    public float[] Position { get => Get<float[]>(); set => Set(value); }

    /// <summary>The guild object; a 16-byte DoId field (read under the lock).</summary>
    [Ram, Db, Broadcast]
    public DoId Guild { get => Get<DoId>(); set => Set(value); }

    /// <summary>An avatar with every field assigned to a realistic value.</summary>
    public static BenchAvatar CreateFilled() => new()
    {
        Name = "Captain Toon",
        Level = 42,
        Gold = 123_456_789,
        Speed = 6.5f,
        Position = new[] { 10.5f, -3.25f, 0f },
        Guild = new DoId(0x0123_4567_89ab_7def, 0x8123_4567_89ab_cdef),
    };
}
