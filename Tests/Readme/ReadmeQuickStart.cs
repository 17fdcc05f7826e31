// The README's "An AI and a client in five minutes" example, compiled. ReadmeTests checks that the README shows
// every block between "README: begin" and "README: end" verbatim, and runs it.
using System.ComponentModel.DataAnnotations;
using Pastry;
using Pastry.Ai;
using Pastry.Client;

namespace Pastry.Tests.Readme;

// README: begin ai
public sealed partial class Arena : DistributedObject<Arena>
{
    [Required, Ram, Broadcast]
    public partial string Title { get; set; }
}

public sealed class ArenaAi : IAiApplication
{
    public static readonly DoId ArenaId = DoId.Parse("00000000-0000-0000-0000-00000000a4e4");

    public Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        ai.Create(new Arena { DoId = ArenaId, Title = "The Pit" }, DoId.Empty, 0);
        ai.Create(new Avatar { Name = "Guard", Gold = 10 }, ArenaId, 1);

        // A client's Say runs here, on the AI; answer it to everyone with interest in the zone.
        ai.Of<Avatar>().Calls.Subscribe(call =>
            ai.Call((Avatar)call.Target, a => a.Say($"The guard heard: {call.Arguments[0]}")));
        return Task.CompletedTask;
    }
}
// README: end

public static class ReadmeClient
{
    public static async Task<string> RunAsync(int port)
    {
        // README: begin client
        var models = ModelRegistry.FromAssemblies(typeof(Avatar).Assembly);
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", port, models);
        try
        {
            await client.LoginAsync("ann", "correct horse battery");
        }
        catch (LoginFailedException)                               // no such account yet: the first run creates it
        {
            await client.CreateAccountAsync("ann", "correct horse battery");
            await client.LoginAsync("ann", "correct horse battery");
        }

        await client.AddInterestAsync(ArenaAi.ArenaId, 1);        // completes when zone 1 is in view
        var guard = client.Objects.OfType<Avatar>().Single();
        Console.WriteLine($"{guard.Name} has {guard.Gold} gold");  // "Guard has 10 gold"

        var answer = new TaskCompletionSource<string>();
        client.Of<Avatar>().Calls.Subscribe(call => answer.TrySetResult((string)call.Arguments[0]!));
        guard.Position = new[] { 3f, 4f };                        // [ClSend]: applied now, sent to the AI and the zone
        client.Call(guard, a => a.Say("hello"));                  // runs on the AI
        Console.WriteLine(await answer.Task);                     // "The guard heard: hello"
        // README: end
        return await answer.Task;
    }
}
