using Demo.Tavern.Models;
using Pastry;
using Pastry.Ai;
using Pastry.Messaging;

namespace Demo.Tavern;

/// <summary>
/// The Tavern's game logic on the AI: spawns the district, the tavern, the bartender, the notice board and a
/// wanderer; gives each account its player (stored under the account's id); relays chat; sells drinks with a
/// set-if-equals on the buyer's gold; moves players across the grid and into and out of the tavern.
/// </summary>
public sealed class TavernAi : IAiApplication
{
    private static readonly string[] Drinks = { "ale", "mead", "cider" };
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<DoId, Player> players = new();
    private readonly HashSet<DoId> entering = new();
    private readonly HashSet<DoId> memoryOnly = new();
    private AiRepository ai = null!;
    private Bartender bartender = null!;
    private NoticeBoard board = null!;
    private Wanderer? wanderer;
    private int wandererSteps;
    private int wanderers;

    /// <summary>Milliseconds between two steps of the wanderer (environment variable <c>TAVERN_WANDER_MS</c>, default 2000).</summary>
    public static TimeSpan WanderPeriod => TimeSpan.FromMilliseconds(ReadSetting("TAVERN_WANDER_MS", 2000));

    /// <summary>Steps a wanderer takes before it goes home (it is deleted, and another comes out); <c>TAVERN_WANDER_STEPS</c>, default 30.</summary>
    public static int WandererLifetime => ReadSetting("TAVERN_WANDER_STEPS", 30);

    /// <inheritdoc />
    public Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(ai);
        this.ai = ai;
        ai.Create(new District { DoId = TavernWorld.DistrictId, Name = "Old Town" }, DoId.Empty, 0);
        ai.Create(new Models.Tavern { DoId = TavernWorld.TavernId, Name = "The Prancing Pastry" }, TavernWorld.DistrictId, TavernWorld.TavernZone);
        bartender = ai.Create(new Bartender { Name = "Barliman" }, TavernWorld.TavernId, TavernWorld.BarRoom);
        board = ai.Create(new NoticeBoard { Notices = new[] { "Barliman: welcome to the Prancing Pastry!" } }, TavernWorld.TavernId, TavernWorld.BarRoom);
        SpawnWanderer();
        var timer = ai.Every(WanderPeriod, Wander);
        cancellation.Register(timer.Dispose);

