using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pastry.Hosting;

namespace Pastry.Ai.Hosting;

/// <summary>
/// Hosts a game's AI in any generic host or ASP.NET Core app (ARCHITECTURE 1, Hosting/):
/// <c>services.AddPastryAi&lt;MyGameAi&gt;(builder.Configuration)</c>. Beside <c>AddPastryOtp</c> it runs in the OTP's
/// process on its router; alone it connects over TCP to <c>Ai:MessageDirector</c> and reconnects when the link drops.
/// </summary>
public static class AiServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TApp"/> as the AI application, with <see cref="AiHostOptions"/> bound from the
    /// <c>Ai</c> section and validated when the host starts. The application is created with the container's services,
    /// so its constructor may ask for any of them.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration root (for example <c>builder.Configuration</c>).</param>
    /// <param name="models">The game's models; when null, a registered <see cref="ModelRegistry"/>, or else the models of <typeparamref name="TApp"/>'s assembly.</param>
    public static IServiceCollection AddPastryAi<TApp>(this IServiceCollection services, IConfiguration configuration, ModelRegistry? models = null)
        where TApp : class, IAiApplication =>
        services.AddPastryAi(typeof(TApp), configuration, models);

    /// <summary>
    /// Registers <paramref name="application"/> (a class implementing <see cref="IAiApplication"/>) as the AI
    /// application; the form for hosts that find the class at run time, such as <c>pastry serve --app Game.dll</c>.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="application">The class to run.</param>
    /// <param name="configuration">The configuration root.</param>
    /// <param name="models">The game's models; when null, a registered <see cref="ModelRegistry"/>, or else the models of <paramref name="application"/>'s assembly.</param>
    public static IServiceCollection AddPastryAi(this IServiceCollection services, Type application, IConfiguration configuration, ModelRegistry? models = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(application);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!typeof(IAiApplication).IsAssignableFrom(application) || application.IsAbstract)
        {
            throw new ArgumentException($"{application.FullName} is not a class implementing Pastry.Ai.IAiApplication.", nameof(application));
        }

        services.TryAddSingleton(models ?? ModelRegistry.FromAssemblies(application.Assembly));
        services.AddOptions<AiHostOptions>()
            .Configure(options =>
            {
                BindNamingKey(configuration.GetSection(AiHostOptions.Section), options);
                // One pastry.json for both roles: the AI proves the OTP's own secrets unless it is given others.
                options.Secret = options.Secret.Length > 0 ? options.Secret : configuration["MessageDirector:Secret"] ?? string.Empty;
                options.PrivilegedSecret = options.PrivilegedSecret.Length > 0 ? options.PrivilegedSecret : configuration["MessageDirector:PrivilegedSecret"] ?? string.Empty;
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AiHostOptions>, AiHostOptionsValidator>());
        // One instance is both the hosted service and its readiness check (/readyz lists it as "ai").
        services.AddSingleton(provider => new AiHostedService(application, provider));
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<AiHostedService>());
        services.AddSingleton<IReadinessCheck>(provider => provider.GetRequiredService<AiHostedService>());
        return services;
    }

    /// <summary>
    /// The class in <paramref name="assemblies"/> that implements <see cref="IAiApplication"/> (with a public
    /// constructor): the one named by <paramref name="name"/> (full or short name, from <c>Ai:Application</c>), or
    /// the only one; null when there is none.
    /// </summary>
    /// <exception cref="OptionsValidationException">The name matches no class, or several classes qualify and no name was given; the message names <c>Ai:Application</c>.</exception>
    public static Type? FindApplication(IEnumerable<Assembly> assemblies, string? name)
    {
        ArgumentNullException.ThrowIfNull(assemblies);
        var found = new List<Type>();
        foreach (var assembly in assemblies.Distinct())
        {
            Type?[] types;
            try
            {
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                types = ex.Types;
            }

            found.AddRange(types.Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IAiApplication).IsAssignableFrom(t) && t.GetConstructors().Length > 0)!);
        }

        if (!string.IsNullOrEmpty(name))
        {
            return found.FirstOrDefault(t => t.FullName == name || t.Name == name)
                ?? throw Invalid($"Ai:Application '{name}' is not a class implementing IAiApplication in the app assemblies. Found: {(found.Count == 0 ? "none" : string.Join(", ", found.Select(t => t.FullName)))}.");
        }

        return found.Count switch
        {
            0 => null,
            1 => found[0],
            _ => throw Invalid($"Several classes implement IAiApplication ({string.Join(", ", found.Select(t => t.FullName))}); choose one with Ai:Application."),
        };
    }

    private static OptionsValidationException Invalid(string message) =>
        new(Options.DefaultName, typeof(AiHostOptions), new[] { message });

    private static void BindNamingKey(IConfiguration section, AiHostOptions options)
    {
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key: "Failed to convert configuration value 'x' at 'Ai:MaxReconnectDelay' to type 'System.TimeSpan'."
            throw Invalid(ex.Message);
        }
    }
}

/// <summary>Checks <see cref="AiHostOptions"/> when the host starts; the failure names the key.</summary>
internal sealed class AiHostOptionsValidator : IValidateOptions<AiHostOptions>
{
    public ValidateOptionsResult Validate(string? name, AiHostOptions options) =>
        options.FindProblem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
