using System.Collections.Concurrent;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Client;

/// <summary>
/// Main-thread dispatch: a game picks the thread its client events run on, with a SynchronizationContext (Unity) or a
/// pump it calls once a frame (Godot; the netstandard2.1 scenario in NetStandardClientTests runs that one end to end).
/// </summary>
[TestClass]
public sealed class ClientDispatchTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task WithASynchronizationContext_EveryEventAndTheCloseRunOnItsThread()
    {
        await using var server = InProcessOtp.Start();
        await using var ai = new AiRepository(server.Router, server.Registry);
        await new KnightAiApp().StartAsync(ai, CancellationToken.None);
        using var main = new SingleThreadContext();
        var threads = new ConcurrentBag<int>();

        var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, server.Registry, new ClientOptions { SynchronizationContext = main });
        client.Of<Knight>().Created.Subscribe(_ => threads.Add(Environment.CurrentManagedThreadId));
        client.Of<Knight>().Updated.Subscribe(_ => threads.Add(Environment.CurrentManagedThreadId));
        client.Of<Knight>().Calls.Subscribe(_ => threads.Add(Environment.CurrentManagedThreadId));
        client.Ejected.Subscribe(_ => { }, () => threads.Add(Environment.CurrentManagedThreadId));
        await client.CreateAccountAsync("sync", "a fine password");
        await client.LoginAsync("sync", "a fine password");
        await client.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
        var lancelot = client.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
        var shout = client.Of<Knight>().Calls.FirstAsync(c => c.Method.Name == nameof(Knight.Shout)).ToTask();
        client.Call(lancelot, k => k.Wave("hi"));
        await shout.WaitAsync(Timeout);

        await client.DisposeAsync();
        await client.Closed.WaitAsync(Timeout);

        Assert.IsTrue(threads.Count >= 3, $"Created, Calls and the end of Ejected were seen ({threads.Count} events).");
        CollectionAssert.AreEquivalent(new[] { main.ThreadId }, threads.Distinct().ToArray(), "Every event ran on the context's thread.");
        Assert.AreEqual(ObjectState.Disabled, lancelot.State, "The close disabled the objects in view.");
    }

    [TestMethod]
    public async Task DispatchPending_WithoutManualDispatch_SaysHowToTurnItOn()
    {
        await using var server = InProcessOtp.Start();
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, server.Registry);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => client.DispatchPending());
        StringAssert.Contains(error.Message, "ClientOptions.ManualDispatch = true");
    }

    [TestMethod]
    public async Task BothDispatchChoices_AreRefusedBeforeConnecting()
    {
        using var main = new SingleThreadContext();
        var options = new ClientOptions { SynchronizationContext = main, ManualDispatch = true };

        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => PastryClient.ConnectAsync("127.0.0.1", 1, InProcessOtp.Registry, options));
        StringAssert.Contains(error.Message, "not both");
    }

    [TestMethod]
    public void QueuedEvents_PastTheByteBound_HoldTheReader_UntilTheGamePumps()
    {
        var events = new EventDispatcher(new ClientOptions { ManualDispatch = true, MaxPendingEventBytes = 100 });
        int ran = 0;
        events.Run(_ => ran++, null, 60);
        Assert.IsTrue(events.WaitForRoomAsync(CancellationToken.None).IsCompleted, "Under the bound the reader goes on.");
        events.Run(_ => ran++, null, 60);
        var room = events.WaitForRoomAsync(CancellationToken.None);
        Assert.IsFalse(room.IsCompleted, "Past the bound the reader waits for the game.");
        Assert.AreEqual(0, ran, "Nothing runs before the game pumps.");

        Assert.AreEqual(2, events.DispatchPending());

        Assert.AreEqual(2, ran);
        Assert.IsTrue(room.IsCompleted);
    }

    /// <summary>A game's main thread as a SynchronizationContext (what Unity gives its scripts).</summary>
    private sealed class SingleThreadContext : SynchronizationContext, IDisposable
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> work = new();
        private readonly Thread thread;

        public SingleThreadContext()
        {
            thread = new Thread(() =>
            {
                SetSynchronizationContext(this);
                foreach (var (callback, state) in work.GetConsumingEnumerable())
                {
                    callback(state);
                }
            })
            { IsBackground = true, Name = "main thread" };
            thread.Start();
        }

        public int ThreadId => thread.ManagedThreadId;

        public override void Post(SendOrPostCallback d, object? state) => work.Add((d, state));

        public void Dispose()
        {
            work.CompleteAdding();
            thread.Join();
            work.Dispose();
        }
    }
}
