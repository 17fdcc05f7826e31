using Demo.Tavern.Models;
using Pastry;
using Pastry.Ai;
using Pastry.Messaging;

namespace Demo.Tavern;

/// <summary>
/// The Tavern's game logic on the AI: spawns the district, the tavern, the bartender, the notice board, the
/// richest-patrons board and a wanderer; lets each account play one of up to three characters (found by a query,
/// with names unique ignoring case and NPC names refused); relays chat; sells drinks with a set-if-equals on the
/// buyer's gold; pays wages, so that purses refill and every evening is as lively as the first; moves players across
/// the grid and into and out of the tavern, and tells a player when it bumps into a wall.
/// </summary>
public sealed class TavernAi : IAiApplication
{
    private static readonly string[] DefaultMenu = { "ale", "mead", "cider" };
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<DoId, Player> players = new();

    /// <summary>Each player's walking allowance (world units) and when it was last spent, for the speed check.</summary>
    private readonly Dictionary<DoId, (float Allowance, long Since)> strides = new();
    private readonly Dictionary<DoId, Roster> rosters = new();
    private readonly HashSet<DoId> entering = new();
    private readonly HashSet<DoId> memoryOnly = new();
    private AiRepository ai = null!;
    private IReadOnlyList<string> drinks = DefaultMenu;
    private Bartender? bartender;
    private PatronBoard? patrons;
    private bool databaseAnswers = true;

    /// <summary>Whether this AI serves the tavern's rooms (the only AI, or the home one of several): it spawns the fixed world.</summary>
    private bool home = true;
    private Wanderer? wanderer;
    private int wandererSteps;
    private int wanderers;

    /// <summary>
    /// The drinks the bartender serves: environment variable <c>TAVERN_MENU</c> (comma-separated, for example
    /// <c>ale,mead,cider,stout</c>), default ale, mead and cider. A new build of the Tavern's logic with another menu can
    /// take over a running one with players online (<c>serve --role ai --take-over</c>, see docs/operations.md).
    /// </summary>
    public static IReadOnlyList<string> Menu =>
        Environment.GetEnvironmentVariable("TAVERN_MENU") is { Length: > 0 } menu
            ? menu.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(d => d.ToLowerInvariant()).ToArray()
            : DefaultMenu;

    /// <summary>Milliseconds between two steps of the wanderer (environment variable <c>TAVERN_WANDER_MS</c>, default 2000).</summary>
    public static TimeSpan WanderPeriod => TimeSpan.FromMilliseconds(ReadSetting("TAVERN_WANDER_MS", 2000));

    /// <summary>Steps a wanderer takes before it goes home (it is deleted, and another comes out); <c>TAVERN_WANDER_STEPS</c>, default 30.</summary>
    public static int WandererLifetime => ReadSetting("TAVERN_WANDER_STEPS", 30);

    /// <summary>Milliseconds between two paydays (environment variable <c>TAVERN_WAGE_MS</c>, default 10000); see <see cref="TavernWorld.Wage"/>.</summary>
    public static TimeSpan WagePeriod => TimeSpan.FromMilliseconds(ReadSetting("TAVERN_WAGE_MS", 10_000));

    /// <inheritdoc />
    public Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(ai);
        this.ai = ai;
        drinks = Menu;
        Console.Out.WriteLine($"tavern: the bar serves {string.Join(", ", drinks)}");

        // After an AI restart (split roles), the world the AI before this one left is already here: take it over.
        var kept = ai.Objects;

        // Several AIs may share the world (Ai:Districts): the one that serves the tavern's rooms is at home there, and
        // spawns the district, the tavern and its folk; another one only serves the streets of its district, and plays
        // the players and wanderers that walk into it (they are handed over to it, see Adopt).
        home = ai.Serves(TavernWorld.TavernId, TavernWorld.BarRoom);
        if (home && !kept.OfType<District>().Any())
        {
            ai.Create(new District { DoId = TavernWorld.DistrictId, Name = "Old Town" }, DoId.Empty, 0);
        }

        if (home && !kept.OfType<Models.Tavern>().Any())
        {
            ai.Create(new Models.Tavern { DoId = TavernWorld.TavernId, Name = "The Prancing Pastry" }, TavernWorld.DistrictId, TavernWorld.TavernZone);
        }

