using System.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pastry.Ai;
using Pastry.Otp;

namespace Pastry.Cli;

/// <summary>
/// Runs the game's <see cref="IAiApplication"/>: in the OTP's process on its in-process router (<c>--role all</c>),
/// or connected over TCP to the Message Director of a separate OTP (<c>--role ai</c>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Both are disposed in StopAsync, which the host always calls.")]
internal sealed class AiHostedService(Type application, ModelRegistry registry, OtpServerHolder? localServer, (string Host, int Port) remote, ILoggerFactory loggerFactory) : IHostedService
{
    private readonly ILogger logger = loggerFactory.CreateLogger("Pastry.Ai");
    private readonly CancellationTokenSource stopping = new();
    private AiRepository? ai;

    /// <summary>
    /// The class in <paramref name="assemblies"/> that implements <see cref="IAiApplication"/>: the one named by
    /// <paramref name="name"/> (full or short name, from <c>Ai:Application</c>), or the only one; null when there is none.
    /// </summary>
    public static Type? FindApplication(IEnumerable<Assembly> assemblies, string? name)
    {
        var found = new List<Type>();
        foreach (var assembly in assemblies)
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

            found.AddRange(types.Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IAiApplication).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)!);
        }

        if (name is not null)
        {
            return found.FirstOrDefault(t => t.FullName == name || t.Name == name)
                ?? throw new ConfigurationException($"Ai:Application '{name}' is not a class implementing IAiApplication in the --app assemblies. Found: {(found.Count == 0 ? "none" : string.Join(", ", found.Select(t => t.FullName)))}.");
        }

        return found.Count switch
        {
            0 => null,
            1 => found[0],
            _ => throw new ConfigurationException($"Several classes implement IAiApplication ({string.Join(", ", found.Select(t => t.FullName))}); choose one with Ai:Application."),
        };
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (localServer is not null)
        {
            var server = localServer.Server ?? throw new InvalidOperationException("The OTP server was not built.");
            ai = new AiRepository(server.Router, registry, logger: logger);
            logger.LogInformation("AI {Ai} runs in the OTP process", ai.Channel.Id);
        }
        else
        {
            ai = await AiRepository.ConnectAsync(remote.Host, remote.Port, registry, logger: logger, cancellation: cancellationToken).ConfigureAwait(false);
            logger.LogInformation("AI {Ai} connected to the Message Director at {Host}:{Port}", ai.Channel.Id, remote.Host, remote.Port);
        }

        var app = (IAiApplication)Activator.CreateInstance(application)!;
        await app.StartAsync(ai, stopping.Token).ConfigureAwait(false);
        logger.LogInformation("AI application {App} started", application.Name);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        stopping.Cancel();
        if (ai is not null)
        {
            await ai.DisposeAsync().ConfigureAwait(false);
        }

        stopping.Dispose();
    }
}
