using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pastry.Hosting;
using Pastry.Messaging;

namespace Pastry.Nats.Hosting;

/// <summary>
/// Puts the NATS backplane under the roles of a generic host: <c>services.AddPastryNats(configuration, keeper)</c>
/// before <c>AddPastryOtp</c> / <c>AddPastryAi</c>. Both then use <see cref="NatsMessageRouter"/> as the process's
/// <see cref="IMessageRouter"/>: the OTP's roles subscribe and publish on it, and an AI in a process of its own talks
/// to the OTP through the nats-server instead of the MD's TCP link.
/// </summary>
public static class NatsServiceCollectionExtensions
{
    /// <summary>The <c>MessageDirector:Backplane</c> value that selects this backplane.</summary>
    public const string BackplaneName = "nats";

    /// <summary>
    /// Registers <see cref="NatsBackplaneOptions"/> (the <c>Nats</c> section, validated at start), one
    /// <see cref="NatsMessageRouter"/> as the process's <see cref="IMessageRouter"/> and <see cref="IPostRemoveRouter"/>,
    /// and a hosted service that connects it when the host starts (an unreachable nats-server stops the start with a
    /// message naming <c>Nats:Url</c>). With <paramref name="keeper"/> (an OTP process) it also runs a
    /// <see cref="PostRemoveKeeper"/>. The router is disposed with the container, after every role stopped.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration root.</param>
    /// <param name="keeper">Whether this process keeps other processes' post-removes (true for an OTP process).</param>
    public static IServiceCollection AddPastryNats(this IServiceCollection services, IConfiguration configuration, bool keeper)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<NatsBackplaneOptions>()
            .Configure(options => Bind(configuration.GetSection(NatsBackplaneOptions.Section), options))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NatsBackplaneOptions>, NatsOptionsValidator>());
        services.TryAddSingleton(provider =>
        {
            var loggers = provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            return new NatsMessageRouter(provider.GetRequiredService<IOptions<NatsBackplaneOptions>>().Value, loggers.CreateLogger("Pastry.Nats"), keeper);
        });
        services.TryAddSingleton<IMessageRouter>(provider => provider.GetRequiredService<NatsMessageRouter>());
        services.TryAddSingleton<IPostRemoveRouter>(provider => provider.GetRequiredService<NatsMessageRouter>());
        services.AddSingleton<IHostedService, NatsHostedService>();
        return services;
    }

    /// <summary>Whether <paramref name="configuration"/> selects this backplane (<c>MessageDirector:Backplane = nats</c>, any case).</summary>
    public static bool IsSelected(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return string.Equals(configuration["MessageDirector:Backplane"], BackplaneName, StringComparison.OrdinalIgnoreCase);
    }

    private static void Bind(IConfiguration section, NatsBackplaneOptions options)
    {
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(NatsBackplaneOptions), new[] { ex.Message });
        }
    }
}

/// <summary>Checks <see cref="NatsBackplaneOptions"/> when the host starts; the failure names the key.</summary>
internal sealed class NatsOptionsValidator : IValidateOptions<NatsBackplaneOptions>
{
    public ValidateOptionsResult Validate(string? name, NatsBackplaneOptions options) =>
        options.FindProblem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}

/// <summary>
/// Connects the backplane when the host starts, before any role (in <see cref="StartingAsync"/>, as the OTP's roles
/// start first of the hosted services), and runs the keeper of an OTP process. An OTP joins the OTP nodes already there
/// (placement), unless it stores in SQLite, which they could not share, and says it is ready once every role started
/// (<see cref="StartedAsync"/>). A process that is not a keeper (an AI) waits, before the roles after it start, until a
/// ready OTP process is on the backplane: NATS keeps nothing, so its first creates would otherwise be lost.
/// </summary>
internal sealed class NatsHostedService(NatsMessageRouter router, ILoggerFactory? loggers = null, IConfiguration? configuration = null) : IHostedLifecycleService, IDisposable
{
    private PostRemoveKeeper? keeper;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (router.IsKeeper)
        {
            // Before the connection, so that no registration arriving first is missed.
            keeper = new PostRemoveKeeper(router, (loggers ?? NullLoggerFactory.Instance).CreateLogger("Pastry.Nats.Keeper"));
        }

        try
        {
            await router.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsBackplaneException ex)
        {
            throw new StartupException(StartupError.BackplaneUnreachable, router.Options.Url, ex.Message, ex);
        }

        if (!router.IsKeeper)
        {
            return;
        }

        // Several OTP nodes share one world (placement), but only with one database they all reach: with a SQLite file
        // each node would have its own. A ready one heartbeats every interval, so two intervals of silence mean there is none.
        try
        {
            await router.WaitForKeeperAsync(cancellationToken).WaitAsync(router.Options.HeartbeatInterval * 2, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return;
        }

        if (UsesSqlite(configuration))
        {
            throw new StartupException(StartupError.BackplaneTaken, router.Options.Url, $"Another OTP process already serves the NATS backplane at {router.Options.Url} under Nats:SubjectPrefix '{router.Options.SubjectPrefix}', and this one stores in a SQLite file (Database:Path), which the other OTP nodes cannot share. Fix: give every OTP node of this world the same PostgreSQL (Database:Provider postgres, Database:ConnectionString), or Database:Path \"\" for a world without stored objects; or give this world its own Nats:SubjectPrefix.");
        }

        (loggers ?? NullLoggerFactory.Instance).CreateLogger("Pastry.Nats").LogInformation("NATS backplane: joining the OTP node(s) already on {Prefix}: {Nodes}", router.Options.SubjectPrefix, string.Join(", ", router.LiveOtpNodes));
    }

    /// <summary>Whether the OTP's Database role stores in a SQLite file (the default provider with a path): a file one node alone can use.</summary>
    private static bool UsesSqlite(IConfiguration? configuration)
    {
        string provider = configuration?["Database:Provider"] ?? "sqlite";
        string? path = configuration?["Database:Path"] ?? "pastry.db";
        return !string.Equals(provider, "postgres", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(path);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (router.IsKeeper || router.HasLiveKeeper)
        {
            return;
        }

        var logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("Pastry.Nats");
        try
        {
            await router.WaitForKeeperAsync(cancellationToken).WaitAsync(router.Options.HeartbeatInterval * 2, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("NATS backplane: no OTP process is on the backplane yet (no ready heartbeat on {Subject} within {Wait}); waiting for one before the AI starts. Start pastry serve --role otp with the same Nats:Url and Nats:SubjectPrefix.", router.Options.SubjectPrefix + ".k", router.Options.HeartbeatInterval * 2);
            await router.WaitForKeeperAsync(cancellationToken).ConfigureAwait(false);
        }

        logger.LogInformation("NATS backplane: an OTP process is on the backplane; starting");
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        // Every role has subscribed (each subscription is queued before this heartbeat): AIs may send to them now.
        router.AnnounceReady();
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        keeper?.Dispose();
        keeper = null;
        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => keeper?.Dispose();
}
