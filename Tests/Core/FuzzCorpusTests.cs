using Pastry.Fuzz;

namespace Pastry.Tests.Core;

/// <summary>
/// Replays every checked-in fuzz input (the seed corpus and every crash the fuzzer found, under <c>Fuzz/corpus/</c>)
/// through the same decoders the harness drives: each must end normally or with a <c>WireFormatException</c>, which the
/// targets absorb. A crash the fuzzer finds is copied there and becomes a regression test here (Fuzz/README.md).
/// </summary>
[TestClass]
public sealed class FuzzCorpusTests
{
    public static IEnumerable<object[]> Inputs()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");
        foreach (string target in FuzzTargets.All.Keys)
        {
            string directory = Path.Combine(root, target);
            Assert.IsTrue(Directory.Exists(directory), $"The corpus of {target} was not copied next to the tests ({directory}).");
            foreach (string file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                yield return new object[] { target, Path.GetFileName(file) };
            }
        }
    }

    [TestMethod]
    [DynamicData(nameof(Inputs))]
    public void CheckedInFuzzInput_DecodesOrIsRefusedAsMalformed(string target, string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", target, file));
        FuzzTargets.All[target](input);
    }

    [TestMethod]
    public void EveryTarget_HasASeedCorpus()
    {
        foreach (string target in FuzzTargets.All.Keys)
        {
            Assert.IsTrue(Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", target)).Any(), target);
        }
    }
}
