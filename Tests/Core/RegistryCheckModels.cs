using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Core;

// Models for RegistryCheckTests. The wrong ones are nested in generic holder classes, like Declarations<TScope> in
// TestModels.cs, so that assembly scanning (FromAssemblies skips open generic types) never trips over them; the good
// ones too, so that they do not join the schema of every registry built from this assembly.

/// <summary>
/// An abstract model at the top level of this assembly, on purpose: FromAssemblies must pass over it (registering it
/// would fail, since a model must be concrete), while ModelInfo.For names the problem.
/// </summary>
public abstract class AbstractHeroBase : DistributedObject<AbstractHeroBase>
{
    [Ram]
    public int Level { get => Get<int>(); set => Set(value); }
}

/// <summary>A validator whose class name does not end in "Attribute": the schema names it as it is.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class NotBlank : ValidationAttribute
{
    /// <inheritdoc />
    public override bool IsValid(object? value) => value is not string text || text.Trim().Length > 0;
}

/// <summary>Declarations that registration must reject, each with one mistake (see RegistryCheckTests).</summary>
public static class Misdeclared<TScope>
{
#pragma warning disable PASTRY002, PASTRY003, PASTRY004, PASTRY005, PASTRY006, PASTRY008
    public sealed class NoDefaultConstructor : DistributedObject<NoDefaultConstructor>
    {
        public NoDefaultConstructor(int level) => Level = level;

        [Ram]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    public sealed class OverloadedRpc : DistributedObject<OverloadedRpc>
    {
        [Distributed, ClSend]
        public void Poke()
        {
        }

        [Distributed, ClSend]
        public void Poke(int times)
        {
        }
    }

    public sealed class GenericRpc : DistributedObject<GenericRpc>
    {
        [Distributed, ClSend]
        public void Poke<T>()
        {
        }
    }

    public sealed class RefParameterRpc : DistributedObject<RefParameterRpc>
    {
        [Distributed, ClSend]
        public void Pay(ref int amount) => amount++;
    }

    /// <summary>Keywords on properties a client cannot write through: each is named with its type as C# spells it.</summary>
    public sealed class KeywordsWithoutSetter : DistributedObject<KeywordsWithoutSetter>
    {
        [Ram]
        public bool Open => false;

        [Db]
        public long Gold => 0;

        [Broadcast]
        public float Speed => 0;

        [ClSend]
        public double Weight => 0;

        [OwnSend]
        public int? Rank => null;

        [Ai]
        public int[,] Grid => new int[1, 1];

        [Ram]
        public DateTime Since => default;

        [Required]
        public string Name { get => string.Empty; private set => _ = value; }

        // No keyword: a plain read-only property of the class, not a field, and no problem.
        public string Title => "none";

        // No keyword and a private setter: not a field either.
        public int Mood { get; private set; }
    }

    /// <summary>Field types without a codec: each named as C# spells it.</summary>
    public sealed class UnsupportedTypes : DistributedObject<UnsupportedTypes>
    {
        [Ram] public byte Small { get => default; set => _ = value; }

        [Ram] public sbyte SignedSmall { get => default; set => _ = value; }

        [Ram] public char Letter { get => default; set => _ = value; }

        [Ram] public short Short { get => default; set => _ = value; }

        [Ram] public ushort UnsignedShort { get => default; set => _ = value; }

        [Ram] public uint Unsigned { get => default; set => _ = value; }

        [Ram] public ulong UnsignedLong { get => default; set => _ = value; }

        [Ram] public object? Anything { get => default; set => _ = value; }

        [Ram] public DayOfWeek Day { get => default; set => _ = value; }

        [Ram] public Dictionary<string, int[]>? Table { get => default; set => _ = value; }

        [Ram] public long[,]? Plane { get => default; set => _ = value; }

        [Ram] public double? Maybe { get => default; set => _ = value; }
    }

    public sealed class SeveralCleanMethods : DistributedObject<SeveralCleanMethods>
    {
        [Ram]
        public string Name { get => Get<string>(); set => Set(value); }

        private string CleanName(string value) => value;

