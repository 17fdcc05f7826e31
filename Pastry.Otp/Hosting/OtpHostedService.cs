using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pastry.Hosting;

namespace Pastry.Otp.Hosting;

/// <summary>
/// Starts the container's <see cref="OtpServer"/> with the host and disposes it when the host stops (sessions are
/// ejected with 154). A listener that cannot bind becomes one <see cref="StartupException"/> naming the address and the key to change.
/// </summary>
internal sealed class OtpHostedService(OtpServer server, IOptions<OtpOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            server.Start();
        }
        catch (SocketException ex)
        {
            // The Message Director binds first: when it has no endpoint yet, it is the one that failed.
            bool directorFailed = server.MessageDirector.LocalEndPoint is null;
            string role = directorFailed ? "Message Director" : "Client Agent";
            string section = directorFailed ? "MessageDirector" : "ClientAgent";
            string address = directorFailed
                ? $"{options.Value.MessageDirector.Host}:{options.Value.MessageDirector.Port}"
                : $"{options.Value.ClientAgent.Host}:{options.Value.ClientAgent.Port}";
            string fix = ex.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? $"stop the process that uses it, or choose another port with {section}:Port (0 lets the OS choose)"
                : $"set {section}:Host to an address of this machine (127.0.0.1 for loopback)";
            await server.DisposeAsync().ConfigureAwait(false);
            throw new StartupException(StartupError.CannotListen, address, $"The {role} cannot listen on {address}: {ex.Message}. Fix: {fix}.", ex);
        }

        try
        {
            await server.ClientAgent.StartWebSocketsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            var ws = options.Value.ClientAgent.WebSocket;
            string address = $"{(string.IsNullOrWhiteSpace(ws.Host) ? options.Value.ClientAgent.Host : ws.Host)}:{ws.Port}";
            await server.DisposeAsync().ConfigureAwait(false);
            throw new StartupException(StartupError.CannotListen, address, $"The Client Agent's WebSocket transport cannot listen on {address}: {ex.Message}. Fix: choose another port with ClientAgent:WebSocket:Port (0 lets the OS choose), or set ClientAgent:WebSocket:Enabled false.", ex);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await server.DisposeAsync().ConfigureAwait(false);
}
