using System.ComponentModel.DataAnnotations;
using BenchmarkDotNet.Attributes;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Benchmarks;

/// <summary>The small object of <c>pastry bench objects</c>: an int and a long.</summary>
public sealed class SmallEntity : DistributedObject<SmallEntity>
{
    /// <summary>A number.</summary>
    [Required, Ram, Broadcast]
    public int Value { get => Get<int>(); set => Set(value); }

    /// <summary>A time stamp.</summary>
    [Ram, Broadcast]
    public long SentTicks { get => Get<long>(); set => Set(value); }
}

/// <summary>
/// The State Server's per-object work on the hot paths (issue 8): storing a set value and writing an object's entry
/// for an interest sync, each beside what the State Server did before it kept one value block per object and no
/// cached entry (an array per set value; a copy of the cached entry).
/// </summary>
[MemoryDiagnoser]
public class StateObjectBenchmarks
{
    private static readonly ModelInfo Model = ModelRegistry.FromTypes(new[] { typeof(SmallEntity) }).GetModel<SmallEntity>();
    private readonly byte[]?[] perField = new byte[]?[2];
    private readonly PooledBufferWriter writer = new(1024);
    private readonly byte[] setPayload = new byte[8];
    private readonly (int Field, int Start, int Length)[] set = new (int, int, int)[1];
    private StateObject entity = null!;
    private byte[] cachedEntry = Array.Empty<byte>();

    [GlobalSetup]
    public void Setup()
    {
        entity = new StateObject(DoId.NewId(), new StoredLayout(Model, dbBacked: false), Channel.ForParticipant(DoId.NewId()));
        var graph = new ZoneGraph();
        graph.Place(entity, DoId.NewId(), 7);
        using var values = new PooledBufferWriter();
        values.WriteInt32(42);
        values.WriteInt64(1234);
        entity.SetValues(values.WrittenSpan, new (int, int, int)[] { (0, 0, 4), (1, 4, 8) });
        set[0] = (1, 0, 8);
        writer.Reset();
        ObjectEntry.Write(writer, entity);
        cachedEntry = writer.WrittenSpan.ToArray();
    }

    /// <summary>A set of the long field, stored in place in the value block (what the State Server does now).</summary>
    [Benchmark]
    public void SetValue_InPlace() => entity.SetValues(setPayload, set);

    /// <summary>The same set as a new array for the field (what it did before).</summary>
    [Benchmark(Baseline = true)]
    public void SetValue_ArrayPerField() => perField[1] = setPayload.AsSpan().ToArray();

    /// <summary>The object's entry written from its value block (now, for every interest sync and move).</summary>
    [Benchmark]
    public int Entry_Write()
    {
        writer.Reset();
        ObjectEntry.Write(writer, entity);
        return writer.WrittenCount;
    }

    /// <summary>A cached entry copied (before; the cache cost ~230 bytes per object).</summary>
    [Benchmark]
    public int Entry_CopyCached()
    {
        writer.Reset();
        writer.WriteRaw(cachedEntry);
        return writer.WrittenCount;
    }
}
