using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Pastry.Client;
using Pastry.Otp.ClientAgent;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// TLS on the Client Agent in the test process (the same behaviour <see cref="ClientAgentTlsTests"/> checks against a
/// real <c>pastry</c> process, so that a mutant of <c>ClientAgent.Tls.cs</c> or <see cref="ClientAgentTlsOptions"/>
/// can be killed in process): each refusal of the settings names its key, the certificate is loaded once, and on the
/// wire a TLS client is served, a plain one gets 356 in the clear and a silent one is closed at the deadline.
/// </summary>
[TestClass]
public sealed class ClientAgentTlsSettingsAndHandshakeTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void NoCertificate_IsNoTls_AndValid()
    {
        var options = new ClientAgentTlsOptions { CertificatePath = "  " };

        Assert.IsFalse(options.Enabled, "whitespace is no path");
        options.Validate();
        Assert.IsTrue(new ClientAgentTlsOptions { CertificatePath = "x.pfx" }.Enabled);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    public void AHandshakeTimeoutThatIsNotPositive_IsRefused_NamingTheKey(int seconds)
    {
        var options = new ClientAgentTlsOptions { HandshakeTimeout = TimeSpan.FromSeconds(seconds) };

        var error = Assert.ThrowsExactly<ArgumentException>(options.Validate);

        Assert.AreEqual("ClientAgent:Tls:HandshakeTimeout", error.ParamName);
        new ClientAgentTlsOptions { HandshakeTimeout = TimeSpan.FromTicks(1) }.Validate();
    }

    [TestMethod]
    public void AKeyWithoutACertificate_IsRefused_NamingTheCertificateKey()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(new ClientAgentTlsOptions { KeyPath = "server.key" }.Validate);

        Assert.AreEqual("ClientAgent:Tls:CertificatePath", error.ParamName);
        StringAssert.Contains(error.Message, "KeyPath is set but ClientAgent:Tls:CertificatePath is empty");
    }

    [TestMethod]
    public void AMissingCertificateOrKeyFile_IsRefused_NamingItsKeyAndFullPath()
    {
        var (pfx, cert, key) = WriteCertificates();
        string missing = Path.Combine(Path.GetDirectoryName(pfx)!, "missing.pfx");

        var noCertificate = Assert.ThrowsExactly<ArgumentException>(new ClientAgentTlsOptions { CertificatePath = missing }.Validate);
        var noKey = Assert.ThrowsExactly<ArgumentException>(new ClientAgentTlsOptions { CertificatePath = cert, KeyPath = key + ".gone" }.Validate);

        Assert.AreEqual("ClientAgent:Tls:CertificatePath", noCertificate.ParamName);
        StringAssert.Contains(noCertificate.Message, $"the file '{missing}' does not exist");
        Assert.AreEqual("ClientAgent:Tls:KeyPath", noKey.ParamName);
        StringAssert.Contains(noKey.Message, "does not exist");
    }

    [TestMethod]
    public void AWrongPfxPassword_IsRefused_AsUnreadable_NamingThePasswordAsTheLikelyCause()
    {
        var (pfx, _, _) = WriteCertificates();

        var error = Assert.ThrowsExactly<ArgumentException>(new ClientAgentTlsOptions { CertificatePath = pfx, CertificatePassword = "wrong" }.Validate);

        Assert.AreEqual("ClientAgent:Tls:CertificatePath", error.ParamName);
        StringAssert.Contains(error.Message, "cannot read the TLS certificate");
        StringAssert.Contains(error.Message, "CertificatePassword");
        Assert.IsInstanceOfType<CryptographicException>(error.InnerException);
    }

    [TestMethod]
    public void ACertificateWithoutItsPrivateKey_IsRefused()
    {
        using var certificate = ClientAgentTlsTests.SelfSignedCertificate();
        string path = Path.Combine(Directory.CreateTempSubdirectory("pastry-tls").FullName, "public-only.pfx");
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert));
        File.WriteAllBytes(path, publicOnly.Export(X509ContentType.Pfx, ClientAgentTlsTests.CertificatePassword));

        var error = Assert.ThrowsExactly<ArgumentException>(new ClientAgentTlsOptions { CertificatePath = path, CertificatePassword = ClientAgentTlsTests.CertificatePassword }.Validate);

        StringAssert.Contains(error.Message, "has no private key");
        Assert.AreEqual("ClientAgent:Tls:CertificatePath", error.ParamName);
    }

    [TestMethod]
    public void APfx_AndAPemPair_AndAnEncryptedPemPair_AreLoadedWithTheirKey_OnceUntilASettingChanges()
    {
        var (pfx, cert, key) = WriteCertificates();
        string encryptedKey = Path.Combine(Path.GetDirectoryName(pfx)!, "encrypted.key");
        var fromPfx = new ClientAgentTlsOptions { CertificatePath = pfx, CertificatePassword = ClientAgentTlsTests.CertificatePassword };
        var first = fromPfx.LoadCertificate();
        Assert.IsTrue(first.HasPrivateKey);
        Assert.AreSame(first, fromPfx.LoadCertificate(), "validation at start loads it; the agent reuses it");
        fromPfx.CertificatePath = cert;
        fromPfx.KeyPath = key;
        fromPfx.CertificatePassword = string.Empty;
        var fromPem = fromPfx.LoadCertificate();
        Assert.AreNotSame(first, fromPem, "another source is loaded again");
        Assert.IsTrue(fromPem.HasPrivateKey);
        Assert.AreEqual(first.Thumbprint, fromPem.Thumbprint);

        File.WriteAllText(encryptedKey, PrivateKey(pfx).ExportEncryptedPkcs8PrivateKeyPem("pem-secret".AsSpan(), new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000)));
        var encrypted = new ClientAgentTlsOptions { CertificatePath = cert, KeyPath = encryptedKey, CertificatePassword = "pem-secret" };
        Assert.IsTrue(encrypted.LoadCertificate().HasPrivateKey);
        encrypted.CertificatePassword = "wrong";
        Assert.AreEqual("ClientAgent:Tls:KeyPath", Assert.ThrowsExactly<ArgumentException>(() => encrypted.LoadCertificate()).ParamName);
    }

    [TestMethod]
    public async Task OverTls_AClientIsServed_APlainClientIsEjected356InTheClear()
    {
        using var certificate = ClientAgentTlsTests.SelfSignedCertificate();
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(options =>
        {
            options.ClientAgent.Tls.CertificatePath = ClientAgentTlsTests.WritePfx(certificate);
            options.ClientAgent.Tls.CertificatePassword = ClientAgentTlsTests.CertificatePassword;
        }, logs: logs);

        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, InProcessOtp.Registry, ClientAgentTlsTests.Pinned(certificate)).WaitAsync(Timeout);
        Assert.AreNotEqual(DoId.Empty, client.SessionId, "Hello answered over TLS");

        await using var plain = await RawClient.ConnectAsync(server.ClientEndPoint);
        await plain.HelloAsync(InProcessOtp.Registry.SchemaHash);
        StringAssert.Contains(await plain.ExpectEjectAsync(EjectCode.TlsRequired), "connect with TLS");
        await plain.Closed.Task.WaitAsync(Timeout);
        await logs.WaitForLineAsync(new Regex("Refusing .* with 356 TlsRequired")).WaitAsync(Timeout);
    }

    [TestMethod]
    public async Task ASilentClient_IsClosedAtTheHandshakeDeadline_AndItsSlotIsFreed_AClientThatLeavesAtOnceToo()
    {
        using var certificate = ClientAgentTlsTests.SelfSignedCertificate();
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(options =>
        {
            options.ClientAgent.Tls.CertificatePath = ClientAgentTlsTests.WritePfx(certificate);
            options.ClientAgent.Tls.CertificatePassword = ClientAgentTlsTests.CertificatePassword;
            options.ClientAgent.Tls.HandshakeTimeout = TimeSpan.FromMilliseconds(200);
            options.ClientAgent.MaxConnectionsPerAddress = 1;
        }, logs: logs);

        using (var silent = new TcpClient())
        {
            await silent.ConnectAsync(server.ClientEndPoint);
            Assert.AreEqual(0, await silent.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(Timeout), "the server closes a silent connection");
        }

        await logs.WaitForLineAsync(new Regex("no TLS handshake within 0.2 s")).WaitAsync(Timeout);

        using (var quitter = new TcpClient())
        {
            await quitter.ConnectAsync(server.ClientEndPoint);
            quitter.Client.Shutdown(SocketShutdown.Send);
            await logs.WaitForLineAsync(new Regex("closed before the TLS handshake")).WaitAsync(Timeout);
        }

        // The one slot of 127.0.0.1 is free again each time (a refused connection would get 349 in the clear).
        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, InProcessOtp.Registry, ClientAgentTlsTests.Pinned(certificate)).WaitAsync(Timeout);
        Assert.AreNotEqual(DoId.Empty, client.SessionId);
    }

    [TestMethod]
    public async Task AFailedHandshake_IsLogged_AndTheServerCarriesOn()
    {
        using var certificate = ClientAgentTlsTests.SelfSignedCertificate();
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(options =>
        {
            options.ClientAgent.Tls.CertificatePath = ClientAgentTlsTests.WritePfx(certificate);
            options.ClientAgent.Tls.CertificatePassword = ClientAgentTlsTests.CertificatePassword;
        }, logs: logs);

        using (var garbage = new TcpClient())
        {
            await garbage.ConnectAsync(server.ClientEndPoint);
            var stream = garbage.GetStream();

            // A TLS record header (22, 3) followed by nonsense: it passes the peek, then fails the handshake.
            await stream.WriteAsync(new byte[] { 22, 3, 1, 0, 4, 0xDE, 0xAD, 0xBE, 0xEF });
            await logs.WaitForLineAsync(new Regex("TLS handshake failed")).WaitAsync(Timeout);
        }

        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, InProcessOtp.Registry, ClientAgentTlsTests.Pinned(certificate)).WaitAsync(Timeout);
        Assert.AreNotEqual(DoId.Empty, client.SessionId);
    }

    private static ECDsa PrivateKey(string pfx) =>
        X509CertificateLoader.LoadPkcs12FromFile(pfx, ClientAgentTlsTests.CertificatePassword).GetECDsaPrivateKey()!;

    /// <summary>One self-signed certificate as a PFX, and as a PEM certificate with its PEM key; their paths.</summary>
    private static (string Pfx, string Cert, string Key) WriteCertificates()
    {
        using var certificate = ClientAgentTlsTests.SelfSignedCertificate();
        string pfx = ClientAgentTlsTests.WritePfx(certificate);
        string directory = Path.GetDirectoryName(pfx)!;
        string cert = Path.Combine(directory, "server.crt");
        string key = Path.Combine(directory, "server.key");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (pfx, cert, key);
    }
}
