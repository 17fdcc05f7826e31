using System.Reactive.Linq;
using Demo.Tavern.Models;
using Pastry;

namespace Demo.Tavern;

/// <summary>The console client: reads commands from standard input and prints what the player sees and hears.</summary>
public static class TavernConsole
{
    private const string Help = "commands: w/a/s/d move, say <text>, buy <ale|mead|cider>, post <text>, notices, richest, characters, look, quit";

    /// <summary>Plays as <paramref name="user"/>'s character <paramref name="character"/> (the first one by default) until <c>quit</c>, the end of input, or the connection closes.</summary>
    public static async Task<int> RunAsync(string host, int port, string user, string password, string? character, CancellationToken cancellation)
    {
        await using var session = await TavernSession.JoinAsync(host, port, user, password, character, cancellation);
        Console.Out.WriteLine($"Your characters: {string.Join(", ", session.Characters.DefaultIfEmpty("none yet"))}; playing {session.Player.Name} (another: play --character NAME; up to {TavernWorld.MaxCharacters}).");
        var client = session.Client;
        using var said = client.Of<Player>().Calls.Where(c => c.Method.Name == nameof(Player.Said))
            .Subscribe(c => Console.Out.WriteLine($"{c.Arguments[0]} says: {c.Arguments[1]}"));
        using var greets = client.Of<Bartender>().Calls.Subscribe(c => Console.Out.WriteLine($"{((Bartender)c.Target).Name}: {c.Arguments[0]}"));
        using var arrivals = client.Of<Player>().Created.Where(p => p != session.Player).Subscribe(p => Console.Out.WriteLine($"{p.Name} comes into view."));
        using var departures = client.Of<Player>().Disabled.Subscribe(p => Console.Out.WriteLine("someone went out of view."));
        using var notices = client.Of<NoticeBoard>().Updated.Subscribe(c => Console.Out.WriteLine($"The notice board now reads: {((string[])c.NewValue!).LastOrDefault()}"));
        using var gold = client.Of<Player>().Updated.Where(c => c.Target == session.Player && c.Field.Name == nameof(Player.Gold))
            .Subscribe(c => Console.Out.WriteLine($"Your purse: {c.NewValue} gold."));
        using var moved = client.Of<Player>().Moved.Where(p => p == session.Player).Subscribe(_ => Console.Out.WriteLine(session.Describe()));
        Console.Out.WriteLine(session.Describe());
        Console.Out.WriteLine(Help);

        while (!cancellation.IsCancellationRequested)
        {
            // Console reads block their thread; never block the thread that delivered the last network message.
            var read = Task.Run(Console.In.ReadLine, cancellation);
            var finished = await Task.WhenAny(read, client.Closed);
            if (finished != read)
            {
                Console.Out.WriteLine($"Disconnected: {(await client.Closed).Reason}");
                return 1;
            }

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
                    case "w": session.Step(0, 5); break;
                    case "s": session.Step(0, -5); break;
                    case "a": session.Step(-5, 0); break;
                    case "d": session.Step(5, 0); break;
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
    }
}
