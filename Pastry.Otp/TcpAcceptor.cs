using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Pastry.Otp;

/// <summary>
/// A listening socket and its accept loop, shared by the Client Agent and the Message Director's endpoint: it binds
/// (port 0 lets the OS choose), hands every accepted connection to the owner, and stops on dispose.
/// </summary>
internal sealed class TcpAcceptor : IAsyncDisposable
{
    private readonly Socket listener;
    private readonly ILogger logger;
    private readonly string role;
    private readonly Action<Socket> accepted;
    private readonly CancellationTokenSource stop = new();
    private Task loop = Task.CompletedTask;

    /// <summary>Binds to <paramref name="host"/>:<paramref name="port"/> and starts accepting.</summary>
    /// <exception cref="SocketException">The address is in use or cannot be bound.</exception>
    public TcpAcceptor(string host, int port, int backlog, string role, ILogger logger, Action<Socket> accepted)
    {
        this.logger = logger;
        this.role = role;
        this.accepted = accepted;
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(backlog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        loop = Task.Run(AcceptAsync);
        logger.LogInformation("{Role} listening on {Endpoint}", role, LocalEndPoint);
    }

    /// <summary>The bound endpoint, with the real port.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Stops accepting; connections already handed over are the owner's to close.</summary>
    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        listener.Dispose();
        await loop.ConfigureAwait(false);
        stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        // An accept that fails (out of file descriptors, out of memory) would fail again at once: back off, doubling
        // from 10 ms to 1 s, and log once per episode rather than in a hot loop.
        int failures = 0;
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                if (failures++ == 0)
                {
                    logger.LogWarning("{Role}: accept failed: {Message}; backing off until accepting works again", role, ex.Message);
                }

                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 10 << Math.Min(failures - 1, 7))), stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (failures > 0)
            {
                logger.LogWarning("{Role}: accepting again after {Failures} failed accept(s)", role, failures);
                failures = 0;
            }

            socket.NoDelay = true;
            accepted(socket);
        }
    }
}
