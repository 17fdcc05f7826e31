using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pastry.Hosting;
using Pastry.Messaging;

namespace Pastry.Ai.Hosting;

/// <summary>
/// Runs one <see cref="IAiApplication"/>: on the OTP's router when the same host runs the OTP (it registers the
/// process's <see cref="IMessageRouter"/>), otherwise over TCP to <see cref="AiHostOptions.MessageDirector"/>. An OTP
/// that cannot be reached at start is one <see cref="StartupException"/> naming the address and the fix.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Both are disposed in StopAsync, which the host always calls.")]
internal sealed class AiHostedService(Type application, IServiceProvider services) : IHostedService, IReadinessCheck
{
    private readonly CancellationTokenSource stopping = new();
    private volatile AiRepository? ai;
    private volatile bool started;

    /// <inheritdoc />
    public string Name => "ai";

    /// <inheritdoc />
    public string? Problem() =>
        !started || ai is null ? "the AI application has not started" : ai.IsConnected ? null : "the AI's link to the Message Director is down (it reconnects)";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = services.GetRequiredService<IOptions<AiHostOptions>>().Value;
        var registry = services.GetRequiredService<ModelRegistry>();
        var logger = (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("Pastry.Ai");
        var districts = settings.ParsedDistricts;

        // Two AIs of one application that serve different districts each keep their own objects when they die: the
        // next AI of the same districts takes them back, never the other district's AI.
        string name = districts.Count == 0 ? application.FullName! : $"{application.FullName} [{string.Join(" ", settings.Districts)}]";
        var options = new AiOptions { MaxReconnectDelay = settings.MaxReconnectDelay, Time = services.GetService<TimeProvider>() ?? TimeProvider.System, Credentials = settings.Credentials, Application = name, ApplicationKey = settings.ApplicationKey, MaxFrameBytes = settings.MaxFrameBytes };
        if (services.GetService<IMessageRouter>() is { } local)
        {
            if (settings.TakeOver)
            {
                // A rolling upgrade replaces an AI process that reaches the OTP over the Message Director link.
                throw new StartupException(StartupError.AiTakeOverRefused, settings.MessageDirector, $"Ai:TakeOver needs an AI that connects to the OTP over the Message Director link (pastry serve --role ai); this one runs on the process's router ({local.GetType().Name}). Fix: split the roles, or start it without --take-over.");
            }

            ai = new AiRepository(local, registry, options, logger);
            if (local is IPostRemoveRouter)
            {
                logger.LogInformation("AI {Ai} runs on the process's backplane ({Router})", ai.Channel.Id, local.GetType().Name);
            }
            else
            {
                logger.LogInformation("AI {Ai} runs in the OTP process", ai.Channel.Id);
            }
        }
        else
        {
            var (host, port) = settings.MessageDirectorEndPoint!.Value;
            try
            {
                ai = await AiRepository.ConnectAsync(host, port, registry, options, logger, cancellationToken).ConfigureAwait(false);
            }
            catch (MessageDirectorRefusedException ex)
            {
                throw new StartupException(
                    StartupError.MessageDirectorRefused,
                    settings.MessageDirector,
                    $"The Message Director at {settings.MessageDirector} refused the AI's link ({(int)ex.Code} {ex.Code}): {ex.Reason}. Fix: give the AI the OTP's secret (Ai:Secret or MessageDirector:Secret; Ai:PrivilegedSecret for a privileged AI) and run both from the same Pastry version.",
                    ex);
            }
            catch (SocketException ex)
            {
                throw new StartupException(
                    StartupError.MessageDirectorUnreachable,
                    settings.MessageDirector,
                    $"The AI cannot reach the Message Director at {settings.MessageDirector}: {ex.Message}. Fix: start the OTP first (pastry serve --role otp), or set Ai:MessageDirector to where it listens.",
                    ex);
            }

            logger.LogInformation("AI {Ai} connected to the Message Director at {Host}:{Port}", ai.Channel.Id, host, port);

            // An AI of this application that died left its objects in the world: take them back before the game spawns
            // its own, so that StartAsync finds them in ai.Objects (and clients see nothing leave or come back). With
            // Ai:TakeOver, the running AI of the application hands its objects over first (a rolling upgrade).
            using var claimTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            claimTimeout.CancelAfter(settings.TakeOver ? TimeSpan.FromMinutes(2) : TimeSpan.FromSeconds(30));
            try
            {
                var restored = settings.TakeOver ? await ai.TakeOverAsync(claimTimeout.Token).ConfigureAwait(false) : await ai.TakeBackAsync(claimTimeout.Token).ConfigureAwait(false);
                if (settings.TakeOver)
                {
                    logger.LogWarning("AI {Ai} took over {Count} object(s) of {App} from the AI that ran it", ai.Channel.Id, restored.Count, application.Name);
                }
                else if (restored.Count > 0)
                {
                    logger.LogWarning("AI {Ai} took back {Count} object(s) that the AI of {App} before it left in the world", ai.Channel.Id, restored.Count, application.Name);
                }
            }
            catch (AiTakeOverRefusedException ex)
            {
                throw new StartupException(
                    StartupError.AiTakeOverRefused,
                    settings.MessageDirector,
                    $"The State Server refused this AI's {(settings.TakeOver ? "take-over" : "claim")} of {application.FullName}'s objects ({(int)ex.Code} {ex.Code}): {ex.Reason}. {(ex.Code is Wire.EjectCode.ApplicationKeyMismatch or Wire.EjectCode.ApplicationKeyRequired ? "Fix: give it the application's Ai:ApplicationKey." : "Fix: check Ai:TakeOver and which AIs of the application run.")}",
                    ex);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (settings.TakeOver)
                {
                    throw new StartupException(StartupError.AiTakeOverRefused, settings.MessageDirector, $"The State Server did not hand {application.FullName}'s objects over within 2 minutes. Fix: check the OTP's log for the hand-over.");
                }

                logger.LogWarning("AI {Ai}: the State Server did not answer the claim of {App}'s objects within 30 s (an OTP of an earlier version?); starting without them", ai.Channel.Id, application.Name);
            }

            // A later AI of the application may take this one over (a rolling upgrade): then this process stops.
            var lifetime = services.GetService<IHostApplicationLifetime>();
            _ = ai.TakenOver.ContinueWith(
                _ =>
                {
                    logger.LogWarning("AI {Ai} handed its objects over to a new AI of {App}; this process stops", ai.Channel.Id, application.Name);
                    lifetime?.StopApplication();
                },
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default);
        }

        if (districts.Count > 0)
        {
            ai.Serve(districts);
            logger.LogInformation("AI {Ai} serves the districts {Districts}", ai.Channel.Id, string.Join(", ", districts));
        }

        var app = (IAiApplication)ActivatorUtilities.CreateInstance(services, application);
        await app.StartAsync(ai, stopping.Token).ConfigureAwait(false);

        // Players who logged out while no AI was there: the game hears it now that it has subscribed; after a take-over,
        // the State Server now delivers what clients sent during the hand-over.
        ai.ResumeRequests();
        started = true;
        logger.LogInformation("AI application {App} started", application.Name);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        if (ai is not null)
        {
            await ai.DisposeAsync().ConfigureAwait(false);
        }

        stopping.Dispose();
    }
}
