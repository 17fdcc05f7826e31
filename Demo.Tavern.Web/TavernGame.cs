using System.Reactive.Linq;
using Demo.Tavern.Models;
using Pastry;

namespace Demo.Tavern.Web;

/// <summary>A dot on the map: who, where (world units) and what kind (me, player, bot, wanderer, bartender).</summary>
public sealed record MapDot(string Name, float X, float Y, string Kind);

/// <summary>A line in the chat panel: what someone said, or what happened (arrivals, departures, the AI's answers).</summary>
public sealed record ChatLine(string Text, string Kind);

/// <summary>
/// What the page shows of one player's session: it listens to the client's events (chat, arrivals and departures, the
/// AI's answers) and reads the objects in view when the page redraws. Its event handlers only record and mark the
/// page dirty; they never wait, since the browser has one thread.
/// </summary>
public sealed class TavernGame : IAsyncDisposable
{
    private const int ChatLines = 40;

    private readonly List<IDisposable> subscriptions = new();
    private readonly Dictionary<DoId, string> names = new();
    private readonly List<ChatLine> chat = new();
    private bool dirty = true;

    /// <summary>Starts listening to <paramref name="session"/>.</summary>
    public TavernGame(TavernSession session)
    {
        Session = session;
        var client = session.Client;
        foreach (var player in client.Objects.OfType<Player>())
        {
            names[player.DoId] = player.Name;
        }

        subscriptions.Add(client.Of<Player>().Calls.Where(c => c.Method.Name == nameof(Player.Said) && session.IsHere(c.Target))
            .Subscribe(c => Add($"{c.Arguments[0]}: {c.Arguments[1]}", "said")));
        subscriptions.Add(client.Of<Player>().Calls.Where(c => c.Method.Name == nameof(Player.Told) && c.Target == session.Player)
            .Subscribe(c => Tell((string)c.Arguments[0]!)));
        subscriptions.Add(client.Of<Bartender>().Calls.Where(c => session.IsHere(c.Target))
            .Subscribe(c => Add($"{((Bartender)c.Target).Name}: {c.Arguments[0]}", "said npc")));
        subscriptions.Add(client.Of<Player>().Created.Where(p => p != session.Player).Subscribe(p =>
        {
            names[p.DoId] = p.Name;
            Add($"{p.Name} comes into view.", "event");
        }));
        subscriptions.Add(client.Of<Player>().Disabled.Where(p => p != session.Player).Subscribe(p => Add($"{Forget(p)} went out of view.", "event")));
        subscriptions.Add(client.Of<Player>().Deleted.Where(p => p != session.Player).Subscribe(p => Add($"{Forget(p)} left the world.", "event left")));
        subscriptions.Add(client.Of<Player>().Updated.Where(c => c.Target == session.Player && c.Field.Name == nameof(Player.Gold))
            .Subscribe(c => Add($"Your purse: {c.NewValue} gold.", "event mine")));

        // Anything that moves or changes redraws the page (at the page's pace, not the network's).
        subscriptions.Add(client.Of<Player>().Updated.Subscribe(_ => dirty = true));
        subscriptions.Add(client.Of<Player>().Moved.Subscribe(_ => dirty = true));
        subscriptions.Add(client.Of<Wanderer>().Updated.Subscribe(_ => dirty = true));
        subscriptions.Add(client.Of<Wanderer>().Created.Subscribe(_ => dirty = true));
        subscriptions.Add(client.Of<Wanderer>().Deleted.Subscribe(_ => dirty = true));
        subscriptions.Add(client.Of<Wanderer>().Disabled.Subscribe(_ => dirty = true));
        subscriptions.Add(client.Of<NoticeBoard>().Updated.Subscribe(_ => dirty = true));
        _ = WatchAsync();
    }

    /// <summary>The player's session.</summary>
    public TavernSession Session { get; }

    /// <summary>Why the connection ended, once it has (null while it lives).</summary>
    public string? Ended { get; private set; }

    /// <summary>The AI's last word to this player alone (a wall, a door), shown under the map.</summary>
    public string? Told { get; set; }

    /// <summary>The chat panel's lines, oldest first.</summary>
    public IReadOnlyList<ChatLine> Chat => chat;