        private string CleanName(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public sealed class UniqueNotDb : DistributedObject<UniqueNotDb>
    {
        [Ram, Unique]
        public string Handle { get => Get<string>(); set => Set(value); }
    }

    public sealed class IndexedNotDb : DistributedObject<IndexedNotDb>
    {
        [Ram, Indexed]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    /// <summary>Two mistakes on one field ([Unique(IgnoreCase)] on an int, and no [Db]): the first is reported, once.</summary>
    public sealed class IgnoreCaseIntNotDb : DistributedObject<IgnoreCaseIntNotDb>
    {
        [Ram, Unique(IgnoreCase = true)]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    public sealed class IgnoreCaseIntArray : DistributedObject<IgnoreCaseIntArray>
    {
        [Db, Unique(IgnoreCase = true)]
        public int[] Scores { get => Get<int[]>(); set => Set(value); }
    }

    public sealed class IgnoreCaseInt : DistributedObject<IgnoreCaseInt>
    {
        [Db, Unique(IgnoreCase = true)]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    [UniqueTogether]
    [IndexTogether(null!)]
    public sealed class TogetherWithoutFields : DistributedObject<TogetherWithoutFields>
    {
        [Db]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    [IndexTogether(nameof(Level), "Nope")]
    [UniqueTogether(nameof(Level), nameof(Level))]
    public sealed class TogetherWrongNames : DistributedObject<TogetherWrongNames>
    {
        [Db]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    [IndexTogether(nameof(Level))]
    [UniqueTogether(nameof(Handle), IgnoreCase = true)]
    public sealed class SameIndexTwice : DistributedObject<SameIndexTwice>
    {
        [Db, Indexed]
        public int Level { get => Get<int>(); set => Set(value); }

        [Db, Unique(IgnoreCase = true)]
        public string Handle { get => Get<string>(); set => Set(value); }
    }

    /// <summary>Two model names whose FNV-1a class ids collide (1149495314): found by search, see RegistryCheckTests.</summary>
    public sealed class Relicojif : DistributedObject<Relicojif>
    {
    }

    public sealed class RelicWxah : DistributedObject<RelicWxah>
    {
    }
#pragma warning restore PASTRY002, PASTRY003, PASTRY004, PASTRY005, PASTRY006, PASTRY008
}

/// <summary>Models declared correctly, for the checks of what registration builds from them.</summary>
public static class WellDeclared<TScope>
{
    /// <summary>A base class's together-indexes apply to the models that derive from it.</summary>
    [UniqueTogether(nameof(Realm), nameof(Level))]
    [IndexTogether(nameof(Level), nameof(Realm))]
    public abstract class RankedBase<T> : DistributedObject<T>
        where T : RankedBase<T>
    {
        [Db]
        public string Realm { get => Get<string>(); set => Set(value); }

        [Db]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    /// <summary>A base class with a virtual RPC, which a model overrides.</summary>
    public abstract class BellBase<T> : DistributedObject<T>
        where T : BellBase<T>
    {
        [NotDistributed]
        public string Rung { get; protected set; } = string.Empty;

        [Distributed, ClSend]
        public virtual void Ring(int times) => Rung = "base " + times;
    }

    public sealed class ChurchBell : BellBase<ChurchBell>
    {
        public override void Ring(int times) => Rung = "church " + times;
    }

    public sealed class Champion : RankedBase<Champion>
    {
        [Ram]
        public int Wins { get => Get<int>(); set => Set(value); }
    }

    /// <summary>Every kind of index, a field in two unique indexes, and a together-index whose IgnoreCase has no string to apply to.</summary>
    [UniqueTogether(nameof(Holder), nameof(Slot), IgnoreCase = true)]
    [UniqueTogether(nameof(Slot), nameof(Rank), IgnoreCase = true)]
    [IndexTogether(nameof(Level), nameof(Slot))]
    public sealed class Vault : DistributedObject<Vault>
    {
        [Db]
        public string Holder { get => Get<string>(); set => Set(value); }

        [Db]
        public int Slot { get => Get<int>(); set => Set(value); }

        [Db]
        public int Rank { get => Get<int>(); set => Set(value); }

        [Db, Unique(IgnoreCase = true)]
        public string Handle { get => Get<string>(); set => Set(value); }

        [Db, Indexed]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    /// <summary>
    /// Fields and RPCs with every keyword, validators, an optional parameter, and hand-written accessors with the two
    /// mistakes a developer can make in them (a wrong type, a name that is not a field).
    /// </summary>
    public sealed class Ledger : DistributedObject<Ledger>
    {
        [Required, Ram, Broadcast, Range(0, 100)]
        public int Gold { get => Get<int>(); set => Set(value); }

        [Db, OwnSend, NotBlank, MaxLength(12)]
        public string Note { get => Get<string>(); set => Set(value); }

        [Ram, ClSend]
        public DateTime Seen { get => Get<DateTime>(); set => Set(value); }

        [Ram, Ai]
        public DoId Keeper { get => Get<DoId>(); set => Set(value); }

        [Ram]
        public string Tag { get => Get<string>(); set => Set(value); }

        [NotDistributed]
        public long GoldAsLong => Get<long>("Gold");

        [NotDistributed]
        public int Ghost => Get<int>();

        [NotDistributed]
        public int Spare { get; set; }

        public int this[int slot]
        {
            get => slot;
            set => Spare = value;
        }

        [Distributed, ClSend, Anonymous]
        public void Say([NotBlank] string text, int volume = 3) => LastSaid = text + volume;

        [Distributed, OwnSend]
        public void Shout([MaxLength(3)] string text, [Range(1, 5)] int volume) => LastSaid = text + volume;

        [Distributed, Ai, Broadcast]
        public void Ring()
        {
        }

        [NotDistributed]
        public string LastSaid { get; private set; } = string.Empty;

        // Each clean outcome other than a value: an ArgumentException, a ModelValidationException, a value the
        // codec then refuses (an Unspecified DateTime).
        private string CleanTag(string value) => value switch
        {
            "argument" => throw new ArgumentException("Tag is not an argument."),
            "model" => throw new ModelValidationException(nameof(Ledger), nameof(Tag), "Tag is taken."),
            _ => value,
        };

        private DateTime CleanSeen(DateTime value) => value.Year == 2000 ? DateTime.SpecifyKind(value, DateTimeKind.Unspecified) : value;
    }
}
