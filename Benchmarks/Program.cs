using BenchmarkDotNet.Running;

namespace Pastry.Benchmarks;

/// <summary>Runs the BenchmarkDotNet suites; pass <c>--filter *</c> to run them all.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
