using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Demo.Tavern.Models;
using Pastry;

namespace Demo.Tavern;

/// <summary>
/// The console client: reads commands from standard input and prints what the player sees and hears, as one stream
/// of short lines: what happens where the player is, once, and an answer to every command.
/// </summary>
public static class TavernConsole
{
    private const string Help = "commands: w/a/s/d move, say <text>, buy <ale|mead|cider>, post <text>, notices, richest, characters, look, quit";

    /// <summary>The console line being read, kept across a re-join so that two reads never race for one line.</summary>
    private static Task<string?>? pendingRead;

    /// <summary>
    /// Plays as <paramref name="user"/>'s character <paramref name="character"/> (the first one by default) until
    /// <c>quit</c>, the end of input, or the connection closes. A dropped connection resumes by itself; when the server
    /// no longer has the session (it restarted, or the grace period ended) the console logs in and enters again by itself.
    /// </summary>
    public static async Task<int> RunAsync(string host, int port, string user, string password, string? character, CancellationToken cancellation)
    {
        while (true)
        {
            int? exit = await PlayAsync(host, port, user, password, character, cancellation);
            if (exit is int code)
            {
                return code;
            }
        }
    }

    /// <summary>One session: an exit code, or null when the session was lost and the console should join again.</summary>
    private static async Task<int?> PlayAsync(string host, int port, string user, string password, string? character, CancellationToken cancellation)
    {
        await using var session = await TavernSession.JoinAsync(host, port, user, password, character, cancellation);
        Console.Out.WriteLine($"Your characters: {string.Join(", ", session.Characters.DefaultIfEmpty("none yet"))}; playing {session.Player.Name} (another: play --character NAME; up to {TavernWorld.MaxCharacters}).");
        var client = session.Client;
        var lost = client.SessionLost.FirstAsync().ToTask(cancellation);
        using var reconnecting = client.Reconnecting.Subscribe(why => Console.Out.WriteLine($"Connection lost ({why.Reason}); reconnecting..."));
        using var reconnected = client.Reconnected.Subscribe(_ => Console.Out.WriteLine("Reconnected: the session resumed."));
        // A disabled or deleted object cannot be read any more, so remember who is who while they are in view.
        var names = new System.Collections.Concurrent.ConcurrentDictionary<DoId, string>();
        using var said = client.Of<Player>().Calls.Where(c => c.Method.Name == nameof(Player.Said) && session.IsHere(c.Target))
            .Subscribe(c => Console.Out.WriteLine($"{c.Arguments[0]} says: {c.Arguments[1]}"));
        using var told = client.Of<Player>().Calls.Where(c => c.Method.Name == nameof(Player.Told) && c.Target == session.Player)
            .Subscribe(c => Console.Out.WriteLine(c.Arguments[0]));
        using var greets = client.Of<Bartender>().Calls.Where(c => session.IsHere(c.Target))
            .Subscribe(c => Console.Out.WriteLine($"{((Bartender)c.Target).Name}: {c.Arguments[0]}"));
        foreach (var player in client.Objects.OfType<Player>())
        {
            names[player.DoId] = player.Name;
        }

        using var arrivals = client.Of<Player>().Created.Where(p => p != session.Player).Subscribe(p =>
        {
            names[p.DoId] = p.Name;
            Console.Out.WriteLine($"{p.Name} comes into view.");
        });
        using var departures = client.Of<Player>().Disabled.Where(p => p != session.Player).Subscribe(p => Console.Out.WriteLine($"{Forget(p)} went out of view."));
        using var leavers = client.Of<Player>().Deleted.Where(p => p != session.Player).Subscribe(p => Console.Out.WriteLine($"{Forget(p)} left the world."));
        using var notices = client.Of<NoticeBoard>().Updated.Where(c => session.IsHere(c.Target))
            .SelectMany(c => NewNotices((string[])c.OldValue!, (string[])c.NewValue!))
            .Subscribe(notice => Console.Out.WriteLine($"New notice: {notice}"));
        using var gold = client.Of<Player>().Updated.Where(c => c.Target == session.Player && c.Field.Name == nameof(Player.Gold))
            .Subscribe(c => Console.Out.WriteLine($"Your purse: {c.NewValue} gold."));
        using var moved = client.Of<Player>().Moved.Where(p => p == session.Player).Subscribe(_ => Console.Out.WriteLine(session.Describe()));
        Console.Out.WriteLine(session.Describe());
        Console.Out.WriteLine(Help);

        while (!cancellation.IsCancellationRequested)
        {
            // Console reads block their thread; never block the thread that delivered the last network message.
            var read = pendingRead ??= Task.Run(Console.In.ReadLine, cancellation);
            var finished = await Task.WhenAny(read, client.Closed, lost);
            if (finished == lost && lost.Status == TaskStatus.RanToCompletion)
            {
                var why = await lost;
                Console.Out.WriteLine($"The session was lost ({why.Status}: {why.Reason}); logging in again.");
                return null;
            }

            if (finished != read)
            {
                Console.Out.WriteLine($"Disconnected: {(await client.Closed).Reason}");
                return 1;
            }

            pendingRead = null;
            string? line = (await read)?.Trim();
            if (line is null or "quit" or "exit")
            {
                return 0;
            }

            var (command, rest) = line.IndexOf(' ', StringComparison.Ordinal) is int space and > 0 ? (line[..space], line[(space + 1)..].Trim()) : (line, string.Empty);
            try
            {
                switch (command)
                {
                    case "w": Walk(session, "north", 0, 5); break;
                    case "s": Walk(session, "south", 0, -5); break;
                    case "a": Walk(session, "west", -5, 0); break;
                    case "d": Walk(session, "east", 5, 0); break;
                    case "say": session.Say(rest); break;
                    case "buy": session.Buy(rest.Length == 0 ? "ale" : rest); break;
                    case "post": session.Post(rest); break;
                    case "notices": Console.Out.WriteLine(string.Join(Environment.NewLine, session.Board().Notices)); break;
                    case "look": Console.Out.WriteLine(session.Describe()); break;
                    case "richest": Console.Out.WriteLine(string.Join(Environment.NewLine, session.Patrons().Richest.DefaultIfEmpty("nobody yet"))); break;
                    case "characters": Console.Out.WriteLine(string.Join(", ", session.Roster?.Characters ?? Array.Empty<string>())); break;
                    case "": break;
                    default: Console.Out.WriteLine(Help); break;
                }
            }
            catch (Exception ex) when (ex is ModelValidationException or InvalidOperationException)
            {
                Console.Out.WriteLine($"Cannot: {ex.Message}");
            }
        }

        return 0;

        string Forget(Player player) => names.TryRemove(player.DoId, out string? name) ? name : "someone";
    }

    /// <summary>
    /// The notices in <paramref name="now"/> that <paramref name="before"/> did not end with: the board keeps the last
    /// ten, so a post drops the oldest and adds one at the end, and only that one is news.
    /// </summary>
    public static IEnumerable<string> NewNotices(string[] before, string[] now)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(now);
        for (int kept = Math.Min(before.Length, now.Length); kept > 0; kept--)
        {
            if (before.AsSpan(before.Length - kept).SequenceEqual(now.AsSpan(0, kept)))
            {
                return now.Skip(kept);
            }
        }

        return now;
    }

    /// <summary>One step (half a cell); the AI answers a wall, a door or the stairs, and a new place prints a new description.</summary>
    private static void Walk(TavernSession session, string direction, float dx, float dy)
    {
        session.Step(dx, dy);
        Console.Out.WriteLine($"You walk {direction}.");
    }
}
