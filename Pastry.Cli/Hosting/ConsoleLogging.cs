using NLog;
using NLog.Config;
using NLog.Targets;

namespace Pastry.Cli.Hosting;

/// <summary>
/// NLog's configuration for the CLI and the demo: <c>nlog.config</c> from the working directory, else the one shipped
/// beside the program (one line per event on standard output, so that supervisors and tests can read it), else the
/// same line built in code. <c>--Logging:Level</c>, when given, sets the lowest level of every rule.
/// </summary>
internal static class ConsoleLogging
{
    /// <summary>The file NLog reads.</summary>
    public const string FileName = "nlog.config";

    /// <summary>The generic host's own logger, which logs a failed start with its stack trace; <see cref="PastryHost"/> reports that failure as one line instead.</summary>
    private const string HostInternals = "Microsoft.Extensions.Hosting.Internal.Host";

    public static LoggingConfiguration Create(NLog.LogLevel? minimum)
    {
        // A DoId is its UUID text in every layout; a JSON layout would otherwise write the struct's properties.
        NLog.LogManager.Setup().SetupSerialization(serialization => serialization.RegisterObjectTransformation<DoId>(id => id.ToString()));
        var configuration = Load() ?? BuiltIn();
        if (minimum is not null)
        {
            foreach (var rule in configuration.LoggingRules)
            {
                if (minimum == NLog.LogLevel.Off)
                {
                    rule.DisableLoggingForLevels(NLog.LogLevel.Trace, NLog.LogLevel.Fatal);
                }
                else
                {
                    rule.SetLoggingLevels(minimum, NLog.LogLevel.Fatal);
                }
            }
        }

        // NLog, not the Microsoft.Extensions.Logging filters, decides what is written (NLog's provider removes those filters).
        configuration.LoggingRules.Insert(0, new LoggingRule(HostInternals, NLog.LogLevel.Trace, NLog.LogLevel.Fatal, new NullTarget("host-internals")) { Final = true });
        return configuration;
    }

    private static LoggingConfiguration? Load()
    {
        foreach (string directory in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            string path = Path.Combine(directory, FileName);
            if (File.Exists(path))
            {
                return new XmlLoggingConfiguration(path);
            }
        }

        return null;
    }

    private static LoggingConfiguration BuiltIn()
    {
        var configuration = new LoggingConfiguration();
        var console = new ConsoleTarget("console")
        {
            Layout = "${date:universalTime=true:format=yyyy-MM-ddTHH\\:mm\\:ss.fffZ} ${level:uppercase=true:padding=-5} ${logger:shortName=true} ${message}${onexception:inner= ${exception:format=tostring}}",
            AutoFlush = true,
        };
        configuration.AddRule(NLog.LogLevel.Info, NLog.LogLevel.Fatal, console);
        return configuration;
    }
}
