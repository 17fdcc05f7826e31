using Demo.Tavern.Models;
using Pastry.Cli;

namespace Demo.Tavern;

/// <summary>The Tavern demo's entry point: it runs the <c>pastry</c> command line with the Tavern's models loaded.</summary>
public static class Program
{
    /// <summary>Runs the demo. With no arguments it prints the Tavern's schema.</summary>
    public static Task<int> Main(string[] args) =>
        PastryCommandLine.RunAsync(args.Length == 0 ? new[] { "schema" } : args, typeof(Player).Assembly);
}
