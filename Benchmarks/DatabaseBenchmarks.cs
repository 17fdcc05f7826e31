using System.ComponentModel.DataAnnotations;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Otp.Database;
using Pastry.Otp.MessageDirector;

namespace Pastry.Benchmarks;

/// <summary>A stored model for the database benchmarks.</summary>
public sealed class BenchHero : DistributedObject<BenchHero>
{
    [Required, Ram, Db, Broadcast, MaxLength(24)]
    public string Name { get => Get<string>(); set => Set(value); }

    [Db, Ai, Range(0, int.MaxValue)]
    public int Gold { get => Get<int>(); set => Set(value); }

    [Db, Ai]
    public long Experience { get => Get<long>(); set => Set(value); }
}

/// <summary>
/// The Database role on a real SQLite file (WAL, synchronous=FULL): committed Db field writes per second when they are
/// batched, and activation latency (DB read, then the State Server creates the object) for 1 and 10,000 objects.
/// Each invocation is a whole macro operation, so the job uses the Monitoring strategy (one invocation per iteration).
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 10)]
public class DatabaseBenchmarks
{
    private const int Objects = 10_000;
    private const int Writes = 100_000;
    private readonly ModelRegistry registry = ModelRegistry.FromTypes(new[] { typeof(BenchHero) });
    private string directory = string.Empty;
    private InProcessRouter router = null!;
    private DatabaseServer database = null!;
    private Pastry.Otp.StateServer.StateServer stateServer = null!;
    private Replies replies = null!;
    private DoId[] ids = Array.Empty<DoId>();
    private ModelInfo model = null!;
    private FieldDescriptor gold = null!;
    private long round;

    [GlobalSetup]
    public void Setup()
    {
        directory = Directory.CreateTempSubdirectory("pastry-bench-db").FullName;
        router = new InProcessRouter();
        database = new DatabaseServer(router, registry, new DatabaseOptions { Path = Path.Combine(directory, "bench.db"), AutoMigrate = true }, NullLogger.Instance);
        database.Start();
        stateServer = new Pastry.Otp.StateServer.StateServer(router, registry, NullLogger.Instance, databaseEnabled: true);
        stateServer.Start();
        replies = new Replies(router);
        model = registry.GetModel<BenchHero>();
        gold = model.GetField(nameof(BenchHero.Gold));
        ids = new DoId[Objects];
        replies.Expect(Objects);
        for (int i = 0; i < Objects; i++)
        {
            var hero = new BenchHero { DoId = DoId.NewId(), Name = "hero" + i, Gold = i };
            ids[i] = hero.DoId;
            router.Publish(DatabaseMessages.CreateObject(1, hero, replies.Channel), Channel.Database);
        }

        replies.Wait();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        stateServer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        database.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>100,000 acknowledged DbSetFields over 10,000 objects; the mean divided by 100,000 is the cost of one committed write.</summary>
    [Benchmark(OperationsPerInvoke = Writes)]
    public void CommittedFieldWrites()
    {
        long value = ++round * Writes;
        replies.Expect(Writes);
        for (int i = 0; i < Writes; i++)
        {
            router.Publish(DatabaseMessages.SetFields(1, model, ids[i % Objects], replies.Channel, (gold, (int)((value + i) % int.MaxValue))), Channel.Database);
        }

        replies.Wait();
    }

    /// <summary>Activates one object and waits for the State Server's answer (then unloads it).</summary>
    [Benchmark]
    public void Activate_1() => Activate(1);

    /// <summary>Activates 10,000 objects at once and waits for every answer (then unloads them).</summary>
    [Benchmark]
    public void Activate_10000() => Activate(Objects);

    private void Activate(int count)
    {
        replies.Expect(count);
        for (int i = 0; i < count; i++)
        {
            router.Publish(DatabaseMessages.ActivateObject(1, model, ids[i], DoId.Empty, 1, DoId.Empty, replies.Channel), Channel.StateServer);
        }

        replies.Wait();
        for (int i = 0; i < count; i++)
        {
            router.Publish(InternalMessages.DeleteObject(ids[i], replies.Channel), Channel.StateServer);
        }
    }

    /// <summary>Counts replies and fails loudly on any that is not OK.</summary>
    private sealed class Replies : IParticipant
    {
        private int remaining;
        private ManualResetEventSlim done = new(false);

        public Replies(IMessageRouter router)
        {
            Channel = Channel.ForParticipant(DoId.NewId());
            router.Subscribe(this, Channel);
        }

        public Channel Channel { get; }

        public string Name => "bench-replies";

        public void Expect(int count)
        {
            done = new ManualResetEventSlim(false);
            Volatile.Write(ref remaining, count);
        }

        public void Wait()
        {
            if (!done.Wait(TimeSpan.FromMinutes(2)))
            {
                throw new TimeoutException($"{Volatile.Read(ref remaining)} replies never came.");
            }
        }

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            if (envelope.Type is InternalMessageType.ObjectDeleted or InternalMessageType.EnterLocation)
            {
                return;
            }

            var reply = DatabaseMessages.ReadReply(envelope);
            if (reply.Status != DatabaseStatus.Ok)
            {
                throw new InvalidOperationException($"{reply.Type}: {reply.Status} {reply.Reason}");
            }

            if (Interlocked.Decrement(ref remaining) == 0)
            {
                done.Set();
            }
        }
    }
}