        if (home)
        {
            bartender = kept.OfType<Bartender>().FirstOrDefault() ?? ai.Create(new Bartender { Name = "Barliman" }, TavernWorld.TavernId, TavernWorld.BarRoom);
            _ = kept.OfType<NoticeBoard>().FirstOrDefault() ?? ai.Create(new NoticeBoard { Notices = new[] { "Barliman: welcome to the Prancing Pastry!" } }, TavernWorld.TavernId, TavernWorld.BarRoom);
            patrons = kept.OfType<PatronBoard>().FirstOrDefault() ?? ai.Create(new PatronBoard(), TavernWorld.TavernId, TavernWorld.BarRoom);
        }

        TakeOverPlayers(kept);
        wanderer = kept.OfType<Wanderer>().FirstOrDefault();
        wanderers = kept.OfType<Wanderer>().Count();
        if (wanderer is null && SpawnsWanderers)
        {
            SpawnWanderer();
        }

        ai.Adopted.Subscribe(Adopt);
        ai.HandedOver.Subscribe(handover => LetGo(handover.Object));
        var timer = ai.Every(WanderPeriod, Wander);
        cancellation.Register(timer.Dispose);
        var payday = ai.Every(WagePeriod, () => _ = Guarded(PayWagesAsync(), "wages"));
        cancellation.Register(payday.Dispose);
        var boardTimer = ai.Every(TavernWorld.BoardPeriod, () => _ = Guarded(RefreshBoardAsync(), "the richest-patrons board"));
        cancellation.Register(boardTimer.Dispose);
        _ = Guarded(RefreshBoardAsync(), "the richest-patrons board");

