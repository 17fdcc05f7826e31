using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// The WebSocket transport (<c>ClientAgent:WebSocket</c>): a Kestrel listener whose upgraded requests become sessions
/// exactly as accepted sockets do, after the Origin check and the same per-address admission. A binary message carries
/// frames of the TCP protocol, so the one frame reader and the one outbox serve it (through <see cref="WebSocketFrameStream"/>).
/// </summary>
internal sealed partial class ClientAgent
{
    private WebApplication? webSockets;
    private Task? webSocketsStarting;

    /// <summary>The URL browser clients connect to (<c>ws://</c>, or <c>wss://</c> with TLS), with the real port; null while the transport is off or not started.</summary>
    public Uri? WebSocketUrl { get; private set; }

    /// <summary>
    /// Starts the WebSocket listener when <c>ClientAgent:WebSocket:Enabled</c> is set (call it after <see cref="Start"/>;
    /// the hosted OTP does). Does nothing when the transport is off or already started.
    /// </summary>
    /// <exception cref="IOException">The address is in use or cannot be bound.</exception>
    public Task StartWebSocketsAsync(CancellationToken cancellation = default)
    {
        lock (stop)
        {
            return webSocketsStarting ??= StartWebSocketListenerAsync(cancellation);
        }
    }

    private async Task StartWebSocketListenerAsync(CancellationToken cancellation)
    {
        var settings = Options.WebSocket;
        if (!settings.Enabled)
        {
            return;
        }

        string host = string.IsNullOrWhiteSpace(settings.Host) ? Options.Host : settings.Host;
        var address = host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : (await Dns.GetHostAddressesAsync(host, cancellation).ConfigureAwait(false)).First();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>(), ApplicationName = "Pastry.ClientAgent.WebSocket" });
        builder.Logging.ClearProviders();

        // The outer host owns Ctrl+C and SIGTERM (see AdminServer): this inner one only serves requests.
        builder.Services.AddSingleton<IHostLifetime, Pastry.Otp.Hosting.EmbeddedHostLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, settings.Port, listen =>
            {
                if (tls is not null)
                {
                    listen.UseHttps(Options.Tls.LoadCertificate());
                }
            });
        });
        var web = builder.Build();

        // No WebSocket pings: the session's heartbeats (345) already tell a dead connection, on both transports alike.
        web.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        web.Map(settings.Path, AcceptWebSocketAsync);
        if (settings.WebRoot.Length > 0)
        {
            ServeWebRoot(web, settings.WebRoot);
        }

        await web.StartAsync(cancellation).ConfigureAwait(false);
        webSockets = web;
        var bound = new Uri(web.Urls.First());
        WebSocketUrl = new UriBuilder(bound) { Scheme = tls is null ? "ws" : "wss", Path = settings.Path }.Uri;
        Logger.LogInformation("Client Agent WebSocket transport listening on {Url}", WebSocketUrl);
    }

    /// <summary>
    /// Serves <c>ClientAgent:WebSocket:WebRoot</c> at <c>/</c> (index.html for <c>/</c>), with the types a .NET
    /// WebAssembly app loads (<c>.wasm</c>, <c>.dat</c>, <c>.pdb</c>, <c>.blat</c>) and no caching, so that a rebuilt
    /// page is picked up by the next reload. Anything else (no such file) is 404.
    /// </summary>
    private static void ServeWebRoot(WebApplication web, string folder)
    {
        var files = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetFullPath(folder));
        var types = new Microsoft.AspNetCore.StaticFiles.FileExtensionContentTypeProvider();
        types.Mappings[".wasm"] = "application/wasm";
        types.Mappings[".dat"] = "application/octet-stream";
        types.Mappings[".pdb"] = "application/octet-stream";
        types.Mappings[".blat"] = "application/octet-stream";
        web.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        web.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = types,
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
    }

    /// <summary>Stops the WebSocket listener, after the sessions have been told (their requests end with them).</summary>
    private async Task StopWebSocketsAsync()
    {
        if (webSockets is null)
        {
            return;
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await webSockets.StopAsync(deadline.Token).ConfigureAwait(false);
        await webSockets.DisposeAsync().ConfigureAwait(false);
        webSockets = null;
    }

    /// <summary>
    /// One WebSocket request: the Origin check, per-address admission (the refusal is eject 349, as on TCP), then a
    /// session that runs over the upgraded connection; the request lasts as long as the connection.
    /// </summary>
    private async Task AcceptWebSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("This is a Pastry game server's WebSocket endpoint: connect with a WebSocket client (PastryClient.ConnectAsync with a ws:// or wss:// URL).\n").ConfigureAwait(false);
            return;
        }

        var remoteAddress = context.Connection.RemoteIpAddress;
        var remote = remoteAddress is null ? null : new IPEndPoint(remoteAddress, context.Connection.RemotePort);
        string? origin = context.Request.Headers.Origin;
        if (!Options.WebSocket.Allows(origin, $"{context.Request.Scheme}://{context.Request.Host}"))
        {
            // Before any session exists: a page on another site must not act with its visitor's connection.
            Metrics.Ejected(EjectCode.OriginNotAllowed);
            Logger.LogWarning("Refusing a WebSocket from {Remote} with {Code} {CodeName}: origin {Origin} is not in ClientAgent:WebSocket:AllowedOrigins", remote, (int)EjectCode.OriginNotAllowed, EjectCode.OriginNotAllowed, origin);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync($"Origin {origin} may not connect: add it to ClientAgent:WebSocket:AllowedOrigins.\n").ConfigureAwait(false);
            return;
        }

        if (stop.IsCancellationRequested)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        string? refusal = null;
        bool firstRefusal = false;
        if (remoteAddress is not null)
        {
            refusal = addressLimits.TryAdmit(remoteAddress, Environment.TickCount64, out firstRefusal);
        }

        WebSocket socket;
        try
        {
            socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.Zero }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or WebSocketException or InvalidOperationException)
        {
            Logger.LogDebug("WebSocket upgrade from {Remote} failed: {Message}", remote, ex.Message);
            if (refusal is null && remoteAddress is not null)
            {
                addressLimits.Release(remoteAddress);
            }

            return;
        }

        var stream = new WebSocketFrameStream(socket, Options.WebSocket.MaxMessageBytes, Options.WebSocket.MaxSendMessageBytes);
        if (refusal is not null)
        {
            if (firstRefusal)
            {
                Logger.LogWarning("Refusing connections with {Code} {CodeName}: {Reason} (logged once until the address is admitted again)", (int)EjectCode.NotAdmitted, EjectCode.NotAdmitted, refusal);
            }

            Metrics.Ejected(EjectCode.NotAdmitted);
            await RefuseAsync(stream, refusal).ConfigureAwait(false);
            return;
        }

        var connection = new WebSocketConnection(stream);
        StartSession(connection, stream, remote);
        await connection.Ended.ConfigureAwait(false);
    }

    /// <summary>Sends eject 349 with <paramref name="reason"/> over a WebSocket that was not admitted, and closes it.</summary>
    private static async Task RefuseAsync(WebSocketFrameStream stream, string reason)
    {
        using var frame = new PooledBufferWriter(128);
        ClientFrames.WriteEject(frame, EjectCode.NotAdmitted, reason);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await stream.WriteAsync(frame.WrittenMemory, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }

        await stream.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
    }

    /// <summary>
    /// A session's WebSocket connection: disposing it closes the WebSocket (a close frame, then abort) and lets its
    /// HTTP request finish, which Kestrel holds open until then.
    /// </summary>
    private sealed class WebSocketConnection(WebSocketFrameStream stream) : IDisposable
    {
        private readonly TaskCompletionSource ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the connection is closed.</summary>
        public Task Ended => ended.Task;

        public void Dispose() => _ = CloseAsync();

        private async Task CloseAsync()
        {
            try
            {
                await stream.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
            finally
            {
                ended.TrySetResult();
            }
        }
    }
}
