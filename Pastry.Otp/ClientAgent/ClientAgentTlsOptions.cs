using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// TLS on the Client Agent, bound from the <c>ClientAgent:Tls</c> section of <c>pastry.json</c>. TLS is on when
/// <see cref="CertificatePath"/> is set: a PFX (PKCS#12) file with <see cref="CertificatePassword"/>, or a PEM
/// certificate with its PEM private key in <see cref="KeyPath"/>. Clients then need <c>ClientOptions.UseTls</c>.
/// </summary>
public sealed class ClientAgentTlsOptions
{
    private X509Certificate2? loaded;
    private (string?, string?, string?) loadedFrom;

    /// <summary>The server certificate: a PFX file, or a PEM certificate (chain) when <see cref="KeyPath"/> is set. Empty: no TLS. Default: empty.</summary>
    public string CertificatePath { get; set; } = string.Empty;

    /// <summary>The PFX password, or the password of an encrypted PEM key. Default: empty.</summary>
    public string CertificatePassword { get; set; } = string.Empty;

    /// <summary>The PEM private key of a PEM <see cref="CertificatePath"/>; empty when the certificate is a PFX. Default: empty.</summary>
    public string KeyPath { get; set; } = string.Empty;

    /// <summary>A connection that has not finished its TLS handshake within this time is closed, so a silent client cannot hold a slot. Default: 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether the Client Agent speaks TLS (a certificate is configured).</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the key when a setting is out of range, or when the certificate
    /// is missing, unreadable, or has no private key.
    /// </summary>
    public void Validate()
    {
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("ClientAgent:Tls:HandshakeTimeout must be positive (for example \"00:00:10\").", "ClientAgent:Tls:HandshakeTimeout");
        }

        if (Enabled)
        {
            _ = LoadCertificate();
        }
        else if (!string.IsNullOrWhiteSpace(KeyPath))
        {
            throw new ArgumentException("ClientAgent:Tls:KeyPath is set but ClientAgent:Tls:CertificatePath is empty; set both for a PEM certificate.", "ClientAgent:Tls:CertificatePath");
        }
    }

    /// <summary>The certificate with its private key, loaded once (validation at start loads it, the agent reuses it).</summary>
    internal X509Certificate2 LoadCertificate()
    {
        var source = (CertificatePath, CertificatePassword, KeyPath);
        if (loaded is not null && loadedFrom == source)
        {
            return loaded;
        }

        string key = "ClientAgent:Tls:CertificatePath";
        try
        {
            RequireFile(CertificatePath, key);
            X509Certificate2 certificate;
            if (string.IsNullOrWhiteSpace(KeyPath))
            {
                certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, string.IsNullOrEmpty(CertificatePassword) ? null : CertificatePassword);
            }
            else
            {
                key = "ClientAgent:Tls:KeyPath";
                RequireFile(KeyPath, key);
                certificate = string.IsNullOrEmpty(CertificatePassword)
                    ? X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(CertificatePath, CertificatePassword, KeyPath);
            }

            if (!certificate.HasPrivateKey)
            {
                certificate.Dispose();
                throw new ArgumentException($"{key}: the certificate '{CertificatePath}' has no private key; a server certificate needs one (a PFX with its key, or set ClientAgent:Tls:KeyPath).", key);
            }

            loaded = certificate;
            loadedFrom = source;
            return certificate;
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{key}: cannot read the TLS certificate: {ex.Message} (a wrong ClientAgent:Tls:CertificatePassword also ends here).", key, ex);
        }
    }

    private static void RequireFile(string path, string key)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"{key}: the file '{Path.GetFullPath(path)}' does not exist.", key);
        }
    }
}
