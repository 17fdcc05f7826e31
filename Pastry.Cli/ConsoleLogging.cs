using NLog.Config;
using NLog.Targets;

namespace Pastry.Cli;

/// <summary>NLog's configuration for the CLI: one line per event on standard output, so that process supervisors and tests can read it.</summary>
internal static class ConsoleLogging
{
    public static LoggingConfiguration Create(NLog.LogLevel minimum)
    {
        var configuration = new LoggingConfiguration();
        var console = new ConsoleTarget("console")
        {
            Layout = "${date:universalTime=true:format=yyyy-MM-ddTHH\\:mm\\:ss.fffZ} ${level:uppercase=true:padding=-5} ${logger:shortName=true} ${message}${onexception:inner= ${exception:format=tostring}}",
            AutoFlush = true,
        };
        if (minimum != NLog.LogLevel.Off)
        {
            configuration.AddRule(minimum, NLog.LogLevel.Fatal, console);
        }
        return configuration;
    }
}
