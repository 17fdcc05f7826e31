namespace Pastry.Tests.Schema;

/// <summary>Versions of one game's model "Hero" (and later "Pet"), compiled at test time as separate builds of the game.</summary>
internal static class HeroVersions
{
    /// <summary>A version before V1, with a field (Badge) that V1 removed: V0 clients are not compatible with V2.</summary>
    public const string V0 = """
        public sealed class Hero : DistributedObject<Hero>
        {
            [Required, Ram, Broadcast, MaxLength(24)] public string Name { get => Get<string>(); set => Set(value); }
            [Db, Ai, Range(0, 1000)] public int Gold { get => Get<int>(); set => Set(value); }
            [Db, Ram, OwnSend] public string Motto { get => Get<string>(); set => Set(value); }
            [Ram, Broadcast] public string Badge { get => Get<string>(); set => Set(value); }
            [Distributed, ClSend, Broadcast] public void Wave(string to) { }
        }
        """;

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

    /// <summary>
    /// V2's game logic for a server process: it creates Arthur (a Hero) and Rex (a Pet, which V1 does not know) at the
    /// root, and answers a wave with a broadcast wave carrying the arguments it got, after raising Arthur's Level (a
    /// field V1 does not know).
    /// </summary>
    public const string V2Ai = """
        public sealed class HeroAi : Pastry.Ai.IAiApplication
        {
            public System.Threading.Tasks.Task StartAsync(Pastry.Ai.AiRepository ai, System.Threading.CancellationToken cancellation)
            {
                var arthur = new Hero { Name = "Arthur", Level = 7, Coins = 900, Motto = "onward" };
                ai.Create(arthur, DoId.Empty, 0);
                ai.Create(new Pet { Kind = "dog" }, DoId.Empty, 0);
                System.ObservableExtensions.Subscribe(ai.Of<Hero>().Calls, call =>
                {
                    if (call.Method.Name == "Wave")
                    {
                        arthur.Level = arthur.Level + 1;
                        ai.Call(arthur, h => h.Wave("back:" + call.Arguments[0] + ":" + call.Arguments[1], 2));
                    }
                });
                return System.Threading.Tasks.Task.CompletedTask;
            }
        }
        """;
}
