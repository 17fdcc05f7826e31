using Pastry;

namespace Demo.Tavern;

/// <summary>The Tavern's fixed layout, shared by the AI, the clients and the bots.</summary>
public static class TavernWorld
{
    /// <summary>The district's well-known id: clients open interest under it without asking anyone.</summary>
    public static readonly DoId DistrictId = DoId.Parse("00000000-0000-0000-0000-0000000d1577");

    /// <summary>The tavern's well-known id.</summary>
    public static readonly DoId TavernId = DoId.Parse("00000000-0000-0000-0000-00000007a7e2");

    /// <summary>The district's outdoor grid: 10x10 cells, zone = 1 + y*10 + x.</summary>
    public static readonly ZoneGrid Grid = new(10, 10);

    /// <summary>World units per grid cell.</summary>
    public const float CellSize = 10f;

    /// <summary>The tavern's cell (x, y) in the district.</summary>
    public static readonly (int X, int Y) TavernCell = (6, 5);

    /// <summary>The tavern's zone in the district.</summary>
    public static uint TavernZone => Grid.ZoneOf(TavernCell.X, TavernCell.Y);

    /// <summary>The tavern's bar room (a zone of the tavern).</summary>
    public const uint BarRoom = 1;

    /// <summary>The tavern's cellar (a zone of the tavern).</summary>
    public const uint Cellar = 2;

    /// <summary>Size of a room, in world units (x and y from 0 to this).</summary>
    public const float RoomSize = 10f;

    /// <summary>Where new players start: the cell south of the tavern's door, in world units.</summary>
    public static readonly float[] StartPosition = { (TavernCell.X * CellSize) + 5f, ((TavernCell.Y - 1) * CellSize) + 5f };

    /// <summary>How far a player walks per second, in world units (two cells). A move further than its walking allowance is cut short by the AI.</summary>
    public const float WalkingSpeed = 20f;

    /// <summary>The most a player may walk in one go after standing still, in world units (four cells): the allowance fills up to this at <see cref="WalkingSpeed"/>.</summary>
    public const float MaxStride = 40f;

    /// <summary>Gold a new player starts with.</summary>
    public const int StartingGold = 20;

    /// <summary>Gold a player in the world earns every payday (<see cref="TavernAi.WagePeriod"/>), up to <see cref="StartingGold"/>.</summary>
    public const int Wage = 3;

    /// <summary>What a drink costs.</summary>
    public const int DrinkPrice = 3;

    /// <summary>How many notices the board keeps.</summary>
    public const int MaxNotices = 10;

    /// <summary>How many characters one account may have.</summary>
    public const int MaxCharacters = 3;

    /// <summary>How many names the richest-patrons board shows.</summary>
    public const int BoardSize = 5;

    /// <summary>How often the AI refreshes the richest-patrons board (<c>TAVERN_BOARD_MS</c>, default 5000).</summary>
    public static TimeSpan BoardPeriod => TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("TAVERN_BOARD_MS"), out int ms) && ms > 0 ? ms : 5000);

    /// <summary>The district zone that holds the accounts' rosters: no client opens interest in it, so only owners see them.</summary>
    public const uint RosterZone = 1000;

    /// <summary>The names of the AI's characters (the bartender, the wanderers); players cannot take them, in any case.</summary>
    public static readonly string[] NpcNames = { "Barliman", "Old Tom" };

    /// <summary>Whether <paramref name="name"/> is an NPC's name (or a wanderer's "Old Tom N"), ignoring case.</summary>
    public static bool IsNpcName(string name) =>
        Array.Exists(NpcNames, npc => name.Trim().StartsWith(npc, StringComparison.OrdinalIgnoreCase));

    /// <summary>The district zone of a world position (clamped to the grid).</summary>
    public static uint ZoneAt(float x, float y) => Grid.ZoneAt(x, y, CellSize);

    /// <summary>The zones a client opens in the district around an outdoor zone (its 3x3 neighbourhood).</summary>
    public static IReadOnlyList<uint> Neighbourhood(uint zone) => Grid.Neighbourhood(zone);
}
