using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pastry.Messaging;
using Pastry.Otp.ClientAgent;
using Pastry.Otp.UberDogs;

namespace Pastry.Otp.Hosting;

/// <summary>
/// Hosts the OTP roles in any generic host or ASP.NET Core app (ARCHITECTURE 1, Hosting/):
/// <c>services.AddPastryOtp(builder.Configuration, models)</c>. Settings are bound from the configuration's
/// <c>MessageDirector</c>, <c>ClientAgent</c>, <c>Accounts</c> and <c>Database</c> sections and validated when the
/// host starts, with messages that name the key.
/// </summary>
public static class OtpServiceCollectionExtensions
{
    /// <summary>
    /// Registers the OTP: <see cref="OtpOptions"/> (bound from <paramref name="configuration"/>, validated at start),
    /// one <see cref="OtpServer"/> singleton, its router as the process's <see cref="IMessageRouter"/> (so an AI added
    /// with <c>AddPastryAi</c> runs in process), and a hosted service that starts the server before every other hosted
    /// service and stops it after them. Other components (an admin endpoint, a game's own services) resolve
    /// <see cref="OtpServer"/> from the container.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration root (for example <c>builder.Configuration</c>).</param>
    /// <param name="models">The game's models; when null, a <see cref="ModelRegistry"/> registered by the app or by <c>AddPastryAi</c> is used.</param>
    /// <param name="configure">Changes applied after binding and before validation (tests set ports to 0 here).</param>
    /// <remarks>
    /// An <see cref="IInterestPolicy"/>, <see cref="IAccountStore"/> or <see cref="TimeProvider"/> registered in the
    /// container replaces the server's default; so does an <see cref="IMessageRouter"/> registered before this call (a
    /// backplane such as <c>AddPastryNats</c>), which the roles then use instead of the in-process router.
    /// </remarks>
    public static IServiceCollection AddPastryOtp(this IServiceCollection services, IConfiguration configuration, ModelRegistry? models = null, Action<OtpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(OtpHostedService)))
        {
            throw new InvalidOperationException("AddPastryOtp was called twice; one host runs one OTP.");
        }

        if (models is not null)
        {
            services.TryAddSingleton(models);
        }

        services.AddOptions<OtpOptions>()
            .Configure(options => OptionsBinding.Bind(configuration, options))
            .Configure(options => configure?.Invoke(options))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OtpOptions>, OtpOptionsValidator>());
        // A router registered before this call (a backplane: AddPastryNats) carries the roles; otherwise the OTP's own
        // in-process router becomes the process's router.
        bool backplane = services.Any(d => d.ServiceType == typeof(IMessageRouter));
        services.TryAddSingleton(provider => new OtpServer(
            provider.GetService<ModelRegistry>() ?? throw new InvalidOperationException("AddPastryOtp needs the game's models: pass a ModelRegistry to AddPastryOtp or register one."),
            provider.GetRequiredService<IOptions<OtpOptions>>().Value,
            provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            provider.GetService<TimeProvider>(),
            provider.GetService<IAccountStore>(),
            provider.GetService<IInterestPolicy>(),
            backplane ? provider.GetRequiredService<IMessageRouter>() : null));
        services.TryAddSingleton<IMessageRouter>(provider => provider.GetRequiredService<OtpServer>().Router);

        // Hosted services start in registration order and stop in reverse: the OTP goes first, so that an in-process
        // AI or an admin endpoint registered before this call still finds it running, and stops last.
        var hosted = ServiceDescriptor.Singleton<IHostedService, OtpHostedService>();
        int first = services.IndexOf(services.FirstOrDefault(d => d.ServiceType == typeof(IHostedService))!);
        if (first < 0)
        {
            services.Add(hosted);
        }
        else
        {
            services.Insert(first, hosted);
        }

        return services;
    }
}
