using BenchmarkDotNet.Attributes;

namespace Pastry.Benchmarks;

/// <summary>
/// The property accessors of a model: Get, and Set with 0, 1 and 10 change-stream subscribers and with validators.
/// Every Set alternates between two values, so each one is a real change that is applied (and published).
/// </summary>
[MemoryDiagnoser]
public class ModelBenchmarks
{
    private readonly List<IDisposable> subscriptions = new();
    private BenchAvatar plain = null!;
    private BenchAvatar oneSubscriber = null!;
    private BenchAvatar tenSubscribers = null!;
    private FieldDescriptor<long> gold = null!;
    private long counter;
    private long received;

    /// <summary>Creates the objects and subscribes to two of them.</summary>
    [GlobalSetup]
    public void Setup()
    {
        plain = BenchAvatar.CreateFilled();
        oneSubscriber = BenchAvatar.CreateFilled();
        tenSubscribers = BenchAvatar.CreateFilled();
        gold = (FieldDescriptor<long>)plain.Model.GetField(nameof(BenchAvatar.Gold));
        subscriptions.Add(oneSubscriber.Changes.Subscribe(_ => received++));
        for (int i = 0; i < 10; i++)
        {
            subscriptions.Add(tenSubscribers.Changes.Subscribe(_ => received++));
        }
    }

    /// <summary>Ends the subscriptions.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var subscription in subscriptions)
        {
            subscription.Dispose();
        }
    }

    /// <summary>Reads a long field through its property.</summary>
    [Benchmark]
    public long Get_Long() => plain.Gold;

    /// <summary>Reads a string field through its property.</summary>
    [Benchmark]
    public string Get_String() => plain.Name;

    /// <summary>Sets a long field (no validator) with nobody subscribed. Goal: under 50 ns.</summary>
    [Benchmark(Baseline = true)]
    public void Set_NoSubscribers() => plain.Gold = counter++ & 1;

    /// <summary>The same set through the descriptor, skipping the property's by-name field lookup.</summary>
    [Benchmark]
    public void SetValue_ByDescriptor_NoSubscribers() => gold.SetValue(plain, counter++ & 1);

    /// <summary>Sets a long field with one subscriber to <see cref="DistributedObject.Changes"/>.</summary>
    [Benchmark]
    public void Set_1Subscriber() => oneSubscriber.Gold = counter++ & 1;

    /// <summary>Sets a long field with ten subscribers to <see cref="DistributedObject.Changes"/>.</summary>
    [Benchmark]
    public void Set_10Subscribers() => tenSubscribers.Gold = counter++ & 1;

    /// <summary>Sets an int field that has a [Range(1, 100)] validator, no subscribers.</summary>
    [Benchmark]
    public void Set_WithRange() => plain.Level = 1 + (int)(counter++ & 1);

    /// <summary>Sets a string field that has a [MaxLength(24)] validator, no subscribers.</summary>
    [Benchmark]
    public void Set_StringWithMaxLength() => plain.Name = (counter++ & 1) == 0 ? "Captain Toon" : "Admiral Toon";
}
