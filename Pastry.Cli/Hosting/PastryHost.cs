using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NLog.Extensions.Logging;
using Pastry.Hosting;
using Pastry.Otp.Database;

namespace Pastry.Cli.Hosting;

/// <summary>
/// How the <c>pastry</c> command and the Tavern run a generic host: configuration from <c>pastry.json</c>, then
/// <c>PASTRY_</c> environment variables, then <c>--Section:Key value</c> flags; one log line per event on standard
/// output; and start-up failures as one line with exit code 1 (runtime) or 2 (configuration), never a stack trace.
/// </summary>
public static class PastryHost
{
    /// <summary>
    /// Loads the configuration, builds a host whose services <paramref name="configure"/> adds (for example
    /// <c>AddPastryOtp</c> and <c>AddPastryAi</c>), runs it until Ctrl+C or SIGTERM and returns the exit code.
    /// </summary>
    /// <param name="configPath">The <c>--config</c> file; null reads <c>pastry.json</c> when it exists.</param>
    /// <param name="flags">Setting overrides such as <c>--ClientAgent:Port 7200</c>.</param>
    /// <param name="configure">Adds the roles to the host; it may read <see cref="HostApplicationBuilder.Configuration"/>.</param>
    /// <param name="banner">Makes a line logged (at Info) before the host starts, or null.</param>
    public static async Task<int> RunAsync(string? configPath, IEnumerable<string> flags, Action<HostApplicationBuilder> configure, Func<string>? banner = null)
    {
        try
        {
            return await RunHostAsync(configPath, flags, configure, banner).ConfigureAwait(false);
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"pastry: configuration error: {ex.Message}").ConfigureAwait(false);
            return PastryCommandLine.ExitUsage;
        }
    }

    private static async Task<int> RunHostAsync(string? configPath, IEnumerable<string> flags, Action<HostApplicationBuilder> configure, Func<string>? banner)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Configuration = new ConfigurationManager() });

        // The sources go into the host's own configuration, not chained: a chained configuration drops empty values,
        // and --Database:Path "" (no database) is one.
        var configuration = AddSources(builder.Configuration, configPath, flags);
        foreach (string warning in KnownSettings.Warnings(configuration))
        {
            await Console.Error.WriteLineAsync($"pastry: warning: {warning}").ConfigureAwait(false);
        }

        builder.Logging.ClearProviders();
        builder.Logging.AddNLog(ConsoleLogging.Create(configuration["Logging:Level"] is { } level ? ParseLevel(level) : null));
        try
        {
            configure(builder);
            using var host = builder.Build();
            var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Pastry.Cli");
            if (banner is not null)
            {
                logger.LogInformation("{Banner}", banner());
            }

            try
            {
                await host.RunAsync().ConfigureAwait(false);
                return PastryCommandLine.ExitOk;
            }
            catch (Exception ex) when (Unwrap(ex) is StartupException startup)
            {
                logger.LogCritical("{Message}", startup.Message);
                return PastryCommandLine.ExitRuntimeError;
            }
            catch (Exception ex) when (Unwrap(ex) is DatabaseException database)
            {
                logger.LogCritical("{Message}", database.Message);
                return database.Error == DatabaseError.Mapping ? PastryCommandLine.ExitUsage : PastryCommandLine.ExitRuntimeError;
            }
            catch (Exception ex) when (ConfigurationFailures(ex) is { } failures)
            {
                throw new ConfigurationException(string.Join(" ", failures));
            }
        }
        finally
        {
            NLog.LogManager.Shutdown();
        }
    }

    /// <summary>Adds <paramref name="configPath"/> (or <c>pastry.json</c> when it exists), then <c>PASTRY_</c> environment variables, then <paramref name="flags"/>.</summary>
    internal static IConfigurationManager AddSources(ConfigurationManager configuration, string? configPath, IEnumerable<string> flags)
    {
        string file = Path.GetFullPath(configPath ?? "pastry.json");
        if (configPath is not null && !File.Exists(file))
        {
            throw new ConfigurationException($"--config: the file '{file}' does not exist.");
        }

        try
        {
            if (File.Exists(file))
            {
                configuration.AddJsonFile(file, optional: false, reloadOnChange: false);
            }

            configuration.AddEnvironmentVariables("PASTRY_");
            configuration.AddCommandLine(flags.ToArray());
            return configuration;
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException)
        {
            throw new ConfigurationException($"{file} is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>The messages of a failed options validation (one, or several at once when ValidateOnStart found several), or null.</summary>
    private static IEnumerable<string>? ConfigurationFailures(Exception ex) => ex switch
    {
        OptionsValidationException invalid => invalid.Failures,
        AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException) =>
            aggregate.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures),
        _ => null,
    };

    private static Exception Unwrap(Exception ex) =>
        ex is AggregateException { InnerExceptions.Count: 1 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : ex;

    private static NLog.LogLevel ParseLevel(string text)
    {
        try
        {
            return NLog.LogLevel.FromString(text);
        }
        catch (ArgumentException)
        {
            throw new ConfigurationException($"Logging:Level must be one of Trace, Debug, Info, Warn, Error, Fatal, Off; got '{text}'.");
        }
    }
}
