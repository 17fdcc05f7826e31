using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using MyGame.Ai;
using MyGame.Models;
using Pastry;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Otp;

namespace MyGame.Tests;

/// <summary>The whole game in one process: a real server on a loopback port, the game's AI and a client.</summary>
[TestClass]
public sealed class GameTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [TestMethod]
    public async Task AClient_SeesTheGuide_AndHearsItAnswerAGreeting()
    {
        var models = ModelRegistry.FromAssemblies(typeof(Hero).Assembly);
        var options = new OtpOptions();
        options.ClientAgent.Port = 0;           // any free port
        options.MessageDirector.Port = 0;
        options.Database.Path = string.Empty;   // accounts in memory
        await using var server = new OtpServer(models, options, NullLoggerFactory.Instance);
        server.Start();
        await using var ai = new AiRepository(server.Router, models);
        await new GameAi().StartAsync(ai, CancellationToken.None);

        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, models);
        await client.CreateAccountAsync("ann", "a long enough password");
        await client.LoginAsync("ann", "a long enough password");
        await client.AddInterestAsync(DoId.Empty, Hero.TownSquare);

        Assert.IsTrue(client.TryGet<Hero>(Hero.GuideId, out var guide), "The guide is in the town square.");
        Assert.AreEqual(10, guide.Gold);
        var answer = client.Of<Hero>().Calls.FirstAsync(c => c.Method.Name == nameof(Hero.Answer)).ToTask();
        var richer = client.Of<Hero>().Updated.FirstAsync(c => c.Field.Name == nameof(Hero.Gold)).ToTask();
        client.Call(guide, h => h.Greet("hello"));
        Assert.AreEqual("Guide heard: hello", (await answer.WaitAsync(Timeout)).Arguments[0]);
        Assert.AreEqual(11, (await richer.WaitAsync(Timeout)).NewValue);
    }
}