    /// <summary>The street zones in view (the 3x3 cells around the player), which the map draws lighter.</summary>
    public uint[] Street => Session.Client.Objects.Count == 0 ? Array.Empty<uint>() : TavernWorld.Neighbourhood(Session.InTavern ? TavernWorld.ZoneAt(TavernWorld.StartPosition[0], TavernWorld.StartPosition[1]) : Session.Player.Zone).ToArray();

    /// <summary>Where the player is, in words.</summary>
    public string Place => Session.InTavern
        ? (Session.Player.Zone == TavernWorld.Cellar ? "In the cellar of the Prancing Pastry" : "In the bar of the Prancing Pastry")
        : TavernWorld.Grid.TryGetCell(Session.Player.Zone, out int x, out int y) ? $"On the street, cell ({x}, {y})" : "On the street";

    /// <summary>The notice board's notices, when in view.</summary>
    public IReadOnlyList<string> Notices => Session.Client.Objects.OfType<NoticeBoard>().FirstOrDefault()?.Notices ?? Array.Empty<string>();

    /// <summary>Whether something changed since the last call (and clears it).</summary>
    public bool TakeDirty()
    {
        bool was = dirty;
        dirty = false;
        return was;
    }

    /// <summary>Shows a line from the AI (or the page) to this player.</summary>
    public void Tell(string text)
    {
        Told = text;
        Add(text, "event told");
    }

    /// <summary>Everyone in the player's place (the street in view, or the room), the player included.</summary>
    public IEnumerable<MapDot> Dots()
    {
        var me = Session.Player;
        foreach (var player in Session.Client.Objects.OfType<Player>())
        {
            if (player.State == ObjectState.Live && player.Position.Length == 2 && player.Parent == me.Parent && (!Session.InTavern || player.Zone == me.Zone))
            {
                string kind = player == me ? "me" : player.Name.StartsWith("bot", StringComparison.OrdinalIgnoreCase) ? "bot" : "player";
                yield return new MapDot(player.Name, player.Position[0], player.Position[1], kind);
            }
        }

        foreach (var wanderer in Session.Client.Objects.OfType<Wanderer>())
        {
            if (wanderer.State == ObjectState.Live && wanderer.Position.Length == 2 && !Session.InTavern)
            {
                yield return new MapDot(wanderer.Name, wanderer.Position[0], wanderer.Position[1], "wanderer");
            }
        }

        if (Session.InTavern && me.Zone == TavernWorld.BarRoom)
        {
            foreach (var bartender in Session.Client.Objects.OfType<Bartender>().Where(Session.IsHere))
            {
                // Behind the bar, at the room's north wall.
                yield return new MapDot(bartender.Name, TavernWorld.RoomSize / 2, TavernWorld.RoomSize - 1, "bartender");
            }
        }
    }

    /// <summary>The names of the others where the player is (the same cell outdoors, the same room inside).</summary>
    public IEnumerable<string> Here()
    {
        var me = Session.Player;
        return Session.Client.Objects.OfType<Player>()
            .Where(p => p != me && p.State == ObjectState.Live && p.Parent == me.Parent && p.Zone == me.Zone)
            .Select(p => p.Name)
            .Concat(Session.Client.Objects.OfType<Wanderer>().Where(w => w.State == ObjectState.Live && w.Parent == me.Parent && w.Zone == me.Zone).Select(w => w.Name))
            .Concat(Session.Client.Objects.OfType<Bartender>().Where(Session.IsHere).Select(b => $"{b.Name} (behind the bar)"))
            .OrderBy(n => n, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Stops listening, leaves the world (the AI saves the player) and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var subscription in subscriptions)
        {
            subscription.Dispose();
        }

        subscriptions.Clear();
        await Session.DisposeAsync();
    }

    private async Task WatchAsync()
    {
        var why = await Session.Client.Closed;
        Ended = why.Reason;
        dirty = true;
    }

    private void Add(string text, string kind)
    {
        chat.Add(new ChatLine(text, kind));
        if (chat.Count > ChatLines)
        {
            chat.RemoveAt(0);
        }

        dirty = true;
    }

    private string Forget(Player player) => names.Remove(player.DoId, out string? name) ? name : "someone";
}
