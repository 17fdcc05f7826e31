using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Demo.Tavern.Models;
using Pastry;
using Pastry.Client;

namespace Demo.Tavern;

/// <summary>
/// One player's connection to the Tavern, shared by the console client, the bots and the tests: it logs in (creating
/// the account the first time), opens interest in the street around the player and in the tavern's rooms, enters
/// the world and keeps the street interest on the 3x3 cells around the player as it walks.
/// </summary>
public sealed class TavernSession : IAsyncDisposable
{
    /// <summary>The Tavern's models, as clients register them.</summary>
    public static readonly ModelRegistry Models = ModelRegistry.FromAssemblies(typeof(Player).Assembly);

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly SemaphoreSlim interestGate = new(1, 1);
    private readonly IDisposable following;
    private Interest street;

    private TavernSession(PastryClient client, Interest street, Player player, string user, IReadOnlyList<string> characters)
    {
        Client = client;
        this.street = street;
        Player = player;
        User = user;
        Characters = characters;
        following = client.Of<Player>().Moved.Where(p => p.DoId == player.DoId).Subscribe(moved => _ = FollowAsync());
    }

    /// <summary>The connection.</summary>
    public PastryClient Client { get; }

    /// <summary>This session's player (owned by the account).</summary>
    public Player Player { get; }

    /// <summary>The account name.</summary>
    public string User { get; }

    /// <summary>The account's characters when it logged in (found by the AI's query), in slot order.</summary>
    public IReadOnlyList<string> Characters { get; }

    /// <summary>The account's roster (its characters now, and why the AI last refused one), seen only by this account.</summary>
    public Roster? Roster => Client.Objects.OfType<Roster>().FirstOrDefault(r => r.Owner == Client.AccountId);

    /// <summary>The richest-patrons board in the bar, when in view.</summary>
    public PatronBoard Patrons() => Client.Objects.OfType<PatronBoard>().FirstOrDefault() ?? throw new InvalidOperationException("The richest-patrons board is not in view.");

    /// <summary>The player's position, or the start position until the AI has sent one.</summary>
    public float[] Position => Player.Position.Length == 2 ? Player.Position : TavernWorld.StartPosition;

    /// <summary>True while the player is inside the tavern.</summary>
    public bool InTavern => Player.Parent == TavernWorld.TavernId;

    /// <summary>The district (always in view).</summary>
    public District District => Client.TryGet<District>(TavernWorld.DistrictId, out var district) ? district : throw new InvalidOperationException("The district is not in view.");

    /// <summary>
    /// Connects, logs in as <paramref name="user"/> (creating the account if it is new), asks for the account's
    /// characters and enters the world as <paramref name="playerName"/>: one of them, or a new one (by default the
    /// first character, or the user name for a new account).
    /// </summary>
    /// <exception cref="LoginFailedException">The account exists with another password.</exception>
    /// <exception cref="TavernRefusedException">The AI refused the character (a taken name, an NPC's name, a fourth character).</exception>
    public static Task<TavernSession> JoinAsync(string host, int port, string user, string password, string? playerName = null, CancellationToken cancellation = default) =>
        JoinAsync(() => PastryClient.ConnectAsync(host, port, Models, cancellation: cancellation), user, password, playerName, cancellation);

    /// <summary>
    /// As <see cref="JoinAsync(string, int, string, string, string?, CancellationToken)"/>, over the transport
    /// <paramref name="url"/> names: <c>ws://</c> or <c>wss://</c> (the browser page), or <c>tcp://host:port</c>.
    /// </summary>
    /// <exception cref="LoginFailedException">The account exists with another password, or the name or password is refused.</exception>
    /// <exception cref="TavernRefusedException">The AI refused the character (a taken name, an NPC's name, a fourth character).</exception>
    public static Task<TavernSession> JoinAsync(Uri url, string user, string password, string? playerName = null, CancellationToken cancellation = default) =>
        JoinAsync(() => PastryClient.ConnectAsync(url, Models, cancellation: cancellation), user, password, playerName, cancellation);

