using Pastry.Ai;

namespace Pastry.Tests.Database;

/// <summary>
/// An AI for <c>pastry serve --role ai --Ai:Application NameRaceAi</c>: at start it stores a hero named by the
/// environment variable <c>NAME_RACE</c> and prints whether it won the name; two of them race for one name.
/// </summary>
public sealed class NameRaceAi : IAiApplication
{
    public async Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(ai);
        string name = Environment.GetEnvironmentVariable("NAME_RACE") ?? "Nobody";
        try
        {
            var hero = await ai.CreateInDatabaseAsync(new DbHero { Name = name }, cancellation);
            Console.Out.WriteLine($"name-race: won {hero.DoId}");
        }
        catch (UniqueViolationException ex)
        {
            Console.Out.WriteLine($"name-race: lost on {string.Join(",", ex.Fields)}: {ex.Reason}");
        }
    }
}
