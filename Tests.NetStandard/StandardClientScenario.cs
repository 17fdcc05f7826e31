using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Reflection;
using System.Runtime.Versioning;
using Pastry.Client;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.NetStandard;

/// <summary>
/// What a Unity or Godot game does with the client, compiled for netstandard2.1: two players connect with
/// <see cref="ClientOptions.ManualDispatch"/>, a game thread pumps <see cref="PastryClient.DispatchPending"/> once a
/// frame, and the players log in, open interest, see each other's update and an RPC answer. Every event must run on
/// the game thread. Runs against the Knight game (KnightAiApp); returns a transcript, throws on the first failure.
/// </summary>
public static class StandardClientScenario
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Runs the scenario against the Client Agent at <paramref name="host"/>:<paramref name="port"/>; the realm is <paramref name="realmId"/> and the first grid cell <paramref name="startZone"/>.</summary>
    public static async Task<string> RunAsync(string host, int port, string userPrefix, string realmId, uint startZone)
    {
        var realmDoId = DoId.Parse(realmId);
        var transcript = new List<string>();
        var clientAssembly = typeof(PastryClient).Assembly;
        transcript.Add($"client assembly: {clientAssembly.GetCustomAttribute<TargetFrameworkAttribute>()?.FrameworkName}");
        transcript.Add($"core assembly: {typeof(DistributedObject).Assembly.GetCustomAttribute<TargetFrameworkAttribute>()?.FrameworkName}");

        var registry = ModelRegistry.FromTypes(new[] { typeof(Realm), typeof(Knight) });
        using var game = new GameLoop();
        var options = new ClientOptions { ManualDispatch = true };
        var ann = await PastryClient.ConnectAsync(host, port, registry, options).ConfigureAwait(false);
        var bob = await PastryClient.ConnectAsync(host, port, registry, options).ConfigureAwait(false);
        game.Add(ann);
        game.Add(bob);
        try
        {
            var eventThreads = new HashSet<int>();
            void Seen() { lock (eventThreads) { eventThreads.Add(Environment.CurrentManagedThreadId); } }
            foreach (var client in new[] { ann, bob })
            {
                client.Of<Knight>().Created.Subscribe(_ => Seen());
                client.Of<Knight>().Updated.Subscribe(_ => Seen());
                client.Of<Knight>().Calls.Subscribe(_ => Seen());
                client.Of<Realm>().Created.Subscribe(_ => Seen());
            }

            // Login.
            foreach (var (client, name) in new[] { (ann, "ann"), (bob, "bob") })
            {
                await client.CreateAccountAsync(userPrefix + name, "a fine password").ConfigureAwait(false);
                await client.LoginAsync(userPrefix + name, "a fine password").ConfigureAwait(false);
            }

            transcript.Add("logged in");

            // Interest: the realm at the root, then the first grid cell with Lancelot in it.
            await ann.AddInterestAsync(DoId.Empty, 0).ConfigureAwait(false);
            if (!ann.TryGet<Realm>(realmDoId, out var realm))
            {
                throw new InvalidOperationException("The realm is not in view after InterestDone.");
            }

            transcript.Add($"realm in view: {realm.Title}");
            await ann.AddInterestAsync(realmDoId, startZone).ConfigureAwait(false);
            await bob.AddInterestAsync(realmDoId, startZone).ConfigureAwait(false);
            var lancelot = ann.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
            var bobsLancelot = bob.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
            transcript.Add($"knight in view: {lancelot.Name} at x={lancelot.X}");

            // Update: Ann moves Lancelot (ClSend); Bob sees it through the server.
            var seen = bob.Of<Knight>().Updated.FirstAsync(c => c.Target == bobsLancelot && c.Field.Name == nameof(Knight.X)).ToTask();
            game.Run(() => lancelot.X = 7);
            var update = await WithTimeout(seen, "Bob did not see Ann's update").ConfigureAwait(false);
            transcript.Add($"bob saw x={update.NewValue}");

            // RPC: Ann waves, the AI answers both with a broadcast shout.
            var annHears = ann.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
            var bobHears = bob.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
            game.Run(() => ann.Call(lancelot, k => k.Wave("hi")));
            transcript.Add($"ann heard: {(await WithTimeout(annHears, "Ann heard no shout").ConfigureAwait(false)).Arguments[0]}");
            transcript.Add($"bob heard: {(await WithTimeout(bobHears, "Bob heard no shout").ConfigureAwait(false)).Arguments[0]}");

            lock (eventThreads)
            {
                transcript.Add(eventThreads.Count == 1 && eventThreads.Contains(game.ThreadId)
                    ? "every event ran on the game thread"
                    : $"events ran on threads {string.Join(", ", eventThreads)}, the game thread is {game.ThreadId}");
            }
        }
        finally
        {
            await ann.DisposeAsync().ConfigureAwait(false);
            await bob.DisposeAsync().ConfigureAwait(false);
        }

        return string.Join("\n", transcript);
    }

    private static async Task<T> WithTimeout<T>(Task<T> task, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(Timeout)).ConfigureAwait(false) != task)
        {
            throw new TimeoutException($"{what} within {Timeout.TotalSeconds} s.");
        }

        return await task.ConfigureAwait(false);
    }

    /// <summary>A game's main loop on its own thread: each frame runs the game's own work, then pumps every client.</summary>
    private sealed class GameLoop : IDisposable
    {
        private readonly object gate = new();
        private readonly List<PastryClient> clients = new();
        private readonly Queue<Action> work = new();
        private readonly Thread thread;
        private volatile bool stopping;

        public GameLoop()
        {
            thread = new Thread(Frames) { IsBackground = true, Name = "game main thread" };
            thread.Start();
        }

        public int ThreadId => thread.ManagedThreadId;

        public void Add(PastryClient client)
        {
            lock (gate)
            {
                clients.Add(client);
            }
        }

        /// <summary>Runs <paramref name="action"/> on the game thread in the next frame (as a game's input handler would).</summary>
        public void Run(Action action)
        {
            lock (gate)
            {
                work.Enqueue(action);
            }
        }

        public void Dispose()
        {
            stopping = true;
            thread.Join();
        }

        private void Frames()
        {
            while (!stopping)
            {
                Action[] actions;
                PastryClient[] pumped;
                lock (gate)
                {
                    actions = work.ToArray();
                    work.Clear();
                    pumped = clients.ToArray();
                }

                foreach (var action in actions)
                {
                    action();
                }

                foreach (var client in pumped)
                {
                    client.DispatchPending();
                }

                // The frame's pacing (a game renders here); no test waits on it.
                Thread.Sleep(2);
            }
        }
    }
}
