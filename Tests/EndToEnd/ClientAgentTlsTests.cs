using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// TLS on the Client Agent against a real <c>pastry serve --role otp</c> process (issue 12, item 8): the whole
/// login, interest and update flow through the client library over TLS, a plain client refused with 356, a silent
/// client closed at the handshake deadline, and a clear start-up error for a missing certificate. The certificate is
/// self-signed, made at test time; the client pins it by thumbprint instead of trusting the system's roots.
/// </summary>
[TestClass]
public sealed class ClientAgentTlsTests
{
    internal const string CertificatePassword = "tavern-keeper";
    private static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task OverTls_AClientLogsIn_OpensInterest_SeesAnUpdate_AndTheAiHearsItsSet()
    {
        using var certificate = SelfSignedCertificate();
        string pfx = WritePfx(certificate);
        var (otp, clients, director) = await PastryProcess.StartOtpAsync("--ClientAgent:Tls:CertificatePath", pfx, "--ClientAgent:Tls:CertificatePassword", CertificatePassword);
        await using var _ = otp;
        var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        await using var __ = link;
        var ai = new TestAi(link);
        var realm = ai.Create(new Realm { Title = "Secure realm" }, DoId.Empty, 0);
        var knight = ai.Create(new Knight { Name = "Galahad", X = 1 }, realm.DoId, 3);
        await link.FlushAsync();

        await using var client = await PastryClient.ConnectAsync("127.0.0.1", clients.Port, Registry, Pinned(certificate));
        await client.CreateAccountAsync("galahad", "correct horse battery");
        await client.LoginAsync("galahad", "correct horse battery");
        var seen = client.Of<Knight>().Created.FirstAsync(k => k.DoId == knight.DoId).ToTask();
        await client.AddInterestAsync(realm.DoId, 3);
        var inView = await seen.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.AreEqual("Galahad", inView.Name);

        var updated = client.Of<Knight>().Updated.FirstAsync(c => c.Target.DoId == knight.DoId && c.Field.Name == nameof(Knight.X)).ToTask();
        knight.X = 42;
        ai.Set(knight, nameof(Knight.X));
        await link.FlushAsync();
        await updated.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.AreEqual(42, inView.X, "The AI's update arrived over TLS.");

        inView.X = 7;
        var heard = TestAi.ReadClientSet(await ai.ExpectAsync(InternalMessageType.ClientSetField), knight.Model);
        Assert.AreEqual((knight.DoId, client.AccountId), (heard.Id, heard.Account), "The client's set reached the AI through TLS.");
        CollectionAssert.AreEqual(new[] { ("X", (object?)7) }, heard.Values);
        StringAssert.Contains(otp.Output, "OTP ready");
    }

