using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Database;

/// <summary>One Db field of every supported type, for the mapping round trip.</summary>
public sealed class DbEveryType : DistributedObject<DbEveryType>
{
    [Db] public int Int32 { get => Get<int>(); set => Set(value); }

    [Db] public long Int64 { get => Get<long>(); set => Set(value); }

    [Db] public float Single { get => Get<float>(); set => Set(value); }

    [Db] public double Double { get => Get<double>(); set => Set(value); }

    [Db] public bool Flag { get => Get<bool>(); set => Set(value); }

    [Db] public string Text { get => Get<string>(); set => Set(value); }

    [Db] public byte[] Bytes { get => Get<byte[]>(); set => Set(value); }

    [Db] public DateTime When { get => Get<DateTime>(); set => Set(value); }

    [Db] public DoId Link { get => Get<DoId>(); set => Set(value); }

    [Db] public int[] Int32s { get => Get<int[]>(); set => Set(value); }

    [Db] public long[] Int64s { get => Get<long[]>(); set => Set(value); }

    [Db] public float[] Singles { get => Get<float[]>(); set => Set(value); }

    [Db] public double[] Doubles { get => Get<double[]>(); set => Set(value); }

    [Db] public bool[] Flags { get => Get<bool[]>(); set => Set(value); }

    [Db] public string[] Texts { get => Get<string[]>(); set => Set(value); }

    [Db] public byte[][] Blobs { get => Get<byte[][]>(); set => Set(value); }

    [Db] public DateTime[] Times { get => Get<DateTime[]>(); set => Set(value); }

    [Db] public DoId[] Links { get => Get<DoId[]>(); set => Set(value); }

    [Ram] public int NotStored { get => Get<int>(); set => Set(value); }
}

/// <summary>A stored wallet: gold that AIs spend with compare-and-swap, a Required name, and a field that is only in RAM.</summary>
public sealed class DbWallet : DistributedObject<DbWallet>
{
    [Required, Ram, Db, Broadcast, MaxLength(24)]
    public string Holder { get => Get<string>(); set => Set(value); }

    [Db, Ai, Range(0, 1_000_000)]
    public int Gold { get => Get<int>(); set => Set(value); }

    [Db, Ai]
    public long Counter { get => Get<long>(); set => Set(value); }

    [Ram, Broadcast]
    public int Mood { get => Get<int>(); set => Set(value); }

    // Clean methods run on stored values too: a row whose Holder has spaces around it is reported, not trimmed.
    private string CleanHolder(string value) => value.Trim();
}

/// <summary>Versions of one model, "Hoard", for migration tests (generic nesting keeps them out of assembly scans).</summary>
public static class HoardVersions<TScope>
{
    public sealed class Hoard : DistributedObject<Hoard>
    {
        [Db] public int Gold { get => Get<int>(); set => Set(value); }

        [Db] public string Label { get => Get<string>(); set => Set(value); }
    }

    /// <summary>Version 2: two fields added.</summary>
    public static class V2
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public int Gold { get => Get<int>(); set => Set(value); }

            [Db] public string Label { get => Get<string>(); set => Set(value); }

            [Db] public long Gems { get => Get<long>(); set => Set(value); }

            [Db] public float[] Weights { get => Get<float[]>(); set => Set(value); }
        }
    }

    /// <summary>Version 3: Label removed.</summary>
    public static class V3
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public int Gold { get => Get<int>(); set => Set(value); }
        }
    }

    /// <summary>Gold becomes a string (a type change that loses data).</summary>
    public static class GoldAsText
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public string Gold { get => Get<string>(); set => Set(value); }

            [Db] public string Label { get => Get<string>(); set => Set(value); }
        }
    }

    /// <summary>Gold widens to long (keeps every value).</summary>
    public static class GoldAsLong
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public long Gold { get => Get<long>(); set => Set(value); }

            [Db] public string Label { get => Get<string>(); set => Set(value); }
        }
    }

    /// <summary>A float field (Weight), before it widens to double.</summary>
    public static class WeightAsFloat
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public float Weight { get => Get<float>(); set => Set(value); }

            [Db] public string Label { get => Get<string>(); set => Set(value); }
        }
    }

    /// <summary>Weight widened from float to double (keeps every value).</summary>
    public static class WeightAsDouble
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public double Weight { get => Get<double>(); set => Set(value); }

            [Db] public string Label { get => Get<string>(); set => Set(value); }
        }
    }

    /// <summary>Gold renamed to Coins: a removed field plus an added one.</summary>
    public static class GoldRenamed
    {
        public sealed class Hoard : DistributedObject<Hoard>
        {
            [Db] public int Coins { get => Get<int>(); set => Set(value); }

            [Db] public string Label { get => Get<string>(); set => Set(value); }
        }
    }

    /// <summary>A second model, "Vault", whose table sorts after Hoard's.</summary>
    public sealed class Vault : DistributedObject<Vault>
    {
        [Db] public int Coins { get => Get<int>(); set => Set(value); }
    }
}

/// <summary>A stored purse that everyone nearby sees: a unique label and broadcast gold, for the convergence tests.</summary>
public sealed class DbPurse : DistributedObject<DbPurse>
{
    [Required, Ram, Db, Broadcast, MaxLength(24), Unique(IgnoreCase = true)]
    public string Label { get => Get<string>(); set => Set(value); }

    [Ram, Db, Ai, Broadcast, Range(0, 1_000)]
    public int Gold { get => Get<int>(); set => Set(value); }
}
