namespace Pastry.Tests.Schema;

/// <summary>Versions of one game's model "Hero" (and later "Pet"), compiled at test time as separate builds of the game.</summary>
internal static class HeroVersions
{
    /// <summary>The shipped version.</summary>
    public const string V1 = """
        public sealed class Hero : DistributedObject<Hero>
        {
            [Required, Ram, Broadcast, MaxLength(24)] public string Name { get => Get<string>(); set => Set(value); }
            [Db, Ai, Range(0, 1000)] public int Gold { get => Get<int>(); set => Set(value); }
            [Db, Ram, OwnSend] public string Motto { get => Get<string>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave(string to) { }
        }
        """;

    /// <summary>
    /// Compatible changes: a field inserted above the others, Gold renamed to Coins with a wider range, an optional
    /// parameter, a new RPC and a new class.
    /// </summary>
    public const string V2 = """
        public sealed class Hero : DistributedObject<Hero>
        {
            [Ram, Broadcast] public int Level { get => Get<int>(); set => Set(value); }
            [Required, Ram, Broadcast, MaxLength(24)] public string Name { get => Get<string>(); set => Set(value); }
            [Db, Ai, Range(0, 5000), RenamedFrom("Gold")] public int Coins { get => Get<int>(); set => Set(value); }
            [Db, Ram, OwnSend] public string Motto { get => Get<string>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave(string to, int times = 1) { }
            [Distributed, ClSend] public void Cheer() { }
        }

        public sealed class Pet : DistributedObject<Pet>
        {
            [Ram, Broadcast] public string Kind { get => Get<string>(); set => Set(value); }
        }
        """;

    /// <summary>V2 after its lock was written, with the [RenamedFrom] removed: the lock alone keeps Coins's id.</summary>
    public const string V2WithoutRenamedFrom = """
        public sealed class Hero : DistributedObject<Hero>
        {
            [Ram, Broadcast] public int Level { get => Get<int>(); set => Set(value); }
            [Required, Ram, Broadcast, MaxLength(24)] public string Name { get => Get<string>(); set => Set(value); }
            [Db, Ai, Range(0, 5000)] public int Coins { get => Get<int>(); set => Set(value); }
            [Db, Ram, OwnSend] public string Motto { get => Get<string>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave(string to, int times = 1) { }
            [Distributed, ClSend] public void Cheer() { }
        }

        public sealed class Pet : DistributedObject<Pet>
        {
            [Ram, Broadcast] public string Kind { get => Get<string>(); set => Set(value); }
        }
        """;

    /// <summary>Breaking changes from V1: Motto removed, Name's MaxLength tightened.</summary>
    public const string V3 = """
        public sealed class Hero : DistributedObject<Hero>
        {
            [Required, Ram, Broadcast, MaxLength(12)] public string Name { get => Get<string>(); set => Set(value); }
            [Db, Ai, Range(0, 1000)] public int Gold { get => Get<int>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave(string to) { }
        }
        """;

    /// <summary>After V3: a new field, which must not get Motto's retired id.</summary>
    public const string V4 = """
        public sealed class Hero : DistributedObject<Hero>
        {
            [Required, Ram, Broadcast, MaxLength(12)] public string Name { get => Get<string>(); set => Set(value); }
            [Db, Ai, Range(0, 1000)] public int Gold { get => Get<int>(); set => Set(value); }
            [Ram, Broadcast] public string Title { get => Get<string>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave(string to) { }
        }
        """;
}
