namespace Pastry.Bench;

/// <summary>
/// A wrong bench command line (an unknown option, a value out of range, options that exclude each other). The command
/// line reports it as one line with exit code 2, as it does its own usage errors; a failed run is a
/// <see cref="BenchException"/> instead.
/// </summary>
internal sealed class BenchUsageException(string message) : Exception(message);
