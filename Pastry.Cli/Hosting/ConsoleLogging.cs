using NLog.Config;
using NLog.Targets;

namespace Pastry.Cli.Hosting;

/// <summary>NLog's configuration for the CLI: one line per event on standard output, so that process supervisors and tests can read it.</summary>
internal static class ConsoleLogging
{
    /// <summary>The generic host's own logger, which logs a failed start with its stack trace; <see cref="PastryHost"/> reports that failure as one line instead.</summary>
    private const string HostInternals = "Microsoft.Extensions.Hosting.Internal.Host";

    public static LoggingConfiguration Create(NLog.LogLevel minimum)
    {
        var configuration = new LoggingConfiguration();
        var console = new ConsoleTarget("console")
        {
            Layout = "${date:universalTime=true:format=yyyy-MM-ddTHH\\:mm\\:ss.fffZ} ${level:uppercase=true:padding=-5} ${logger:shortName=true} ${message}${onexception:inner= ${exception:format=tostring}}",
            AutoFlush = true,
        };

        // NLog, not the Microsoft.Extensions.Logging filters, decides what is written (NLog's provider removes those filters).
        configuration.AddRule(NLog.LogLevel.Trace, NLog.LogLevel.Fatal, new NullTarget("host-internals"), HostInternals, final: true);
        if (minimum != NLog.LogLevel.Off)
        {
            configuration.AddRule(minimum, NLog.LogLevel.Fatal, console);
        }

        return configuration;
    }
}