        ai.Of<District>().Calls.Subscribe(call =>
        {
            switch (call.Method.Name)
            {
                case nameof(District.EnterWorld):
                    _ = Guarded(EnterWorldAsync(call.Sender, (string)call.Arguments[0]!, (int)call.Arguments[1]!), "EnterWorld");
                    break;
                case nameof(District.ListCharacters):
                    _ = Guarded(ListCharactersAsync(call.Sender, (int)call.Arguments[0]!), "ListCharacters");
                    break;
                case nameof(District.LeaveWorld):
                    LeaveWorld(call.Sender);
                    break;
            }
        });
        // Save on logout: a session that closes without LeaveWorld (a crash, a dropped connection) leaves the world too.
        ai.SessionsClosed.Subscribe(account =>
        {
            LeaveWorld(account);
            if (rosters.Remove(account, out var roster) && roster.State == ObjectState.Live)
            {
                ai.Delete(roster);
            }
        });
        ai.Of<Player>().Calls.Subscribe(call =>
        {
            if (call.Method.Name == nameof(Player.Say))
            {
                var speaker = (Player)call.Target;
                ai.Call(speaker, p => p.Said(speaker.Name, (string)call.Arguments[0]!));
            }
            else if (call.Method.Name == nameof(Player.GoInside))
            {
                GoInside((Player)call.Target);
            }
            else if (call.Method.Name == nameof(Player.GoOutside))
            {
                GoOutside((Player)call.Target);
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
                var board = (NoticeBoard)call.Target;
                board.Notices = board.Notices.Append($"{author}: {(string)call.Arguments[0]!}").TakeLast(TavernWorld.MaxNotices).ToArray();
            }
        });
        ai.Of<Player>().Updated.Subscribe(change =>
        {
            if (change.Origin == ChangeOrigin.Remote && change.Field.Name == nameof(Player.Position))
            {
                var player = (Player)change.Target;
                CutShortBeyondWalkingSpeed(player, change.OldValue as float[]);
                Walk(player);
            }
        });
        ai.Of<Player>().Deleted.Subscribe(player =>
        {
            players.Remove(player.DoId);
            strides.Remove(player.DoId);
        });
        return Task.CompletedTask;
    }

    /// <summary>
    /// The players and rosters the AI before this one left in the world (it died; the State Server kept them for this
    /// AI, and the framework read their stored fields back from the database): they play on where they are, and their
    /// clients need do nothing. A player's account is a stored field, so the AI knows whose each is.
    /// </summary>
    private void TakeOverPlayers(IReadOnlyCollection<DistributedObject> kept)
    {
        foreach (var player in kept.OfType<Player>())
        {
            var account = player.Account.IsEmpty ? player.Owner : player.Account;
            players[account] = player;
            if (!ai.IsStored(player))
            {
                memoryOnly.Add(account);
            }

            var at = player.Position.Length == 2 ? $"({player.Position[0]:0.#}, {player.Position[1]:0.#})" : "(?)";
            Console.Out.WriteLine($"tavern: {player.Name} is back in the world at {at} with {player.Gold} gold");
        }

        foreach (var roster in kept.OfType<Roster>())
        {
            rosters[roster.Owner] = roster;
        }
    }

    /// <summary>
    /// Gives the caller the character it chose: the active one, a stored one of its account (found by a query), or a
    /// new one; always at the start position. A taken name, an NPC's name or a fourth character is refused on the
    /// account's roster instead.
    /// </summary>
    private async Task EnterWorldAsync(DoId account, string name, int ticket)
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
                Answer(account, ticket, null, string.Empty);
                ai.Move(player, TavernWorld.DistrictId, start);
            }
            else
            {
                var chosen = await ChooseAsync(account, name.Trim(), ticket, start);
                if (chosen is null)
                {
                    return;
                }

                player = chosen;
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

    /// <summary>The account's stored character named <paramref name="name"/> (ignoring case), activated, or a new one; null when refused.</summary>
    private async Task<Player?> ChooseAsync(DoId account, string name, int ticket, uint zone)
    {
        using var timeout = new CancellationTokenSource(DatabaseTimeout);
        try
        {
            var characters = await CharactersAsync(account, timeout.Token);
            var stored = characters.Find(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
            if (stored is not null)
            {
                Answer(account, ticket, characters, string.Empty);
                return await ai.ActivateAsync<Player>(stored.DoId, TavernWorld.DistrictId, zone, owner: account, cancellation: timeout.Token);
            }

            if (Refusal(name, characters) is { } refusal)
            {
                Answer(account, ticket, characters, refusal);
                return null;
            }

            int slot = Enumerable.Range(0, TavernWorld.MaxCharacters).First(s => characters.TrueForAll(c => c.Slot != s));
            var created = NewPlayer(account, name, slot);
            try
            {
                // The database checks the unique name inside the write: of two accounts racing for it, one gets this.
                await ai.CreateInDatabaseAsync(created, timeout.Token);
            }
            catch (UniqueViolationException)
            {
                Answer(account, ticket, characters, $"The name {name} is taken; choose another.");
                return null;
            }

            characters.Add(created);
            Answer(account, ticket, characters, string.Empty);
            return await ai.ActivateAsync<Player>(created.DoId, TavernWorld.DistrictId, zone, owner: account, cancellation: timeout.Token)
                ?? throw new InvalidOperationException($"The player {created.DoId} was stored but cannot be activated.");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // No Database role answered (Database:Path is empty): the player lives in RAM only, for this run.
            databaseAnswers = false;
            Console.Error.WriteLine($"tavern: no database answered; {name} is not saved");
            if (TavernWorld.IsNpcName(name))
            {
                Answer(account, ticket, new List<Player>(), Refusal(name, new List<Player>())!);
                return null;
            }

            Answer(account, ticket, new List<Player>(), string.Empty);
            memoryOnly.Add(account);
            return ai.Create(NewPlayer(account, name, 0), TavernWorld.DistrictId, zone, owner: account);
        }
    }

    /// <summary>Why a new character named <paramref name="name"/> cannot be made for an account with <paramref name="characters"/>, or null.</summary>
    private static string? Refusal(string name, List<Player> characters)
    {
        if (TavernWorld.IsNpcName(name))
        {
            return $"{name} is the name of one of the tavern's own folk; choose another.";
        }

        if (characters.Count >= TavernWorld.MaxCharacters)
        {
            return $"You have {TavernWorld.MaxCharacters} characters already ({string.Join(", ", characters.Select(c => c.Name))}); choose one of them.";
        }

        return null;
    }

    /// <summary>The account's characters in slot order, by a query on the indexed Account field.</summary>
    private async Task<List<Player>> CharactersAsync(DoId account, CancellationToken cancellation)
    {
        var characters = await ai.Query<Player>().Where(p => p.Account == account).OrderBy(p => p.Slot).Take(TavernWorld.MaxCharacters + 1).ToListAsync(cancellation);
        if (characters.Count == 0)
        {
            // A player saved before accounts had several characters was stored under the account's own id.
            var legacy = await ai.Query<Player>().Where(p => p.DoId == account && p.Account == DoId.Empty).FirstOrDefaultAsync(cancellation);
            if (legacy is not null)
            {
                await ai.SaveAsync(legacy, p => p.Account, account, cancellation);
                characters.Add(legacy);
            }
        }

        return characters;
    }

    private async Task ListCharactersAsync(DoId account, int ticket)
    {
        if (account.IsEmpty)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(DatabaseTimeout);
        List<Player> characters;
        try
        {
            characters = databaseAnswers ? await CharactersAsync(account, timeout.Token) : new List<Player>();
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            databaseAnswers = false;
            characters = new List<Player>();
        }

        Answer(account, ticket, characters, string.Empty);
    }

    /// <summary>
    /// Answers request <paramref name="ticket"/> on the account's roster (made on first use, owned by the account, seen
    /// only by it): its characters (null: unchanged) and the notice; the ticket goes last, so a client that sees it has the rest.
    /// </summary>
    private void Answer(DoId account, int ticket, List<Player>? characters, string notice)
    {
        var names = characters?.OrderBy(c => c.Slot).Select(c => c.Name).ToArray();
        if (!rosters.TryGetValue(account, out var roster) || roster.State != ObjectState.Live)
        {
            rosters[account] = ai.Create(new Roster { Characters = names ?? Array.Empty<string>(), Notice = notice, Ticket = ticket }, TavernWorld.DistrictId, TavernWorld.RosterZone, owner: account);
            return;
        }

        if (names is not null)
        {
            roster.Characters = names;
        }

        roster.Notice = notice;
        roster.Ticket = ticket;
    }

    /// <summary>Fills the richest-patrons board with a query: the characters with the most gold, richest first.</summary>
    private async Task RefreshBoardAsync()
    {
        if (!databaseAnswers || patrons is not { State: ObjectState.Live })
        {
            return;
        }

        using var timeout = new CancellationTokenSource(DatabaseTimeout);
        try
        {
            var richest = await ai.Query<Player>().OrderByDescending(p => p.Gold).ThenBy(p => p.Name).Take(TavernWorld.BoardSize).ToListAsync(timeout.Token);
            var lines = richest.Select(p => $"{p.Name}: {p.Gold} gold").ToArray();
            if (!lines.SequenceEqual(patrons.Richest))
            {
                patrons.Richest = lines;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            databaseAnswers = false;
        }
    }

    private Player NewPlayer(DoId account, string name, int slot) => new()
    {
        DoId = DoId.NewId(),
        Name = name,
        Account = account,
        Slot = slot,
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

        if (!drinks.Contains(drink))
        {
            Greet($"We only serve {string.Join(", ", drinks)}, {buyer.Name}.");
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
                try
                {
                    paid = await ai.SetIfEqualsAsync(buyer, p => p.Gold, gold, gold - TavernWorld.DrinkPrice, timeout.Token);
                }
                catch (DatabaseRequestException ex) when (ex.Status == DatabaseStatus.Failed)
                {
                    // The ledger cannot be written (a full disk, say): no gold was taken, and the buyer is told so.
                    Console.Error.WriteLine($"tavern: BuyDrink for {buyer.Name} refused: {ex.Reason}");
                    Greet($"Sorry {buyer.Name}, the ledger is jammed and I can't take your gold; no {drink} for now. Try again later.");
                    return;
                }
            }

            if (paid)
            {
                Greet($"Here's your {drink}, {buyer.Name}!");
                await RefreshBoardAsync();
                return;
            }
        }

        Greet($"Your purse keeps changing, {buyer.Name}; try again.");
    }

    /// <summary>
    /// Pays every player in the world a wage, up to the starting gold: without it, players (and bots) spend their
    /// gold in one evening and stay broke on every run after. Paid with set-if-equals, like a drink, so a wage and a
    /// drink bought at the same moment never lose or mint coins; a purse that changed meanwhile waits for the next payday.
    /// </summary>
    private async Task PayWagesAsync()
    {
        foreach (var (account, player) in players.ToArray())
        {
            int gold = player.State == ObjectState.Live ? player.Gold : TavernWorld.StartingGold;
            if (gold >= TavernWorld.StartingGold)
            {
                continue;
            }

            int paid = Math.Min(gold + TavernWorld.Wage, TavernWorld.StartingGold);
            if (memoryOnly.Contains(account))
            {
                player.Gold = paid;
                continue;
            }

            if (player.State != ObjectState.Live)
            {
                continue; // handed over to another AI's district (or gone) since the payday began
            }

            using var timeout = new CancellationTokenSource(DatabaseTimeout);
            try
            {
                await ai.SetIfEqualsAsync(player, p => p.Gold, gold, paid, timeout.Token);
            }
            catch (DatabaseRequestException ex) when (ex.Status == DatabaseStatus.Forbidden)
            {
                // Handed over while the wage was on its way: the player's new AI pays the next one.
            }
        }
    }

    /// <summary>Says something to one player only (its owner's client): <see cref="Player.Told"/> is not broadcast.</summary>
    private void Tell(Player player, string text)
    {
        if (player.State == ObjectState.Live)
        {
            ai.Call(player, p => p.Told(text));
        }
    }

    private void Greet(string text)
    {
        // Only the AI at home in the tavern has the bartender; a player walked in from another district is greeted by none.
        if (bartender is { State: ObjectState.Live } barliman)
        {
            ai.Call(barliman, b => b.Greet(text));
        }
    }

    /// <summary>
    /// The speed check: Position is [OwnSend], so a modified client could jump anywhere in one set. Each player has a
    /// walking allowance that fills at <see cref="TavernWorld.WalkingSpeed"/> up to <see cref="TavernWorld.MaxStride"/>;
    /// a longer move is cut short where the allowance ends, the player is told, and everyone sees the shortened move.
    /// Moves the AI makes itself (doors, stairs, walls) are not checked.
    /// </summary>
    private void CutShortBeyondWalkingSpeed(Player player, float[]? from)
    {
        var to = player.Position;
        if (from is not { Length: 2 } || to.Length != 2 || !float.IsFinite(to[0]) || !float.IsFinite(to[1]))
        {
            return; // Walk puts a malformed position back at the start
        }

        long now = Environment.TickCount64;
        var (allowance, since) = strides.TryGetValue(player.DoId, out var stride) ? stride : (TavernWorld.MaxStride, now);
        allowance = Math.Min(TavernWorld.MaxStride, allowance + (TavernWorld.WalkingSpeed * (now - since) / 1000f));
        float dx = to[0] - from[0];
        float dy = to[1] - from[1];
        float distance = MathF.Sqrt((dx * dx) + (dy * dy));
        if (distance <= allowance)
        {
            strides[player.DoId] = (allowance - distance, now);
            return;
        }

        float share = allowance / distance;
        player.Position = new[] { from[0] + (dx * share), from[1] + (dy * share) };
        strides[player.DoId] = (0f, now);
        Console.Out.WriteLine($"tavern: {player.Name} tried to move {distance:0.#} units at once; cut short at {allowance:0.#}");
        Tell(player, $"You cannot walk that fast: {distance:0.#} paces at once is too far; you walk {allowance:0.#}.");
    }

    /// <summary>The owner asked to go in: from the tavern's door (its cell or the one south of it) into the bar.</summary>
    private void GoInside(Player player)
    {
        uint door = TavernWorld.ZoneAt(TavernWorld.StartPosition[0], TavernWorld.StartPosition[1]);
        if (player.Parent != TavernWorld.DistrictId || (player.Zone != door && player.Zone != TavernWorld.TavernZone))
        {
            Tell(player, player.Parent == TavernWorld.TavernId ? "You are inside already." : "The tavern's door is not here; walk to it first.");
            return;
        }

        player.Position = new[] { TavernWorld.RoomSize / 2, 0.5f };
        strides[player.DoId] = (TavernWorld.MaxStride, Environment.TickCount64);
        ai.Move(player, TavernWorld.TavernId, TavernWorld.BarRoom);
        Greet($"Welcome to the Prancing Pastry, {player.Name}!");
    }

    /// <summary>The owner asked to go out: from the bar or the cellar onto the street at the door.</summary>
    private void GoOutside(Player player)
    {
        if (player.Parent != TavernWorld.TavernId)
        {
            Tell(player, "You are outside already.");
            return;
        }

        // The position first, then the move: the owner has it before it hears the Location and steps on.
        var door = TavernWorld.StartPosition;
        player.Position = (float[])door.Clone();
        strides[player.DoId] = (TavernWorld.MaxStride, Environment.TickCount64);
        ai.Move(player, TavernWorld.DistrictId, TavernWorld.ZoneAt(door[0], door[1]));
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
                Tell(player, "You bump into the cellar wall.");
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
                Tell(player, "You bump into the wall.");
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

        // The position first, then the move: a move into another AI's district hands the player over with it.
        if (clamped[0] != position[0] || clamped[1] != position[1])
        {
            player.Position = clamped;
            Tell(player, "That is the edge of town; you turn back.");
        }

        if (zone != player.Zone || player.Parent != TavernWorld.DistrictId)
        {
            ai.Move(player, TavernWorld.DistrictId, zone);
        }
    }

    /// <summary>Whether wanderers come out in this AI's district (it serves the street where they start).</summary>
    private bool SpawnsWanderers => ai.Serves(TavernWorld.DistrictId, TavernWorld.ZoneAt(WandererStart[0], WandererStart[1]));

    private static readonly float[] WandererStart = ReadPosition("TAVERN_WANDER_START", 25f, 25f);

    /// <summary>
    /// A player or a wanderer walked into this AI's district from another AI's (the server handed it over): play it
    /// from here on. Its stride allowance starts full; its stored fields are the database's.
    /// </summary>
    private void Adopt(DistributedObject obj)
    {
        switch (obj)
        {
            case Player player:
                var account = player.Account.IsEmpty ? player.Owner : player.Account;
                players[account] = player;
                if (!ai.IsStored(player))
                {
                    memoryOnly.Add(account);
                }

                Console.Out.WriteLine($"tavern: {player.Name} walked into this AI's district at zone {player.Zone} with {player.Gold} gold");
                break;
            case Wanderer stray:
                if (wanderer is null || wanderer.State != ObjectState.Live)
                {
                    wanderer = stray;
                    wandererSteps = 0;
                }
                else
                {
                    // One wanderer per AI: a second one that walks in goes home.
                    ai.Delete(stray);
                }

                break;
        }
    }

    /// <summary>A player or a wanderer walked on into another AI's district: that AI plays it now; forget it here.</summary>
    private void LetGo(DistributedObject obj)
    {
        switch (obj)
        {
            case Player player:
                foreach (var (account, held) in players.ToArray())
                {
                    if (ReferenceEquals(held, player))
                    {
                        players.Remove(account);
                        memoryOnly.Remove(account);
                    }
                }

                strides.Remove(player.DoId);
                Console.Out.WriteLine($"tavern: {player.Name} walked on into another AI's district with {player.Gold} gold");
                break;
            case Wanderer when ReferenceEquals(obj, wanderer):
                wanderer = null;
                break;
        }
    }

    private void SpawnWanderer()
    {
        wanderers++;
        wandererSteps = 0;
        var position = (float[])WandererStart.Clone();
        wanderer = ai.Create(new Wanderer { Name = $"Old Tom {wanderers}", Position = position }, TavernWorld.DistrictId, TavernWorld.ZoneAt(position[0], position[1]));
    }

    /// <summary>One step of the wanderer: a cell in a random direction; after its lifetime it goes home and another comes out.</summary>
    private void Wander()
    {
        if (wanderer is null || wanderer.State != ObjectState.Live)
        {
            if (SpawnsWanderers)
            {
                SpawnWanderer();
            }

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

        // The position first, then the move: a move into another AI's district hands the wanderer over with it.
        wanderer.Position = next;
        if (zone != wanderer.Zone)
        {
            ai.Move(wanderer, TavernWorld.DistrictId, zone);
        }
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

    /// <summary>
    /// Reads a position <c>x,y</c> (invariant culture) from environment variable <paramref name="name"/>, or the
    /// fallback when it is unset or malformed. <c>TAVERN_WANDER_START</c> moves where wanderers come out: the browser
    /// test puts them at the players' door so that a page sees one without waiting for a random walk to come by.
    /// </summary>
    private static float[] ReadPosition(string name, float x, float y)
    {
        string[] parts = (Environment.GetEnvironmentVariable(name) ?? "").Split(',');
        return parts.Length == 2
            && float.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float px)
            && float.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float py)
            && float.IsFinite(px) && float.IsFinite(py)
            ? new[] { OnTheMap(px), OnTheMap(py) }
            : new[] { x, y };

        // Inside the grid, as the wanderer's own steps are.
        static float OnTheMap(float v) => Math.Clamp(v, 5f, (TavernWorld.CellSize * TavernWorld.Grid.Width) - 5f);
    }

    private static int ReadSetting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) && value > 0 ? value : fallback;
}