    private static async Task<TavernSession> JoinAsync(Func<Task<PastryClient>> connect, string user, string password, string? playerName, CancellationToken cancellation)
    {
        var client = await connect();
        try
        {
            try
            {
                await client.CreateAccountAsync(user, password, cancellation);
            }
            catch (LoginFailedException ex) when (ex.AccountStatus == AccountStatus.UsernameTaken)
            {
                // Taken: it is ours if the password matches, which the login below checks. Any other refusal (a
                // password too short, a name with spaces) is the answer itself: the login would only hide it behind
                // "Unknown username or wrong password".
            }

            await client.LoginAsync(user, password, cancellation);
            await client.AddInterestAsync(DoId.Empty, new uint[] { 0 }, cancellation);
            uint start = TavernWorld.ZoneAt(TavernWorld.StartPosition[0], TavernWorld.StartPosition[1]);
            var street = await client.AddInterestAsync(TavernWorld.DistrictId, TavernWorld.Neighbourhood(start), cancellation);
            await client.AddInterestAsync(TavernWorld.TavernId, new[] { TavernWorld.BarRoom, TavernWorld.Cellar }, cancellation);
            if (!client.TryGet<District>(TavernWorld.DistrictId, out var district))
            {
                throw new InvalidOperationException("The district is not there: is the Tavern's AI running?");
            }

            var account = client.AccountId;
            var roster = await AnswerAsync(client, ticket => client.Call(district, d => d.ListCharacters(ticket)), cancellation);
            var characters = roster.Characters.ToArray();
            string name = playerName ?? characters.FirstOrDefault() ?? user;

            var mine = client.Of<Player>().Created.Where(p => p.Owner == account).FirstAsync().ToTask(cancellation);
            var placed = client.Of<Player>().Updated.Where(c => c.Target.Owner == account && c.Field.Name == nameof(Player.Position)).FirstAsync().ToTask(cancellation);
            var answer = await AnswerAsync(client, ticket => client.Call(district, d => d.EnterWorld(name, ticket)), cancellation);
            if (answer.Notice.Length > 0)
            {
                throw new TavernRefusedException(answer.Notice);
            }

            var player = client.Objects.OfType<Player>().FirstOrDefault(p => p.Owner == account) ?? await mine.WaitAsync(Timeout, cancellation);
            if (player.Position.Length != 2)
            {
                // A player that was just activated gets its position from the AI right after it enters the view.
                await placed.WaitAsync(Timeout, cancellation);
            }
            if (player.Appearance.Length == 0)
            {
                // [OwnSend]: only this owner may choose its looks; the server writes them through to the database.
                player.Appearance = System.Security.Cryptography.RandomNumberGenerator.GetBytes(4);
            }

            return new TavernSession(client, street, player, user, characters);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Asks the AI for something answered on the account's roster, with a fresh ticket, and waits for that answer.</summary>
    private static async Task<Roster> AnswerAsync(PastryClient client, Action<int> ask, CancellationToken cancellation)
    {
        var account = client.AccountId;
        int ticket = Random.Shared.Next(1, int.MaxValue);
        var created = client.Of<Roster>().Created.Where(r => r.Owner == account && r.Ticket == ticket);
        var updated = client.Of<Roster>().Updated.Where(c => c.Target.Owner == account && c.Field.Name == nameof(Demo.Tavern.Models.Roster.Ticket) && (int)c.NewValue! == ticket).Select(c => (Roster)c.Target);
        var answer = created.Merge(updated).FirstAsync().ToTask(cancellation);
        ask(ticket);
        return await answer.WaitAsync(Timeout, cancellation);
    }

    /// <summary>Takes a step of <paramref name="dx"/>, <paramref name="dy"/> world units; the AI moves the player between cells and rooms.</summary>
    public void Step(float dx, float dy)
    {
        var position = Position;
        Player.Position = new[] { position[0] + dx, position[1] + dy };
    }

    /// <summary>Goes in through the tavern's door (the player must stand at it) and waits until the AI has moved the player into the bar room.</summary>
    public async Task EnterTavernAsync(CancellationToken cancellation = default)
    {
        if (InTavern)
        {
            return;
        }

        // The AI moves the player in (a jump of Position would be cut short by its speed check); it must stand at the door.
        var inside = Client.Of<Player>().Moved.FirstAsync(p => p.DoId == Player.DoId && p.Parent == TavernWorld.TavernId).ToTask(cancellation);
        Client.Call(Player, p => p.GoInside());
        await inside.WaitAsync(Timeout, cancellation);
    }

    /// <summary>Goes out of the tavern's door (from the bar or the cellar) and waits until the AI has moved the player onto the street.</summary>
    public async Task LeaveTavernAsync(CancellationToken cancellation = default)
    {
        // The AI moves the player out of the door, from the bar or the cellar.
        if (InTavern)
        {
            var outside = Client.Of<Player>().Moved.FirstAsync(p => p.DoId == Player.DoId && p.Parent == TavernWorld.DistrictId).ToTask(cancellation);
            Client.Call(Player, p => p.GoOutside());
            await outside.WaitAsync(Timeout, cancellation);
        }
    }

    /// <summary>Says something to everyone nearby.</summary>
    public void Say(string text) => Client.Call(Player, p => p.Say(text));

    /// <summary>Orders a drink from the bartender (who must be in view: inside the tavern).</summary>
    public void Buy(string drink) => Client.Call(Bartender(), b => b.BuyDrink(drink));

    /// <summary>Pins a notice on the board in the bar room.</summary>
    public void Post(string text) => Client.Call(Board(), b => b.Post(text));

    /// <summary>The bartender, when in view.</summary>
    public Bartender Bartender() => Client.Objects.OfType<Bartender>().FirstOrDefault() ?? throw new InvalidOperationException("No bartender in view.");

    /// <summary>The notice board, when in view.</summary>
    public NoticeBoard Board() => Client.Objects.OfType<NoticeBoard>().FirstOrDefault() ?? throw new InvalidOperationException("No notice board in view.");

    /// <summary>
    /// Whether <paramref name="other"/> is where the player is: in the same room inside the tavern, or in view on the
    /// street. The session keeps both rooms and the street by the door in view, so being in view is not being here.
    /// </summary>
    public bool IsHere(DistributedObject other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return other.State == ObjectState.Live && other.Parent == Player.Parent && (!InTavern || other.Zone == Player.Zone);
    }

    /// <summary>Where the player is, and who else is in the same place.</summary>
    public string Describe()
    {
        string place = InTavern ? (Player.Zone == TavernWorld.Cellar ? "in the cellar of the Prancing Pastry" : "in the bar of the Prancing Pastry") : TavernWorld.Grid.TryGetCell(Player.Zone, out int x, out int y) ? $"on the street at cell ({x},{y})" : "somewhere";
        var here = Client.Objects.OfType<Player>().Where(p => p != Player && p.State == ObjectState.Live && p.Parent == Player.Parent && p.Zone == Player.Zone).Select(p => p.Name);
        var npcs = Client.Objects.OfType<Wanderer>().Where(IsHere).Select(w => $"{w.Name} (nearby)")
            .Concat(Client.Objects.OfType<Bartender>().Where(IsHere).Select(b => $"{b.Name} (behind the bar)"));

        var position = Player.Position.Length == 2 ? $"({Player.Position[0]:0.#}, {Player.Position[1]:0.#})" : "(?)";
        return $"{Player.Name} is {place} at {position} with {Player.Gold} gold. Here: {string.Join(", ", here.Concat(npcs).DefaultIfEmpty("nobody"))}.";
    }

    /// <summary>Leaves the world cleanly (the AI saves the player) and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        following.Dispose();
        try
        {
            if (Client.TryGet<District>(TavernWorld.DistrictId, out var district) && district.State == ObjectState.Live)
            {
                Client.Call(district, d => d.LeaveWorld());
            }
        }
        catch (InvalidOperationException)
        {
            // The connection is already gone; nothing to say goodbye on.
        }

        await Client.DisposeAsync();
        interestGate.Dispose();
    }

    /// <summary>Keeps the street interest on the 3x3 cells around the player (around the door while inside the tavern).</summary>
    private async Task FollowAsync()
    {
        try
        {
            await interestGate.WaitAsync();
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            var door = TavernWorld.StartPosition;
            uint zone = Player.Parent == TavernWorld.DistrictId ? Player.Zone : TavernWorld.ZoneAt(door[0], door[1]);
            var wanted = TavernWorld.Neighbourhood(zone);
            if (!wanted.SequenceEqual(street.Zones))
            {
                street = await Client.AlterInterestAsync(street, wanted);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is closing; the next move (if any) retries.
        }
        finally
        {
            interestGate.Release();
        }
    }
}

/// <summary>The Tavern's AI refused to let the account in with the character it asked for; the message says why.</summary>
public sealed class TavernRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TavernRefusedException(string message)
        : base(message)
    {
    }
}
