using System.Net;
using System.Text.RegularExpressions;

namespace Pastry.Tests.EndToEnd;

/// <summary>The Knight game run as real processes: either OTP and AI apart (<c>--role otp</c> + <c>--role ai</c>) or together (<c>--role all</c>).</summary>
public sealed class Deployment : IAsyncDisposable
{
    private Deployment(PastryProcess server, PastryProcess? ai, IPEndPoint clients, Uri? webSocketUrl = null)
    {
        Server = server;
        Ai = ai;
        Clients = clients;
        WebSocketUrl = webSocketUrl;
    }

    /// <summary>The Client Agent's WebSocket URL in the "all-ws" mode (clients then connect over WebSocket), else null.</summary>
    public Uri? WebSocketUrl { get; }

    public PastryProcess Server { get; }

    /// <summary>The separate AI process, in split mode.</summary>
    public PastryProcess? Ai { get; }

    public IPEndPoint Clients { get; }

    /// <summary>The link secret of the "split-secret" and "split-privileged" modes.</summary>
    public const string LinkSecret = "knight link secret 0123456789";

    /// <summary>The privileged secret of those modes.</summary>
    public const string PrivilegedSecret = "knight privileged secret 0123456789";

    public static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);

    public static async Task<Deployment> StartAsync(string mode)
    {
        if (mode is "all" or "all-ws")
        {
            // "all-ws": the same single process, with the WebSocket transport on, and the clients use it.
            string[] webSocket = mode == "all-ws" ? ["--ClientAgent:WebSocket:Enabled", "true", "--ClientAgent:WebSocket:Port", "0"] : [];
            var all = PastryProcess.Start(
                ["serve", "--role", "all", "--app", typeof(Knight).Assembly.Location,
                "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Accounts:Pbkdf2Iterations", "1000", "--Ai:Application", nameof(KnightAiApp), "--Database:Path", string.Empty, .. webSocket]);
            var endpoint = await all.WaitForLineAsync(new Regex("Client Agent listening on (\\S+:\\d+)"));
            Uri? url = null;
            if (mode == "all-ws")
            {
                url = new Uri((await all.WaitForLineAsync(new Regex("WebSocket transport listening on (ws://\\S+)"))).Groups[1].Value);
            }

            await all.WaitForLineAsync(new Regex("AI application KnightAiApp started"));
            return new Deployment(all, null, IPEndPoint.Parse(endpoint.Groups[1].Value), url);
        }

        // "split-secret": the OTP requires a link secret and the AI proves it (a participant, limited to its own
        // objects); "split-privileged": the AI proves the privileged secret instead. Secrets travel as environment
        // variables, as an operator would keep them out of the command line.
        var otpSecrets = new Dictionary<string, string>();
        var aiSecrets = new Dictionary<string, string>();
        if (mode is "split-secret" or "split-privileged")
        {
            otpSecrets["PASTRY_MessageDirector__Secret"] = LinkSecret;
            otpSecrets["PASTRY_MessageDirector__PrivilegedSecret"] = PrivilegedSecret;
            aiSecrets[mode == "split-secret" ? "PASTRY_Ai__Secret" : "PASTRY_Ai__PrivilegedSecret"] = mode == "split-secret" ? LinkSecret : PrivilegedSecret;
        }

        var (otp, clients, director) = await PastryProcess.StartOtpAsync(otpSecrets);
        var ai = PastryProcess.StartDll(PastryProcess.PastryDll, aiSecrets, "serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp));
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
