using System.Net;
using System.Text.RegularExpressions;
using Pastry.Otp.ClientAgent;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// What the Client Agent does with a TCP connection before any session exists, against an in-process OTP over real
/// loopback sockets: the file-descriptor reserve and the per-address limit refuse it with 349 on the wire, count it,
/// and log the refusal once per run of refusals; and the WebSocket listener's web root serves a browser app's files.
/// Written from mutation testing (TESTING.md): only process tests reached these paths.
/// </summary>
[TestClass]
public sealed class ClientAgentAdmissionTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task AReserveAsLargeAsTheDescriptorLimit_RefusesEveryConnection_With349_LoggingItOnce()
    {
        if (FileDescriptorBudget.ReadOpenFilesLimit() is not { } limit || limit > int.MaxValue)
        {
            Assert.Inconclusive("The open-files limit is not known here (it is read from /proc/self/limits on Linux).");
            return;
        }

        // Every descriptor is within the last FileDescriptorReserve of the limit, so no connection is admitted.
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(o => o.ClientAgent.FileDescriptorReserve = (int)limit, logs: logs);
        string expected = $"the server is out of connections (its file-descriptor limit {limit}, ulimit -n, less {limit} kept for itself by ClientAgent:FileDescriptorReserve); try again later";

        for (int i = 0; i < 2; i++)
        {
            await using var refused = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
            Assert.AreEqual(expected, await refused.ExpectEjectAsync(EjectCode.NotAdmitted));
        }

        var warning = new Regex($@"^Refusing connections with 349 NotAdmitted: a new connection took descriptor \d+, within the last {limit} of the limit {limit} \(ClientAgent:FileDescriptorReserve\); logged once until one is admitted again$");
        Assert.AreEqual(1, logs.LinesMatching(warning).Count, "The refusal is logged once, not once per connection.");
        Assert.AreEqual(2, world.Server.Metrics.Totals().Ejects, "Each refusal counts as an eject.");
        Assert.AreEqual(0, world.Server.Metrics.Sessions, "A refused connection never becomes a session.");
    }

    [TestMethod]
    public async Task PastMaxConnectionsPerAddress_TcpIsRefused349_LoggedOncePerRunOfRefusals()
    {
        var logs = new LogCapture(Microsoft.Extensions.Logging.LogLevel.Debug);
        await using var world = OtpWorld.Start(o => o.ClientAgent.MaxConnectionsPerAddress = 1, logs: logs);
        string expected = "127.0.0.1 already has 1 connections (the limit per address is 1)";
        var warning = new Regex($"^Refusing connections with 349 NotAdmitted: {Regex.Escape(expected)} \\(logged once until the address is admitted again\\)$");
        var first = await HelloAsync(world);

        for (int i = 0; i < 2; i++)
        {
            await using var refused = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
            Assert.AreEqual(expected, await refused.ExpectEjectAsync(EjectCode.NotAdmitted));
        }

        Assert.AreEqual(1, logs.LinesMatching(warning).Count, "Two refusals in a row log once.");
        Assert.AreEqual(2, world.Server.Metrics.Totals().Ejects);

        // The address's connection ends, so the next one is admitted, and a refusal after that is logged again.
        // The only session so far is the first: refused connections never become sessions.
        var closed = logs.WaitForLineAsync(new Regex("^session .* closed$"));
        await first.DisposeAsync();
        await closed.WaitAsync(Timeout);
        await using var admitted = await HelloAsync(world);
        await using (var refusedAgain = await RawClient.ConnectAsync(world.Server.ClientEndPoint))
        {
            Assert.AreEqual(expected, await refusedAgain.ExpectEjectAsync(EjectCode.NotAdmitted));
        }

        Assert.AreEqual(2, logs.LinesMatching(warning).Count, "An admission in between starts a new run of refusals.");
    }

    [TestMethod]
    public async Task TheWebRoot_ServesIndexHtml_AndAWebAssemblyAppsFiles_WithTheirTypes_Uncached()
    {
        string root = Directory.CreateTempSubdirectory("pastry-webroot-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(root, "index.html"), "<p>tavern</p>");
            foreach (string name in new[] { "app.wasm", "icu.dat", "app.pdb", "app.blat" })
            {
                File.WriteAllBytes(Path.Combine(root, name), [1, 2, 3]);
            }

            await using var world = OtpWorld.Start(Transport.WebSocket, o => o.ClientAgent.WebSocket.WebRoot = root);
            var site = new UriBuilder(await InProcessOtp.WebSocketUrlAsync(world.Server)) { Scheme = "http", Path = "/" }.Uri;
            using var http = new HttpClient();

            var index = await http.GetAsync(site);
            Assert.AreEqual(HttpStatusCode.OK, index.StatusCode);
            Assert.AreEqual("<p>tavern</p>", await index.Content.ReadAsStringAsync());
            Assert.AreEqual("no-cache", index.Headers.CacheControl?.ToString());
            foreach (var (name, type) in new[] { ("app.wasm", "application/wasm"), ("icu.dat", "application/octet-stream"), ("app.pdb", "application/octet-stream"), ("app.blat", "application/octet-stream") })
            {
                var file = await http.GetAsync(new Uri(site, name));
                Assert.AreEqual(HttpStatusCode.OK, file.StatusCode, name);
                Assert.AreEqual(type, file.Content.Headers.ContentType?.MediaType, name);
                CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, await file.Content.ReadAsByteArrayAsync(), name);
            }

            Assert.AreEqual(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(site, "missing.js"))).StatusCode);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task StartingWebSockets_WhenTheTransportIsOff_ListensNowhere()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.WebSocket.Enabled = false);

        await world.Server.ClientAgent.StartWebSocketsAsync();

        Assert.IsNull(world.Server.ClientAgent.WebSocketUrl, "No listener, so no URL.");
    }

    private static async Task<RawClient> HelloAsync(OtpWorld world)
    {
        var client = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);
        return client;
    }
}
