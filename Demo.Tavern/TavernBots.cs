using System.Reactive.Linq;
using Demo.Tavern.Models;
using Pastry.Client;

namespace Demo.Tavern;

/// <summary>
/// Scripted players: each logs in as <c>bot1</c>, <c>bot2</c>, ..., walks towards the tavern, goes in, chats, buys
/// ale while its gold lasts (the AI pays wages, so it lasts every evening), pins notices and walks out again, one
/// action every second or two.
/// </summary>
public static class TavernBots
{
    private static readonly string[] Lines = { "Evening all!", "Anyone seen Old Tom?", "This ale is fine.", "Cheers!", "Off to the cellar..." };

    /// <summary>The average pause between two actions of a bot, in milliseconds (environment variable <c>TAVERN_BOT_MS</c>, default 1500).</summary>
    public static int ActionPeriodMilliseconds =>
        int.TryParse(Environment.GetEnvironmentVariable("TAVERN_BOT_MS"), out int value) && value > 0 ? value : 1500;

    /// <summary>Runs <paramref name="count"/> bots against the server at <paramref name="host"/>:<paramref name="port"/> until cancelled, printing a status line every five seconds.</summary>
    public static async Task RunAsync(string host, int port, int count, CancellationToken cancellation)
    {
        var sessions = new TavernSession?[count];
        var bots = Enumerable.Range(0, count).Select(i => RunBotAsync(host, port, i + 1, s => sessions[i] = s, cancellation)).ToList();
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), cancellation);
                var alive = sessions.Where(s => s is not null && s.Player.State == Pastry.ObjectState.Live).Select(s => s!).ToList();
                int inside = alive.Count(s => s.InTavern);
                string purses = string.Join(" ", alive.Select(s => $"{s.User}:{s.Player.Gold}g{(s.InTavern ? "@bar" : string.Empty)}"));
                Console.Out.WriteLine($"{DateTime.UtcNow:HH:mm:ss} world: {alive.Count} bots online, {inside} in the tavern, {alive.Count - inside} outside | {purses}");
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(bots);
    }

    private static async Task RunBotAsync(string host, int port, int number, Action<TavernSession?> publish, CancellationToken cancellation)
    {
        string user = $"bot{number}";
        var random = new Random(number);
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
                await using var session = await JoinWithRetryAsync(host, port, user, cancellation);
                publish(session);
                using var chat = session.Client.Of<Player>().Calls.Where(c => c.Method.Name == nameof(Player.Said) && c.Target == session.Player)
                    .Subscribe(c => Console.Out.WriteLine($"  {c.Arguments[0]}: \"{c.Arguments[1]}\""));
                using var greets = session.Client.Of<Bartender>().Calls.Where(c => ((string)c.Arguments[0]!).Contains(session.Player.Name, StringComparison.Ordinal))
                    .Subscribe(c => Console.Out.WriteLine($"  {((Bartender)c.Target).Name}: \"{c.Arguments[0]}\""));
                Console.Out.WriteLine($"{user} entered the world: {session.Describe()}");
                await PlayAsync(session, random, cancellation);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is TimeoutException or LoginFailedException or ClientEjectedException or InvalidOperationException or IOException or Pastry.ObjectDisabledException or Pastry.ObjectDeletedException)
            {
                Console.Error.WriteLine($"{user}: {ex.Message}; starting again in 5 s");
                publish(null);
                await Task.Delay(TimeSpan.FromSeconds(5), cancellation).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private static async Task<TavernSession> JoinWithRetryAsync(string host, int port, string user, CancellationToken cancellation)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await TavernSession.JoinAsync(host, port, user, $"{user} likes ale", cancellation: cancellation);
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 30)
            {
                // The server may still be starting.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
            }
        }
    }

    private static async Task PlayAsync(TavernSession session, Random random, CancellationToken cancellation)
    {
        int period = ActionPeriodMilliseconds;
        while (!cancellation.IsCancellationRequested && !session.Client.Closed.IsCompleted)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(period * 2 / 3, (period * 4 / 3) + 1)), cancellation);
            if (!session.InTavern)
            {
                // Mostly head for the tavern's door; sometimes stroll.
                var target = TavernWorld.TavernCell;
                var position = session.Position;
                float dx = (target.X * TavernWorld.CellSize) + 5f - position[0];
                float dy = (target.Y * TavernWorld.CellSize) + 5f - position[1];
                if (random.Next(4) == 0)
                {
                    (dx, dy) = (random.Next(-1, 2) * TavernWorld.CellSize, random.Next(-1, 2) * TavernWorld.CellSize);
                }

                session.Step(Math.Clamp(dx, -5f, 5f), Math.Clamp(dy, -5f, 5f));
                if (session.InTavern)
                {
                    Console.Out.WriteLine($"{session.User} walks into the tavern");
                }

                continue;
            }

            switch (random.Next(6))
            {
                case 0:
                    session.Say(Lines[random.Next(Lines.Length)]);
                    break;
                case 1:
                    if (session.Player.Gold >= TavernWorld.DrinkPrice)
                    {
                        session.Buy("ale");
                    }

                    break;
                case 2:
                    session.Post($"{session.User} was here at {DateTime.UtcNow:HH:mm:ss}");
                    break;
                case 3:
                    Console.Out.WriteLine($"{session.User} walks out of the tavern");
                    await session.LeaveTavernAsync(cancellation);
                    session.Step(random.Next(-1, 2) * 5f, -5f);
                    break;
                default:
                    session.Step(random.Next(-1, 2), random.Next(0, 2));
                    break;
            }
        }
    }
}
