using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using MyGame.Models;
using Pastry;
using Pastry.Client;

// Connects to the server (default 127.0.0.1:7199), makes a fresh account, greets the guide and prints the answer.
string host = args.Length > 0 ? args[0] : "127.0.0.1";
int port = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7199;

var models = ModelRegistry.FromAssemblies(typeof(Hero).Assembly);
await using var client = await PastryClient.ConnectAsync(host, port, models);

// A new player each run, so that a second run never meets the first one's name.
string name = $"player-{Guid.NewGuid():N}"[..16];
await client.CreateAccountAsync(name, "a long enough password");
await client.LoginAsync(name, "a long enough password");

await client.AddInterestAsync(DoId.Empty, Hero.TownSquare); // completes when the town square is in view
if (!client.TryGet<Hero>(Hero.GuideId, out var guide))
{
    Console.Error.WriteLine("The guide is not in the town square: is the AI running?");
    return 1;
}

Console.WriteLine($"{guide.Name} has {guide.Gold} gold");

var answer = client.Of<Hero>().Calls.FirstAsync(call => call.Method.Name == nameof(Hero.Answer)).ToTask();
client.Call(guide, h => h.Greet("hello"));
Console.WriteLine((await answer.WaitAsync(TimeSpan.FromSeconds(15))).Arguments[0]);
return 0;