    [TestMethod]
    public async Task OverTls_APemCertificateAndKey_Serve()
    {
        using var certificate = SelfSignedCertificate();
        string directory = Directory.CreateTempSubdirectory("pastry-tls").FullName;
        string cert = Path.Combine(directory, "server.crt");
        string key = Path.Combine(directory, "server.key");
        await File.WriteAllTextAsync(cert, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:Tls:CertificatePath", cert, "--ClientAgent:Tls:KeyPath", key);
        await using var _ = otp;

        await using var client = await PastryClient.ConnectAsync("127.0.0.1", clients.Port, Registry, Pinned(certificate));
        Assert.AreNotEqual(DoId.Empty, client.SessionId, "Hello answered over TLS with a PEM certificate.");
        await client.CreateAccountAsync("pem", "correct horse battery");
        Assert.AreNotEqual(DoId.Empty, await client.LoginAsync("pem", "correct horse battery"));
    }

    [TestMethod]
    public async Task APlainClient_AgainstTheTlsPort_IsEjected356_InTheClear()
    {
        using var certificate = SelfSignedCertificate();
        var (otp, clients, _) = await PastryProcess.StartOtpAsync("--ClientAgent:Tls:CertificatePath", WritePfx(certificate), "--ClientAgent:Tls:CertificatePassword", CertificatePassword);
        await using var _ = otp;
        await using var plain = await RawClient.ConnectAsync(clients);

        await plain.HelloAsync(Registry.SchemaHash);

        StringAssert.Contains(await plain.ExpectEjectAsync(EjectCode.TlsRequired), "TLS");
        await plain.Closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await otp.WaitForLineAsync(new Regex("with 356 TlsRequired"));

        var error = await Assert.ThrowsAsync<ClientEjectedException>(() => PastryClient.ConnectAsync("127.0.0.1", clients.Port, Registry));
        Assert.AreEqual((int)EjectCode.TlsRequired, error.Code, "The client library reports the refusal as an eject, not as garbage.");
    }

    [TestMethod]
    public async Task ASilentClient_IsClosedAtTheHandshakeDeadline_AndItsSlotIsFreed_WhileABystanderIsServed()
    {
        using var certificate = SelfSignedCertificate();
        var (otp, clients, _) = await PastryProcess.StartOtpAsync(
            "--ClientAgent:Tls:CertificatePath", WritePfx(certificate), "--ClientAgent:Tls:CertificatePassword", CertificatePassword,
            "--ClientAgent:Tls:HandshakeTimeout", "00:00:01", "--ClientAgent:MaxConnectionsPerAddress", "2");
        await using var _ = otp;

        // Two silent connections from 127.0.0.3 fill that address's slots; they say nothing, not even a ClientHello.
        var attacker = IPAddress.Parse("127.0.0.3");
        using var silent1 = new TcpClient(new IPEndPoint(attacker, 0));
        using var silent2 = new TcpClient(new IPEndPoint(attacker, 0));
        await silent1.ConnectAsync(clients.Address, clients.Port);
        await silent2.ConnectAsync(clients.Address, clients.Port);
        var timer = Stopwatch.StartNew();
        await using var bystander = await PastryClient.ConnectAsync("127.0.0.1", clients.Port, Registry, Pinned(certificate));
        await bystander.CreateAccountAsync("bystander", "correct horse battery");
        await bystander.LoginAsync("bystander", "correct horse battery");
        double roundTripMs = timer.Elapsed.TotalMilliseconds;

        Assert.AreEqual(0, await silent1.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(15)), "The server closes a silent connection.");
        Assert.AreEqual(0, await silent2.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(15)));
        await otp.WaitForLineAsync(new Regex("no TLS handshake within 1 s"));

        // Their slots are free again: a TLS handshake from the same address succeeds (a refused one would get 349 in the clear).
        using var again = new TcpClient(new IPEndPoint(attacker, 0));
        await again.ConnectAsync(clients.Address, clients.Port);
        await using var tls = new SslStream(again.GetStream(), false, Pinned(certificate).TlsCertificateValidation);
        await tls.AuthenticateAsClientAsync("localhost").WaitAsync(TimeSpan.FromSeconds(15));
        Assert.IsTrue(tls.IsAuthenticated);
        TestContext.WriteLine($"RELIABILITY: silent TLS clients holding an address's slots: bystander connect+TLS+create+login {roundTripMs:0} ms");
    }

    [TestMethod]
    public async Task Serve_WithAMissingCertificate_Exits2_NamingTheKey()
    {
        await using var otp = PastryProcess.Start("serve", "--role", "otp", "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Database:Path", string.Empty, "--ClientAgent:Tls:CertificatePath", "/nonexistent/server.pfx");
        Assert.AreEqual(2, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, "ClientAgent:Tls:CertificatePath: the file '/nonexistent/server.pfx' does not exist");
    }

    [TestMethod]
    public async Task Serve_WithAWrongCertificatePassword_Exits2_NamingTheKey()
    {
        using var certificate = SelfSignedCertificate();
        await using var otp = PastryProcess.Start("serve", "--role", "otp", "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Database:Path", string.Empty, "--ClientAgent:Tls:CertificatePath", WritePfx(certificate), "--ClientAgent:Tls:CertificatePassword", "wrong");
        Assert.AreEqual(2, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, "ClientAgent:Tls:CertificatePath: cannot read the TLS certificate");
    }

    /// <summary>A self-signed server certificate for localhost and 127.0.0.1 (ECDSA P-256), valid for a day.</summary>
    internal static X509Certificate2 SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new("1.3.6.1.5.5.7.3.1") }, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>Writes <paramref name="certificate"/> with its key as a password-protected PFX and returns its path.</summary>
    internal static string WritePfx(X509Certificate2 certificate)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("pastry-tls").FullName, "server.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, CertificatePassword));
        return path;
    }

    /// <summary>Client options that speak TLS and trust exactly <paramref name="certificate"/> (pinned by thumbprint).</summary>
    internal static ClientOptions Pinned(X509Certificate2 certificate)
    {
        string thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        return new ClientOptions
        {
            UseTls = true,
            TlsTargetHost = "localhost",
            TlsCertificateValidation = (_, presented, _, _) => presented is not null && presented.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint,
        };
    }
}
