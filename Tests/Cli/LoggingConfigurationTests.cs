using Pastry.Cli.Hosting;

namespace Pastry.Tests.Cli;

/// <summary>The shipped nlog.config is what the CLI reads, and --Logging:Level still sets the lowest level of every rule.</summary>
[TestClass]
public sealed class LoggingConfigurationTests
{
    [TestMethod]
    public void ShippedNlogConfig_IsLoaded_WithItsConsoleTarget()
    {
        Assert.IsTrue(File.Exists(Path.Combine(AppContext.BaseDirectory, ConsoleLogging.FileName)), "nlog.config is copied beside the program.");
        var configuration = ConsoleLogging.Create(null);
        Assert.IsNotNull(configuration.FindTargetByName("console"), "The default file defines the console target.");
        Assert.IsTrue(configuration.LoggingRules.Where(r => r.Targets.Any(t => t.Name == "console")).All(r => r.IsLoggingEnabledForLevel(NLog.LogLevel.Info) && !r.IsLoggingEnabledForLevel(NLog.LogLevel.Debug)), "The file's rules log Info and above.");
    }

    [TestMethod]
    public void LoggingLevel_OverridesEveryRule()
    {
        var debug = ConsoleLogging.Create(NLog.LogLevel.Debug);
        Assert.IsTrue(debug.LoggingRules.Where(r => r.Targets.Any(t => t.Name == "console")).All(r => r.IsLoggingEnabledForLevel(NLog.LogLevel.Debug)));
        var warnings = ConsoleLogging.Create(NLog.LogLevel.Warn);
        Assert.IsTrue(warnings.LoggingRules.Where(r => r.Targets.Any(t => t.Name == "console")).All(r => !r.IsLoggingEnabledForLevel(NLog.LogLevel.Info) && r.IsLoggingEnabledForLevel(NLog.LogLevel.Warn)));
        var off = ConsoleLogging.Create(NLog.LogLevel.Off);
        Assert.IsTrue(off.LoggingRules.Where(r => r.Targets.Any(t => t.Name == "console")).All(r => !r.IsLoggingEnabledForLevel(NLog.LogLevel.Fatal)));
    }
}
