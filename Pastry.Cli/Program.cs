namespace Pastry.Cli;

/// <summary>The <c>pastry</c> executable.</summary>
public static class Program
{
    /// <summary>Runs the command line; see <c>pastry --help</c>.</summary>
    public static Task<int> Main(string[] args) => PastryCommandLine.RunAsync(args);
}
