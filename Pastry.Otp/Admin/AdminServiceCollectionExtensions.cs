using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pastry.Hosting;
using Pastry.Otp.Hosting;

namespace Pastry.Otp.Admin;

/// <summary>Adds the admin endpoint to a generic host: <c>services.AddPastryAdmin(builder.Configuration)</c>.</summary>
public static class AdminServiceCollectionExtensions
{
    /// <summary>
    /// Registers the admin HTTP endpoint as a hosted service, with <see cref="AdminOptions"/> bound from the
    /// <c>Admin</c> section and validated when the host starts (a non-loopback address without <c>Admin:Token</c> is a
    /// configuration error naming the key). It reports on the container's <see cref="OtpServer"/> (from
    /// <c>AddPastryOtp</c>; without one, in an AI-only process, it serves health, readiness and metrics), and
    /// <c>/readyz</c> also asks every <see cref="IReadinessCheck"/> in the container (the AI registers one).
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration root (for example <c>builder.Configuration</c>).</param>
    /// <param name="configure">Changes applied after binding and before validation (tests set the port to 0 here).</param>
    public static IServiceCollection AddPastryAdmin(this IServiceCollection services, IConfiguration configuration, Action<AdminOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<AdminOptions>()
            .Configure(options => OptionsBinding.Bind(configuration.GetSection("Admin"), options))
            .Configure(options => configure?.Invoke(options))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>());
        services.TryAddSingleton<AdminReadiness>();
        services.AddSingleton<IHostedService>(provider =>
        {
            var readiness = provider.GetRequiredService<AdminReadiness>();
            foreach (var check in provider.GetServices<IReadinessCheck>())
            {
                readiness.Add(check.Name, check.Problem);
            }

            return new AdminServer(
                provider.GetRequiredService<IOptions<AdminOptions>>().Value,
                () => provider.GetService<OtpServer>(),
                readiness,
                provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance);
        });
        return services;
    }

    /// <summary>Runs <see cref="AdminOptions.Validate"/> when the host starts; the failure names the key.</summary>
    private sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
    {
        public ValidateOptionsResult Validate(string? name, AdminOptions options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException ex)
            {
                return ValidateOptionsResult.Fail(ex.Message);
            }
        }
    }
}
