using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Database;

/// <summary>A stored hero: a unique name that ignores case, indexed gold and account, and fields of every filterable kind.</summary>
public sealed class DbHero : DistributedObject<DbHero>
{
    [Required, Ram, Db, Unique(IgnoreCase = true), MaxLength(64)]
    public string Name { get => Get<string>(); set => Set(value); }

    [Db, Indexed, Range(0, 1_000_000)]
    public int Gold { get => Get<int>(); set => Set(value); }

    [Db, Indexed]
    public DoId Account { get => Get<DoId>(); set => Set(value); }

    [Db]
    public string Title { get => Get<string>(); set => Set(value); }

    [Db]
    public double Height { get => Get<double>(); set => Set(value); }

    [Db]
    public DateTime Born { get => Get<DateTime>(); set => Set(value); }

    [Db]
    public bool Retired { get => Get<bool>(); set => Set(value); }

    [Db]
    public string[] Tags { get => Get<string[]>(); set => Set(value); }

    [Db]
    public long Fame { get => Get<long>(); set => Set(value); }

    [Ram]
    public int Mood { get => Get<int>(); set => Set(value); }
}

/// <summary>A seat at a table: the pair (table, chair) is unique.</summary>
[UniqueTogether(nameof(Table), nameof(Chair))]
public sealed class DbSeat : DistributedObject<DbSeat>
{
    [Db]
    public DoId Table { get => Get<DoId>(); set => Set(value); }

    [Db]
    public int Chair { get => Get<int>(); set => Set(value); }

    [Db]
    public string Guest { get => Get<string>(); set => Set(value); }
}

/// <summary>Versions of "Rogue" for index migrations (generic nesting keeps them out of assembly scans).</summary>
public static class RogueVersions<TScope>
{
    /// <summary>No indexes.</summary>
    public sealed class Rogue : DistributedObject<Rogue>
    {
        [Db] public string Name { get => Get<string>(); set => Set(value); }

        [Db] public int Loot { get => Get<int>(); set => Set(value); }
    }

    /// <summary>A unique name (ignoring case) and an index on loot.</summary>
    public static class Indexed
    {
        public sealed class Rogue : DistributedObject<Rogue>
        {
            [Db, Unique(IgnoreCase = true)] public string Name { get => Get<string>(); set => Set(value); }

            [Db, Indexed] public int Loot { get => Get<int>(); set => Set(value); }
        }
    }

    /// <summary>The indexed loot field is gone (its index must go first, or SQLite refuses to drop the column).</summary>
    public static class LootRemoved
    {
        public sealed class Rogue : DistributedObject<Rogue>
        {
            [Db, Unique(IgnoreCase = true)] public string Name { get => Get<string>(); set => Set(value); }
        }
    }
}

/// <summary>Wrongly declared indexes, each refused at registration (generic nesting keeps them out of assembly scans).</summary>
public static class BadIndexModels<TScope>
{
    public sealed class UniqueNotDb : DistributedObject<UniqueNotDb>
    {
        [Ram, Unique] public string Name { get => Get<string>(); set => Set(value); }
    }

    public sealed class IgnoreCaseOnInt : DistributedObject<IgnoreCaseOnInt>
    {
        [Db, Unique(IgnoreCase = true)] public int Number { get => Get<int>(); set => Set(value); }
    }

    [UniqueTogether("Keeper", "Nope")]
    public sealed class TogetherUnknownField : DistributedObject<TogetherUnknownField>
    {
        [Db] public DoId Keeper { get => Get<DoId>(); set => Set(value); }
    }

    public sealed class IndexedArray : DistributedObject<IndexedArray>
    {
        [Db, Indexed] public int[] Numbers { get => Get<int[]>(); set => Set(value); }
    }
}
