using System.Net;
using System.Text.RegularExpressions;

namespace Pastry.Tests.EndToEnd;

/// <summary>The Knight game run as real processes: either OTP and AI apart (<c>--role otp</c> + <c>--role ai</c>) or together (<c>--role all</c>).</summary>
public sealed class Deployment : IAsyncDisposable
{
    private Deployment(PastryProcess server, PastryProcess? ai, IPEndPoint clients)
    {
        Server = server;
        Ai = ai;
        Clients = clients;
    }

    public PastryProcess Server { get; }

    /// <summary>The separate AI process, in split mode.</summary>
    public PastryProcess? Ai { get; }

    public IPEndPoint Clients { get; }

    public static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);

    public static async Task<Deployment> StartAsync(string mode)
    {
        if (mode == "all")
        {
            var all = PastryProcess.Start(
                "serve", "--role", "all", "--app", typeof(Knight).Assembly.Location,
                "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000", "--Ai:Application", nameof(KnightAiApp), "--Database:Path", string.Empty);
            var endpoint = await all.WaitForLineAsync(new Regex("Client Agent listening on (\\S+:\\d+)"));
            await all.WaitForLineAsync(new Regex("AI application KnightAiApp started"));
            return new Deployment(all, null, IPEndPoint.Parse(endpoint.Groups[1].Value));
        }

        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        var ai = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp));
        await ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"));
        return new Deployment(otp, ai, clients);
    }

    public async ValueTask DisposeAsync()
    {
        if (Ai is not null)
        {
            await Ai.DisposeAsync();
        }

        await Server.DisposeAsync();
    }
}
