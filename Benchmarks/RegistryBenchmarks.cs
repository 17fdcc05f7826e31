using BenchmarkDotNet.Attributes;

namespace Pastry.Benchmarks;

/// <summary>Registry look-ups done per message: model by class id, field by name, model info by type.</summary>
[MemoryDiagnoser]
public class RegistryBenchmarks
{
    private ModelRegistry registry = null!;
    private ModelInfo model = null!;
    private uint classId;
    private string fieldName = null!;
    private Type modelType = null!;

    /// <summary>Builds a registry holding the benchmark model.</summary>
    [GlobalSetup]
    public void Setup()
    {
        registry = ModelRegistry.FromTypes(new[] { typeof(BenchAvatar) });
        model = registry.GetModel<BenchAvatar>();
        classId = model.ClassId;
        modelType = model.ClrType;

        // A copy, so the dictionary has to compare characters and cannot win on reference equality.
        fieldName = new string(nameof(BenchAvatar.Position).AsSpan());
    }

    /// <summary>ModelRegistry.TryGetModel by class id (every incoming message that names a class).</summary>
    [Benchmark(Baseline = true)]
    public ModelInfo? TryGetModel_ByClassId() => registry.TryGetModel(classId, out var found) ? found : null;

    /// <summary>ModelInfo.GetField by name.</summary>
    [Benchmark]
    public FieldDescriptor GetField_ByName() => model.GetField(fieldName);

    /// <summary>ModelInfo.TryGetField by name.</summary>
    [Benchmark]
    public FieldDescriptor? TryGetField_ByName() => model.TryGetField(fieldName, out var field) ? field : null;

    /// <summary>ModelInfo.For(type), the cached reflection result.</summary>
    [Benchmark]
    public ModelInfo ModelInfo_ForType() => ModelInfo.For(modelType);
}
