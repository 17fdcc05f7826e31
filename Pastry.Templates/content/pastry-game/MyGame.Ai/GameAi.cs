using MyGame.Models;
using Pastry;
using Pastry.Ai;

namespace MyGame.Ai;

/// <summary>The game's AI: creates the guide in the town square and answers every greeting.</summary>
public sealed class GameAi : IAiApplication
{
    /// <inheritdoc />
    public Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        ai.Create(new Hero { DoId = Hero.GuideId, Name = "Guide", Gold = 10 }, DoId.Empty, Hero.TownSquare);

        // A client's Greet runs here, on the AI's logic loop; the answer goes to everyone in the zone.
        ai.Of<Hero>().Calls.Subscribe(call =>
        {
            if (call.Method.Name == nameof(Hero.Greet))
            {
                var hero = (Hero)call.Target;
                hero.Gold += 1;
                ai.Call(hero, h => h.Answer($"{hero.Name} heard: {call.Arguments[0]}"));
            }
        });
        return Task.CompletedTask;
    }
}
