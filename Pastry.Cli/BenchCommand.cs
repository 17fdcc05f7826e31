using System.CommandLine;
using Pastry.Bench;

namespace Pastry.Cli;

/// <summary>
/// The <c>pastry bench</c> verb on the one command-line parser: one subcommand per scenario of the load generator
/// (Pastry.Bench, <see cref="BenchScenarios"/>), each listing its options with their defaults in <c>--help</c>. The
/// parsed options are handed to <see cref="BenchRunner"/> as <see cref="BenchOptions"/>, which its scenarios read; its
/// usage errors and failed runs become this parser's exit codes.
/// </summary>
internal static class BenchCommand
{
    /// <summary>The <c>bench</c> command with one subcommand per scenario.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Load generator over real loopback sockets: starts a child `pastry serve --role otp` with the bench's own models (or uses --target), runs one scenario for a bounded time and prints a table, or JSON with --json.");
        foreach (var (name, description, options) in BenchScenarios.Scenarios)
        {
            var settings = ConfigurationFlags.CreateArgument("settings for the child server, for example --ClientAgent:FlushInterval 00:00:00.005 (every key: pastry serve --help)");
            var scenario = new Command(name, description) { settings };
            var declared = new List<Option>();
            foreach (var (option, fallback, meaning) in options)
            {
                declared.Add(new Option<string>("--" + option) { Description = $"{meaning} [default: {fallback}]", HelpName = "value" });
            }

            foreach (var (_, option, meaning) in BenchScenarios.Switches.Where(s => s.Scenario == name))
            {
                declared.Add(new Option<bool>("--" + option) { Description = meaning });
            }

            foreach (var (option, _, meaning) in BenchScenarios.Common)
            {
                declared.Add(new Option<string>("--" + option) { Description = meaning, HelpName = "value" });
            }

            declared.Add(new Option<bool>("--json") { Description = "print one JSON object on standard output instead of a table" });
            declared.Add(new Option<bool>("--live") { Description = "progress as a live view on standard error [default: on a terminal]" });
            declared.Add(new Option<bool>("--plain") { Description = "progress as plain lines on standard error [default: when redirected]" });
            declared.Add(new Option<string[]>("--app") { Description = "not taken: bench runs its own models (the child server loads them itself)", Hidden = true });
            foreach (var option in declared)
            {
                scenario.Options.Add(option);
            }

            scenario.SetAction(async (parse, cancellation) =>
            {
                if (parse.GetResult(declared.Single(o => o.Name == "--app")) is not null)
                {
                    throw new UsageException("bench does not take --app: it runs its own bench models, in its own child server. To load a game, use serve, migrate or schema.");
                }

                // The parsed options as the scenario reads them: each one given (a switch only when on), then the
                // --Section:Key settings for the child server.
                var given = new BenchOptions { Scenario = name, PastryProgram = typeof(BenchCommand).Assembly.Location };
                foreach (var option in declared)
                {
                    if (parse.GetResult(option) is not { Implicit: false } result)
                    {
                        continue;
                    }

                    string key = option.Name.Substring(2);
                    if (option is Option<bool> flag)
                    {
                        if (parse.GetValue(flag))
                        {
                            given.Add(key, null);
                        }
                    }
                    else
                    {
                        foreach (var token in result.Tokens)
                        {
                            given.Add(key, token.Value);
                        }
                    }
                }

                var flags = ConfigurationFlags.Check(parse.GetValue(settings) ?? Array.Empty<string>(), $"bench {name}", declared);
                for (int i = 0; i < flags.Count; i++)
                {
                    string setting = flags[i].Substring(2);
                    int equals = setting.IndexOf('=', StringComparison.Ordinal);
                    if (equals >= 0)
                    {
                        given.Add(setting.Substring(0, equals), setting.Substring(equals + 1));
                    }
                    else
                    {
                        given.Add(setting, flags[++i]);
                    }
                }

                try
                {
                    return await BenchRunner.RunAsync(name, given).ConfigureAwait(false) ? PastryCommandLine.ExitOk : PastryCommandLine.ExitRuntimeError;
                }
                catch (BenchUsageException ex)
                {
                    throw new UsageException(ex.Message);
                }
            });
            bench.Subcommands.Add(scenario);
        }

        return bench;
    }
}
