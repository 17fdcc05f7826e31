using BenchmarkDotNet.Attributes;
using Pastry.Wire;

namespace Pastry.Benchmarks;

/// <summary>
/// The wire codec on a 6-field object: encode every field into a reused buffer, decode and apply them, and build a
/// whole SetField frame. Goal: encoding a typical 6-field update allocates 0 bytes.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly PooledBufferWriter writer = new(1024);
    private BenchAvatar source = null!;
    private BenchAvatar target = null!;
    private FieldDescriptor[] fields = null!;
    private FieldDescriptor<long> gold = null!;
    private byte[][] encoded = null!;
    private int next;

    /// <summary>Fills the source object and pre-encodes two different sets of its values for the decode benchmark.</summary>
    [GlobalSetup]
    public void Setup()
    {
        source = BenchAvatar.CreateFilled();
        target = BenchAvatar.CreateFilled();
        fields = source.Model.Fields.ToArray();
        gold = (FieldDescriptor<long>)source.Model.GetField(nameof(BenchAvatar.Gold));

        var other = BenchAvatar.CreateFilled();
        other.Name = "Admiral Toon";
        other.Level = 7;
        other.Gold = 5;
        other.Speed = 3.25f;
        other.Position = new[] { 1f, 2f, 3f };
        other.Guild = new DoId(0x0123_4567_89ab_7def, 0x8000_0000_0000_0001);
        encoded = new[] { EncodeAll(source), EncodeAll(other) };
    }

    /// <summary>Returns the buffer to the pool.</summary>
    [GlobalCleanup]
    public void Cleanup() => writer.Dispose();

    /// <summary>Encodes the current value of all 6 fields into a reused buffer. Goal: 0 B allocated.</summary>
    [Benchmark(Baseline = true)]
    public int Encode_6Fields()
    {
        writer.Reset();
        for (int i = 0; i < fields.Length; i++)
        {
            fields[i].Encode(source, writer);
        }

        return writer.WrittenCount;
    }

    /// <summary>Decodes 6 encoded values and applies them with validation (alternating two payloads so each is a change).</summary>
    [Benchmark]
    public void DecodeAndApply_6Fields()
    {
        var reader = new WireReader(encoded[next ^= 1]);
        for (int i = 0; i < fields.Length; i++)
        {
            fields[i].DecodeAndApply(target, ref reader, ChangeOrigin.Remote, validate: true);
        }
    }

    /// <summary>Builds one SetField frame: header, doid, field index, value, length patch.</summary>
    [Benchmark]
    public int Encode_SetFieldFrame()
    {
        writer.Reset();
        int start = writer.BeginFrame(MessageType.SetField);
        writer.WriteDoId(source.DoId);
        writer.WriteUInt16((ushort)gold.Index);
        gold.Encode(source, writer);
        writer.EndFrame(start);
        return writer.WrittenCount;
    }

    private byte[] EncodeAll(BenchAvatar avatar)
    {
        writer.Reset();
        foreach (var field in fields)
        {
            field.Encode(avatar, writer);
        }

        return writer.WrittenSpan.ToArray();
    }
}
