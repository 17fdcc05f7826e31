using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

/// <summary>TLS on the Client Agent: the handshake between accept and session, with its timeout and its refusals.</summary>
internal sealed partial class ClientAgent
{
    /// <summary>The first byte of every TLS record that opens a handshake (content type 22).</summary>
    private const byte TlsHandshakeRecord = 0x16;

    private readonly SslServerAuthenticationOptions? tls;

    /// <summary>The server's TLS settings, or null when TLS is off: TLS 1.2 and 1.3 only, no client certificate.</summary>
    private SslServerAuthenticationOptions? CreateTlsOptions()
    {
        if (!Options.Tls.Enabled)
        {
            return null;
        }

        var certificate = Options.Tls.LoadCertificate();
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        };
    }

    /// <summary>
    /// Runs the TLS handshake of an admitted connection, then starts its session over the TLS stream. A client that
    /// stays silent past <see cref="ClientAgentTlsOptions.HandshakeTimeout"/>, or fails the handshake, is closed with a
    /// log line; one that sends plain Pastry frames gets eject 356 in the clear. Either way its address slot is freed.
    /// </summary>
    private async Task HandshakeAsync(Socket socket, IPAddress? address, SslServerAuthenticationOptions options)
    {
        string remote = socket.RemoteEndPoint?.ToString() ?? "?";
        var stream = new NetworkStream(socket, ownsSocket: true);
        SslStream? ssl = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        deadline.CancelAfter(Options.Tls.HandshakeTimeout);
        string? failure;
        try
        {
            // Peek: a TLS handshake record starts 22, 3 (content type, major version); a Pastry frame with its length.
            var first = new byte[2];
            int peeked = await socket.ReceiveAsync(first, SocketFlags.Peek, deadline.Token).ConfigureAwait(false);
            if (peeked > 0 && (first[0] != TlsHandshakeRecord || (peeked == 2 && first[1] != 3)))
            {
                Metrics.Ejected(EjectCode.TlsRequired);
                Logger.LogInformation("Refusing {Remote} with {Code} {CodeName}: it sent plain frames to the TLS port", remote, (int)EjectCode.TlsRequired, EjectCode.TlsRequired);
                using var frame = new PooledBufferWriter(128);
                ClientFrames.WriteEject(frame, EjectCode.TlsRequired, "this server speaks TLS on this port; connect with TLS (ClientOptions.UseTls)");
                await stream.WriteAsync(frame.WrittenMemory, deadline.Token).ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Send);
                failure = null;
            }
            else if (peeked == 0)
            {
                failure = "closed before the TLS handshake";
            }
            else
            {
                ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsServerAsync(options, deadline.Token).ConfigureAwait(false);
                Logger.LogDebug("{Remote}: TLS {Protocol} {Cipher}", remote, ssl.SslProtocol, ssl.NegotiatedCipherSuite);
                StartSession(socket, ssl, socket.RemoteEndPoint as IPEndPoint);
                return;
            }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            failure = $"no TLS handshake within {Options.Tls.HandshakeTimeout.TotalSeconds:0.#} s";
        }
        catch (OperationCanceledException)
        {
            failure = "the server is stopping";
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or SocketException or ObjectDisposedException)
        {
            failure = $"TLS handshake failed: {ex.Message}";
        }

        if (failure is not null)
        {
            Logger.LogInformation("Closing {Remote}: {Failure}", remote, failure);
        }

        // The slot is free before the client sees the close: whoever it tells may connect again at once.
        if (address is not null)
        {
            addressLimits.Release(address);
        }

        if (ssl is not null)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
        }

        await stream.DisposeAsync().ConfigureAwait(false);
    }
}