        ai.Of<District>().Calls.Subscribe(call =>
        {
            switch (call.Method.Name)
            {
                case nameof(District.EnterWorld):
                    _ = Guarded(EnterWorldAsync(call.Sender, (string)call.Arguments[0]!), "EnterWorld");
                    break;
                case nameof(District.LeaveWorld):
                    LeaveWorld(call.Sender);
                    break;
            }
        });
        // Save on logout: a session that closes without LeaveWorld (a crash, a dropped connection) leaves the world too.
        ai.SessionsClosed.Subscribe(LeaveWorld);
        ai.Of<Player>().Calls.Subscribe(call =>
        {
            if (call.Method.Name == nameof(Player.Say))
            {
                var speaker = (Player)call.Target;
                ai.Call(speaker, p => p.Said(speaker.Name, (string)call.Arguments[0]!));
            }
        });
        ai.Of<Bartender>().Calls.Subscribe(call =>
        {
            if (call.Method.Name == nameof(Bartender.BuyDrink))
            {
                _ = Guarded(SellAsync(call.Sender, ((string)call.Arguments[0]!).Trim().ToLowerInvariant()), "BuyDrink");
            }
        });
        ai.Of<NoticeBoard>().Calls.Subscribe(call =>
        {
            if (call.Method.Name == nameof(NoticeBoard.Post))
            {
                // The board hangs in the bar: a notice is pinned only by a player standing there.
                if (!players.TryGetValue(call.Sender, out var poster) || poster.Parent != TavernWorld.TavernId || poster.Zone != TavernWorld.BarRoom)
                {
                    Console.Out.WriteLine($"tavern: a notice from account {call.Sender} was refused: the board is in the bar");
                    return;
                }

                string author = poster.Name;
                board.Notices = board.Notices.Append($"{author}: {(string)call.Arguments[0]!}").TakeLast(TavernWorld.MaxNotices).ToArray();
            }
        });
        ai.Of<Player>().Updated.Subscribe(change =>
        {
            if (change.Origin == ChangeOrigin.Remote && change.Field.Name == nameof(Player.Position))
            {
                Walk((Player)change.Target);
            }
        });
        ai.Of<Player>().Deleted.Subscribe(player => players.Remove(player.DoId));
        return Task.CompletedTask;
    }

    /// <summary>Gives the caller its player: the active one, the stored one, or a new one; always at the start position.</summary>
    private async Task EnterWorldAsync(DoId account, string name)
    {
        if (account.IsEmpty || !entering.Add(account))
        {
            return;
        }

        try
        {
            uint start = TavernWorld.ZoneAt(TavernWorld.StartPosition[0], TavernWorld.StartPosition[1]);
            if (players.TryGetValue(account, out var player) && player.State == ObjectState.Live)
            {
                // Back after a dropped connection: the player is still in the world; bring it to the start.
                ai.Move(player, TavernWorld.DistrictId, start);
            }
            else
            {
                player = await ActivateOrCreateAsync(account, name.Trim(), start);
                players[account] = player;
            }

            player.Position = (float[])TavernWorld.StartPosition.Clone();
            player.LastSeen = ai.ServerTime;
            Console.Out.WriteLine($"tavern: {player.Name} entered the world with {player.Gold} gold");
        }
        finally
        {
            entering.Remove(account);
        }
    }

    private async Task<Player> ActivateOrCreateAsync(DoId account, string name, uint zone)
    {
        using var timeout = new CancellationTokenSource(DatabaseTimeout);
        try
        {
            var stored = await ai.ActivateAsync<Player>(account, TavernWorld.DistrictId, zone, owner: account, cancellation: timeout.Token);
            if (stored is not null)
            {
                return stored;
            }

            await ai.CreateInDatabaseAsync(NewPlayer(account, name), timeout.Token);
            return await ai.ActivateAsync<Player>(account, TavernWorld.DistrictId, zone, owner: account, cancellation: timeout.Token)
                ?? throw new InvalidOperationException($"The player {account} was stored but cannot be activated.");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // No Database role answered (Database:Path is empty): the player lives in RAM only, for this run.
            Console.Error.WriteLine($"tavern: no database answered; {name} is not saved");
            memoryOnly.Add(account);
            return ai.Create(NewPlayer(account, name), TavernWorld.DistrictId, zone, owner: account);
        }
    }

    private Player NewPlayer(DoId account, string name) => new()
    {
        DoId = account,
        Name = name,
        Gold = TavernWorld.StartingGold,
        LastSeen = ai.ServerTime,
    };

    /// <summary>Saves the caller's player (its Db fields are already written through) and takes it out of the world.</summary>
    private void LeaveWorld(DoId account)
    {
        if (players.Remove(account, out var player) && player.State == ObjectState.Live)
        {
            player.LastSeen = ai.ServerTime;
            Console.Out.WriteLine($"tavern: {player.Name} left the world with {player.Gold} gold");
            ai.Delete(player);
            memoryOnly.Remove(account);
        }
    }

    /// <summary>Sells a drink: spends the gold with set-if-equals, so two orders never spend the same coins.</summary>
    private async Task SellAsync(DoId account, string drink)
    {
        if (!players.TryGetValue(account, out var buyer) || buyer.State != ObjectState.Live)
        {
            return;
        }

        if (buyer.Parent != TavernWorld.TavernId || buyer.Zone != TavernWorld.BarRoom)
        {
            Greet($"Come up to the bar first, {buyer.Name}.");
            return;
        }

        if (!Drinks.Contains(drink))
        {
            Greet($"We only serve {string.Join(", ", Drinks)}, {buyer.Name}.");
            return;
        }

        for (int attempt = 0; attempt < 3; attempt++)
        {
            int gold = buyer.Gold;
            if (gold < TavernWorld.DrinkPrice)
            {
                Greet($"A {drink} is {TavernWorld.DrinkPrice} gold, {buyer.Name}; you have {gold}.");
                return;
            }

            bool paid;
            if (memoryOnly.Contains(account))
            {
                buyer.Gold = gold - TavernWorld.DrinkPrice;
                paid = true;
            }
            else
            {
                using var timeout = new CancellationTokenSource(DatabaseTimeout);
                paid = await ai.SetIfEqualsAsync(buyer, p => p.Gold, gold, gold - TavernWorld.DrinkPrice, timeout.Token);
            }

            if (paid)
            {
                Greet($"Here's your {drink}, {buyer.Name}!");
                return;
            }
        }

        Greet($"Your purse keeps changing, {buyer.Name}; try again.");
    }

    private void Greet(string text)
    {
        if (bartender.State == ObjectState.Live)
        {
            ai.Call(bartender, b => b.Greet(text));
        }
    }

    /// <summary>A player's owner moved it: follow it across the grid, into the tavern on its cell, out of it through the door.</summary>
    private void Walk(Player player)
    {
        var position = player.Position;
        if (position.Length != 2 || !float.IsFinite(position[0]) || !float.IsFinite(position[1]))
        {
            player.Position = (float[])TavernWorld.StartPosition.Clone();
            return;
        }

        if (player.Parent == TavernWorld.TavernId && player.Zone == TavernWorld.Cellar)
        {
            if (position[1] < 0)
            {
                // Up the stairs, to the bar's north wall.
                player.Position = new[] { Math.Clamp(position[0], 0, TavernWorld.RoomSize), TavernWorld.RoomSize - 0.5f };
                ai.Move(player, TavernWorld.TavernId, TavernWorld.BarRoom);
            }
            else if (position[0] < 0 || position[0] > TavernWorld.RoomSize || position[1] > TavernWorld.RoomSize)
            {
                player.Position = new[] { Math.Clamp(position[0], 0, TavernWorld.RoomSize), Math.Min(position[1], TavernWorld.RoomSize) };
            }

            return;
        }

        if (player.Parent == TavernWorld.TavernId)
        {
            if (position[1] > TavernWorld.RoomSize)
            {
                // Down the stairs behind the bar, to the cellar's south end.
                player.Position = new[] { Math.Clamp(position[0], 0, TavernWorld.RoomSize), 0.5f };
                ai.Move(player, TavernWorld.TavernId, TavernWorld.Cellar);
                return;
            }

            if (position[1] < 0)
            {
                // Out through the door, onto the street south of the tavern.
                // The position first, then the move: the owner has it before it hears the Location and steps on.
                var door = TavernWorld.StartPosition;
                player.Position = (float[])door.Clone();
                ai.Move(player, TavernWorld.DistrictId, TavernWorld.ZoneAt(door[0], door[1]));
                return;
            }

            var inside = new[] { Math.Clamp(position[0], 0, TavernWorld.RoomSize), Math.Min(position[1], TavernWorld.RoomSize) };
            if (inside[0] != position[0] || inside[1] != position[1])
            {
                player.Position = inside;
            }

            return;
        }

        float edge = TavernWorld.CellSize * TavernWorld.Grid.Width;
        var clamped = new[] { Math.Clamp(position[0], 0, edge - 0.01f), Math.Clamp(position[1], 0, edge - 0.01f) };
        uint zone = TavernWorld.ZoneAt(clamped[0], clamped[1]);
        if (zone == TavernWorld.TavernZone)
        {
            player.Position = new[] { TavernWorld.RoomSize / 2, 0.5f };
            ai.Move(player, TavernWorld.TavernId, TavernWorld.BarRoom);
            Greet($"Welcome to the Prancing Pastry, {player.Name}!");
            return;
        }

        if (zone != player.Zone || player.Parent != TavernWorld.DistrictId)
        {
            ai.Move(player, TavernWorld.DistrictId, zone);
        }

        if (clamped[0] != position[0] || clamped[1] != position[1])
        {
            player.Position = clamped;
        }
    }

    private void SpawnWanderer()
    {
        wanderers++;
        wandererSteps = 0;
        var position = new[] { 25f, 25f };
        wanderer = ai.Create(new Wanderer { Name = $"Old Tom {wanderers}", Position = position }, TavernWorld.DistrictId, TavernWorld.ZoneAt(position[0], position[1]));
    }

    /// <summary>One step of the wanderer: a cell in a random direction; after its lifetime it goes home and another comes out.</summary>
    private void Wander()
    {
        if (wanderer is null || wanderer.State != ObjectState.Live)
        {
            SpawnWanderer();
            return;
        }

        if (++wandererSteps > WandererLifetime)
        {
            ai.Delete(wanderer);
            wanderer = null;
            return;
        }

        var (dx, dy) = Random.Shared.Next(4) switch { 0 => (1, 0), 1 => (-1, 0), 2 => (0, 1), _ => (0, -1) };
        float edge = TavernWorld.CellSize * TavernWorld.Grid.Width;
        var next = new[]
        {
            Math.Clamp(wanderer.Position[0] + (dx * TavernWorld.CellSize), 5f, edge - 5f),
            Math.Clamp(wanderer.Position[1] + (dy * TavernWorld.CellSize), 5f, edge - 5f),
        };
        uint zone = TavernWorld.ZoneAt(next[0], next[1]);
        if (zone != wanderer.Zone)
        {
            ai.Move(wanderer, TavernWorld.DistrictId, zone);
        }

        wanderer.Position = next;
    }

    private static async Task Guarded(Task work, string what)
    {
        try
        {
            await work;
        }
        catch (Exception ex) when (ex is DatabaseRequestException or ModelValidationException or OperationCanceledException or InvalidOperationException)
        {
            // Game code must not crash the AI for one bad request; say what failed, with its context.
            Console.Error.WriteLine($"tavern: {what} failed: {ex.Message}");
        }
    }

    private static int ReadSetting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) && value > 0 ? value : fallback;
}
