using System.Net;
using System.Text.RegularExpressions;

namespace Pastry.Tests.EndToEnd;

/// <summary>The Knight game run as real processes: either OTP and AI apart (<c>--role otp</c> + <c>--role ai</c>) or together (<c>--role all</c>).</summary>
public sealed class Deployment : IAsyncDisposable
{
    private Deployment(PastryProcess server, PastryProcess? ai, IPEndPoint clients, Nats.NatsServer? nats = null, Uri? webSocketUrl = null)
    {
        Server = server;
        Ai = ai;
        Clients = clients;
        Nats = nats;
        WebSocketUrl = webSocketUrl;
    }

    /// <summary>The nats-server of the "nats" mode, which the OTP and the AI process share instead of the MD's TCP link.</summary>
    public Nats.NatsServer? Nats { get; }

    /// <summary>
    /// The settings of a process on the NATS backplane of <paramref name="nats"/>: heartbeats every 200 ms and a node
    /// timeout of 1.5 s, so that a killed AI is cleaned up quickly.
    /// </summary>
    public static string[] NatsSettings(Nats.NatsServer nats) =>
        ["--MessageDirector:Backplane", "nats", "--Nats:Url", nats.Url, "--Nats:HeartbeatInterval", "00:00:00.200", "--Nats:NodeTimeout", "00:00:01.500"];

    /// <summary>The Client Agent's WebSocket URL in the "all-ws" mode (clients then connect over WebSocket), else null.</summary>
    public Uri? WebSocketUrl { get; }

    public PastryProcess Server { get; }

    /// <summary>The separate AI process, in split mode.</summary>
    public PastryProcess? Ai { get; }

    public IPEndPoint Clients { get; }

    /// <summary>Where the OTP's Message Director listens, in split mode.</summary>
    public IPEndPoint? MessageDirector { get; private init; }

    /// <summary>The link secret of the "split-secret" and "split-privileged" modes.</summary>
    public const string LinkSecret = "knight link secret 0123456789";

    /// <summary>The privileged secret of those modes.</summary>
    public const string PrivilegedSecret = "knight privileged secret 0123456789";

    /// <summary>The Knight application's <c>Ai:ApplicationKey</c>: required of a participant AI where links use a secret (396).</summary>
    public const string ApplicationKey = "knight application key";

    public static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);

    public static async Task<Deployment> StartAsync(string mode, params string[] otpSettings)
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
            return new Deployment(all, null, IPEndPoint.Parse(endpoint.Groups[1].Value), webSocketUrl: url);
        }

        if (mode == "nats")
        {
            // OTP and AI apart, talking only through a real nats-server (the AI is given no Message Director address).
            var nats = await global::Pastry.Tests.Nats.NatsServer.StartAsync();
            var (natsOtp, natsClients, _) = await PastryProcess.StartOtpAsync([.. NatsSettings(nats), .. otpSettings]);
            await natsOtp.WaitForLineAsync(new Regex("NATS backplane connected"));
            var natsAi = PastryProcess.Start(["serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:Application", nameof(KnightAiApp), "--Admin:Enabled", "false", .. NatsSettings(nats)]);
            await natsAi.WaitForLineAsync(new Regex("AI application KnightAiApp started"));
            return new Deployment(natsOtp, natsAi, natsClients, nats);
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
            aiSecrets["PASTRY_Ai__ApplicationKey"] = ApplicationKey;
        }

        var (otp, clients, director) = await PastryProcess.StartOtpAsync(otpSecrets, otpSettings);
        var ai = PastryProcess.StartDll(PastryProcess.PastryDll, aiSecrets, "serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp));
        await ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"));
        return new Deployment(otp, ai, clients) { MessageDirector = director };
    }

    public async ValueTask DisposeAsync()
    {
        if (Ai is not null)
        {
            await Ai.DisposeAsync();
        }

        await Server.DisposeAsync();
        if (Nats is not null)
        {
            await Nats.DisposeAsync();
        }
    }
}
