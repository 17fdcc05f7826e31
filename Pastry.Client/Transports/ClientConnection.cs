using System.Net.Sockets;
using System.Net.WebSockets;
using Pastry.Wire;

namespace Pastry.Client.Transports;

/// <summary>Where a client connects: a TCP host and port (TLS by <see cref="ClientOptions.UseTls"/>), or a WebSocket URL.</summary>
internal sealed class ServerAddress
{
    private ServerAddress(string host, int port, Uri? webSocketUrl)
    {
        Host = host;
        Port = port;
        WebSocketUrl = webSocketUrl;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>The <c>ws://</c> or <c>wss://</c> URL, or null for TCP.</summary>
    public Uri? WebSocketUrl { get; }

    public static ServerAddress Tcp(string host, int port) => new(host, port, null);

    /// <summary>A server address from a URL: <c>ws://</c> or <c>wss://</c> (WebSocket), or <c>tcp://host:port</c>.</summary>
    /// <exception cref="ArgumentException">Another scheme, or a tcp URL without a port.</exception>
    public static ServerAddress FromUrl(Uri url)
    {
        if (url is null)
        {
            throw new ArgumentNullException(nameof(url));
        }

        switch (url.Scheme)
        {
            case "ws":
            case "wss":
                return new ServerAddress(url.Host, url.Port, url);
            case "tcp" when url.Port > 0:
                return new ServerAddress(url.Host, url.Port, null);
            default:
                throw new ArgumentException($"The server URL {url} must be ws://host:port/path or wss://host:port/path (WebSocket), or tcp://host:port.", nameof(url));
        }
    }

    public override string ToString() => WebSocketUrl?.ToString() ?? $"{Host}:{Port}";
}

/// <summary>
/// One connection to the Client Agent: the stream the frame reader and the outbox use, and what closes it (a TCP
/// socket, or a WebSocket whose binary messages carry the frames). Opening is async all the way, without a thread of
/// its own, so that it also runs in browser WebAssembly (WebSocket only there).
/// </summary>
internal sealed class ClientConnection : IDisposable
{
    /// <summary>The most bytes of frames the client puts in one WebSocket message (whole frames; the server accepts 1 MiB by default).</summary>
    private const int WebSocketMessageBytes = 64 * 1024;

    private readonly TcpClient? tcp;
    private readonly WebSocket? webSocket;

    private ClientConnection(TcpClient? tcp, WebSocket? webSocket, Stream stream)
    {
        this.tcp = tcp;
        this.webSocket = webSocket;
        Stream = stream;
    }

    public Stream Stream { get; }

    /// <summary>Connects to <paramref name="address"/>: TCP (with TLS when asked) or WebSocket, within the request timeout.</summary>
    public static async Task<ClientConnection> OpenAsync(ServerAddress address, ClientOptions options, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(options.RequestTimeout);
        try
        {
            return address.WebSocketUrl is { } url
                ? await OpenWebSocketAsync(url, options, deadline.Token).ConfigureAwait(false)
                : await OpenTcpAsync(address, options, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {address} took longer than {options.RequestTimeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>Drops the connection as a network failure would (no close handshake).</summary>
    public void Drop()
    {
        if (tcp is not null)
        {
            tcp.Client.Close(0);
        }
        else
        {
            webSocket!.Abort();
        }
    }

    public void Dispose()
    {
        tcp?.Dispose();
        webSocket?.Dispose();
    }

    /// <summary>Whether this runs in browser WebAssembly, where the browser owns the WebSocket (only ws/wss, no socket options).</summary>
    internal static bool InBrowser { get; } = System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Create("BROWSER"));

    private static async Task<ClientConnection> OpenWebSocketAsync(Uri url, ClientOptions options, CancellationToken cancellation)
    {
        var socket = new ClientWebSocket();
        try
        {
            // Pings are the server's business: the session's heartbeats already tell a dead connection. A browser
            // sends no pings and refuses the setting (PlatformNotSupportedException), like the certificate callback.
            if (!InBrowser)
            {
                socket.Options.KeepAliveInterval = TimeSpan.Zero;
            }

            if (options.TlsCertificateValidation is { } validate)
            {
                // Not in browsers (the browser validates); set only when asked.
                socket.Options.RemoteCertificateValidationCallback = validate;
            }

            await socket.ConnectAsync(url, cancellation).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new ClientConnection(null, socket, new WebSocketFrameStream(socket, maxReadMessageBytes: 0, WebSocketMessageBytes, receiveBufferBytes: 64 * 1024));
    }

    private static async Task<ClientConnection> OpenTcpAsync(ServerAddress address, ClientOptions options, CancellationToken cancellation)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            var connect = tcp.ConnectAsync(address.Host, address.Port);
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellation.Register(static state => ((TaskCompletionSource<bool>)state!).TrySetResult(true), cancelled))
            {
                // netstandard2.1's ConnectAsync takes no token: the wait ends with the deadline, the socket with the catch.
                await Task.WhenAny(connect, cancelled.Task).ConfigureAwait(false);
            }

            cancellation.ThrowIfCancellationRequested();
            await connect.ConfigureAwait(false);
            var stream = options.UseTls ? await AuthenticateAsync(tcp.GetStream(), address.Host, options, cancellation).ConfigureAwait(false) : tcp.GetStream();
            return new ClientConnection(tcp, null, stream);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the TLS handshake over <paramref name="network"/>: TLS 1.2 or 1.3 as the platform offers, the server's
    /// certificate checked by the system or by <see cref="ClientOptions.TlsCertificateValidation"/>.
    /// </summary>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The handshake failed or the certificate was not trusted.</exception>
    private static async Task<Stream> AuthenticateAsync(NetworkStream network, string host, ClientOptions options, CancellationToken cancellation)
    {
        var ssl = new System.Net.Security.SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            // SslProtocols.None lets the platform choose its best (1.3 where it has it); the server refuses below 1.2.
            await ssl.AuthenticateAsClientAsync(
                new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = options.TlsTargetHost ?? host,
                    EnabledSslProtocols = System.Security.Authentication.SslProtocols.None,
                    RemoteCertificateValidationCallback = options.TlsCertificateValidation,
                },
                cancellation).ConfigureAwait(false);
            return ssl;
        }
        catch
        {
            ssl.Dispose();
            throw;
        }
    }
}
