using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Otp;

namespace Pastry.Tests.EndToEnd;

/// <summary>An OTP server in the test process, on OS-assigned loopback ports, with the test models.</summary>
public static class InProcessOtp
{
    public static ModelRegistry Registry { get; } = ModelRegistry.FromTypes(new[] { typeof(Realm), typeof(Knight) });

    public static OtpServer Start(Action<OtpOptions>? configure = null, Pastry.Otp.ClientAgent.IInterestPolicy? policy = null, ModelRegistry? registry = null, Microsoft.Extensions.Logging.ILoggerFactory? logs = null)
    {
        var options = new OtpOptions();
        options.ClientAgent.Port = 0;
        options.MessageDirector.Port = 0;
        options.Accounts.Pbkdf2Iterations = 1_000;
        options.Database.Path = string.Empty; // in memory unless a test configures a file

        // Every test client connects from 127.0.0.1; HostileClientTests exercise the per-address limits on a real process.
        options.ClientAgent.MaxConnectionsPerAddress = 100_000;
        options.ClientAgent.MaxNewConnectionsPerSecondPerAddress = 100_000;
        configure?.Invoke(options);
        var server = new OtpServer(registry ?? Registry, options, logs ?? NullLoggerFactory.Instance, interestPolicy: policy);
        server.Start();
        return server;
    }

    /// <summary>A server whose clients connect over <paramref name="transport"/> (see <see cref="ConnectClientAsync"/>).</summary>
    public static OtpServer Start(Transport transport, Action<OtpOptions>? configure = null) =>
        Start(options => { UseTransport(options, transport); configure?.Invoke(options); });

    /// <summary>Connects the client library over <paramref name="transport"/>: TCP by host and port, WebSocket by the ws:// URL.</summary>
    public static async Task<Pastry.Client.PastryClient> ConnectClientAsync(OtpServer server, Transport transport, ModelRegistry registry, Pastry.Client.ClientOptions? options = null) =>
        transport == Transport.Tcp
            ? await Pastry.Client.PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, registry, options)
            : await Pastry.Client.PastryClient.ConnectAsync(await WebSocketUrlAsync(server), registry, options);

    /// <summary>Turns on the WebSocket transport on an OS-assigned loopback port when <paramref name="transport"/> asks for it.</summary>
    public static void UseTransport(OtpOptions options, Transport transport)
    {
        if (transport == Transport.WebSocket)
        {
            options.ClientAgent.WebSocket.Enabled = true;
            options.ClientAgent.WebSocket.Port = 0;
        }
    }

    /// <summary>The server's WebSocket URL, starting its listener first if it is not running yet.</summary>
    public static async Task<Uri> WebSocketUrlAsync(OtpServer server)
    {
        await server.ClientAgent.StartWebSocketsAsync();
        return server.ClientAgent.WebSocketUrl ?? throw new InvalidOperationException("The WebSocket transport is off (ClientAgent:WebSocket:Enabled).");
    }
}
