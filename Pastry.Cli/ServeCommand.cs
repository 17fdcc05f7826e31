using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NLog.Extensions.Logging;
using Pastry.Otp;
using Pastry.Otp.Database;

namespace Pastry.Cli;

/// <summary>
/// <c>pastry serve --role otp|ai|all [--config pastry.json] [--app &lt;assembly&gt;] [--Section:Key value ...]</c>:
/// runs the roles on the generic host. Configuration comes from <c>pastry.json</c>, then environment variables
/// (<c>PASTRY_ClientAgent__Port=7200</c>), then <c>--Section:Key value</c> flags. Ctrl+C and SIGTERM stop it gracefully.
/// </summary>
internal static class ServeCommand
{
    private static readonly string[] Roles = { "otp", "ai", "all" };

    public static async Task<int> RunAsync(string[] args, IEnumerable<Assembly> appAssemblies)
    {
        var (role, configPath, apps, overrides) = SplitArguments(args);
        if (!Roles.Contains(role, StringComparer.Ordinal))
        {
            throw new UsageException($"--role must be one of {string.Join(", ", Roles)}; got '{role}'.");
        }

        var configuration = LoadConfiguration(configPath, overrides);
        var options = new OtpOptions();
        try
        {
            configuration.GetSection("MessageDirector").Bind(options.MessageDirector);
            configuration.GetSection("ClientAgent").Bind(options.ClientAgent);
            configuration.GetSection("Accounts").Bind(options.Accounts);
            configuration.GetSection("Database").Bind(options.Database);
            options.Validate();
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key, for example "...value at 'ClientAgent:Port' to type 'System.Int32'".
            throw new ConfigurationException(ex.Message);
        }
        catch (ArgumentException ex)
        {
            throw new ConfigurationException(ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal));
        }

        var registryOptions = CommandOptions.Parse(apps.SelectMany(a => new[] { "--app", a }).ToArray());
        var loaded = PastryCommandLine.LoadAssemblies(registryOptions, appAssemblies);
        var registry = ModelRegistry.FromAssemblies(loaded);
        var aiApplication = role == "otp" ? null : AiHostedService.FindApplication(loaded, configuration["Ai:Application"]);
        if (role == "ai" && aiApplication is null)
        {
            throw new UsageException("--role ai found no class implementing Pastry.Ai.IAiApplication in the --app assemblies.");
        }

        var aiEndpoint = role == "ai" ? ParseEndpoint(configuration["Ai:MessageDirector"] ?? "127.0.0.1:7198", "Ai:MessageDirector") : default;

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Configuration = new ConfigurationManager() });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.ClearProviders();
        builder.Logging.AddNLog(ConsoleLogging.Create(ParseLevel(configuration["Logging:Level"])));
        builder.Services.AddSingleton(registry);
        builder.Services.AddSingleton(options);
        var holder = new OtpServerHolder();
        if (role != "ai")
        {
            builder.Services.AddSingleton(holder);
            builder.Services.AddHostedService<OtpHostedService>();
        }

        if (aiApplication is not null)
        {
            builder.Services.AddHostedService(sp => new AiHostedService(
                aiApplication,
                registry,
                role == "ai" ? null : holder,
                aiEndpoint,
                sp.GetRequiredService<ILoggerFactory>()));
        }

        using var host = builder.Build();
        var loggerFactory = host.Services.GetRequiredService<ILoggerFactory>();
        var logger = loggerFactory.CreateLogger("Pastry.Cli");
        logger.LogInformation("pastry serve --role {Role}: {Count} app model(s) loaded, AI: {Ai}", role, registry.Models.Count - ModelRegistry.BuiltInModels.Count, aiApplication?.FullName ?? "none");
        try
        {
            // Built before the host starts, so that a database problem is one clear line, not a hosting stack trace.
            if (role != "ai")
            {
                try
                {
                    holder.Server = new OtpServer(registry, options, loggerFactory);
                }
                catch (DatabaseException ex)
                {
                    logger.LogCritical("{Message}", ex.Message);
                    return ex.Error == DatabaseError.Mapping ? PastryCommandLine.ExitUsage : PastryCommandLine.ExitRuntimeError;
                }
            }

            await host.RunAsync().ConfigureAwait(false);
            return PastryCommandLine.ExitOk;
        }
        catch (SocketException ex)
        {
            logger.LogCritical("Network error: {Message}. For the OTP: is another server using the port (ClientAgent:Port, MessageDirector:Port)? For an AI: is the OTP running at Ai:MessageDirector?", ex.Message);
            return PastryCommandLine.ExitRuntimeError;
        }
        finally
        {
            NLog.LogManager.Shutdown();
        }
    }

    private static (string Role, string? Config, List<string> Apps, List<string> Overrides) SplitArguments(string[] args)
    {
        string role = "all";
        string? config = null;
        var apps = new List<string>();
        var overrides = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string? Next() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{arg} needs a value.");
            switch (arg)
            {
                case "--role":
                    role = Next()!;
                    break;
                case "--config":
                    config = Next();
                    break;
                case "--app":
                    apps.Add(Next()!);
                    break;
                default:
                    if (!arg.StartsWith("--", StringComparison.Ordinal) || !arg.Contains(':', StringComparison.Ordinal))
                    {
                        throw new UsageException($"Unexpected argument '{arg}'. serve takes --role, --config, --app and setting overrides such as --ClientAgent:Port 7200.");
                    }

                    overrides.Add(arg);
                    if (!arg.Contains('=', StringComparison.Ordinal))
                    {
                        overrides.Add(Next()!);
                    }

                    break;
            }
        }

        return (role, config, apps, overrides);
    }

    private static IConfiguration LoadConfiguration(string? path, List<string> overrides)
    {
        var builder = new ConfigurationBuilder();
        string file = Path.GetFullPath(path ?? "pastry.json");
        if (path is not null && !File.Exists(file))
        {
            throw new ConfigurationException($"--config: the file '{file}' does not exist.");
        }

        if (File.Exists(file))
        {
            builder.AddJsonFile(file, optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables("PASTRY_");
        builder.AddCommandLine(overrides.ToArray());
        try
        {
            return builder.Build();
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException)
        {
            throw new ConfigurationException($"{file} is not valid JSON: {ex.Message}");
        }
    }

    private static (string Host, int Port) ParseEndpoint(string text, string key)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out int port) || port is < 1 or > 65535)
        {
            throw new ConfigurationException($"{key} must be host:port, for example 127.0.0.1:7198; got '{text}'.");
        }

        return (text.Substring(0, colon), port);
    }

    private static NLog.LogLevel ParseLevel(string? text)
    {
        if (text is null)
        {
            return NLog.LogLevel.Info;
        }

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

/// <summary>A bad configuration value; reported with exit code 2. The message names the key.</summary>
internal sealed class ConfigurationException(string message) : Exception(message);

/// <summary>The server that <c>serve</c> builds before the host starts (an instance, so the container never disposes it).</summary>
internal sealed class OtpServerHolder
{
    public OtpServer? Server { get; set; }
}

/// <summary>Runs the <see cref="OtpServer"/> built by <c>serve</c> as a hosted service; it disposes the server when the host stops.</summary>
internal sealed class OtpHostedService(OtpServerHolder holder) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        (holder.Server ?? throw new InvalidOperationException("The OTP server was not built.")).Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (holder.Server is not null)
        {
            await holder.Server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
