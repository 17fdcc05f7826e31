using System.Net;
using System.Net.WebSockets;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Pastry.Client;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The WebSocket transport's own rules, against an in-process OTP over real loopback WebSockets (Kestrel): binary
/// messages only (371), a bounded message size (370), the Origin check (HTTP 403, logged as 372) and the TCP per-address
/// limits (349). Everything else a session does is covered by the conformance classes' <c>OverWebSocket</c> runs.
/// </summary>
[TestClass]
public sealed class ClientAgentWebSocketTests
{
    [TestMethod]
    public async Task ATextMessage_Ejects371()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket);
        using var socket = await OpenAsync(world);

        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

        var (code, reason) = await ReadEjectAsync(socket);
        Assert.AreEqual((int)EjectCode.WebSocketTextMessage, code);
        StringAssert.Contains(reason, "binary messages only");
    }

    [TestMethod]
    public async Task AMessagePastMaxMessageBytes_Ejects370()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket, o =>
        {
            o.ClientAgent.MaxFrameBytes = 256;
            o.ClientAgent.WebSocket.MaxMessageBytes = 1024;
        });
        using var socket = await OpenAsync(world);

        using var hello = new PooledBufferWriter();
        ClientFrames.WriteHello(hello, world.Registry.SchemaHash, "1.0.0");
        await socket.SendAsync(hello.WrittenMemory, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        Assert.AreEqual(MessageType.HelloResp, (await ReadFramesAsync(socket, 1)).Single().Type);

        // One message sent in pieces, as a hostile client would stream it: the agent counts, it does not buffer.
        using var heartbeats = new PooledBufferWriter();
        for (int i = 0; i < 100; i++)
        {
            ClientFrames.WriteEmpty(heartbeats, MessageType.Heartbeat);
        }

        var piece = heartbeats.WrittenMemory.ToArray();
        await socket.SendAsync(piece, WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
        await socket.SendAsync(piece, WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);

        var (code, reason) = await ReadEjectAsync(socket);
        Assert.AreEqual((int)EjectCode.WebSocketMessageTooLarge, code);
        StringAssert.Contains(reason, "more than 1024 bytes");
    }

    [TestMethod]
    public async Task ManyFramesInOneMessage_AreAllRead_AndAFrameMaySpanTwoMessages()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket);
        using var socket = await OpenAsync(world);
        using var frames = new PooledBufferWriter();
        ClientFrames.WriteHello(frames, world.Registry.SchemaHash, "1.0.0");
        ClientFrames.WriteClockSync(frames, 1234);
        ClientFrames.WriteClockSync(frames, 5678);
        var bytes = frames.WrittenMemory.ToArray();

        await socket.SendAsync(bytes.AsMemory(0, bytes.Length - 3), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        await socket.SendAsync(bytes.AsMemory(bytes.Length - 3), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);

        var received = await ReadFramesAsync(socket, 3);
        CollectionAssert.AreEqual(new[] { MessageType.HelloResp, MessageType.ClockSync, MessageType.ClockSync }, received.Select(f => f.Type).ToArray());
        Assert.AreEqual(5678, new WireReader(received[2].Payload).ReadInt64(), "The frame split across two messages arrived whole.");
    }

    [TestMethod]
    public async Task AnOriginNotAllowed_IsRefusedWith403_BeforeAnySession_SameOriginAndListedOnesConnect()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket, o => o.ClientAgent.WebSocket.AllowedOrigins = new[] { "https://game.example.com" });
        var url = await InProcessOtp.WebSocketUrlAsync(world.Server);

        var refused = await Assert.ThrowsExactlyAsync<WebSocketException>(() => RawClient.ConnectWebSocketAsync(url, origin: "https://evil.example.com"));
        StringAssert.Contains(refused.Message, "403");
        Assert.AreEqual(0, world.Server.ClientAgent.SessionCount, "No session exists for a refused origin.");

        await using var listed = await RawClient.ConnectWebSocketAsync(url, origin: "https://game.example.com");
        await using var sameOrigin = await RawClient.ConnectWebSocketAsync(url, origin: $"http://{url.Authority}");
        await using var native = await RawClient.ConnectWebSocketAsync(url);
        foreach (var client in new[] { listed, sameOrigin, native })
        {
            await client.HelloAsync(world.Registry.SchemaHash);
            await client.ExpectAsync(MessageType.HelloResp);
        }
    }

    [TestMethod]
    public async Task PastMaxConnectionsPerAddress_AWebSocketIsEjected349_AndTcpAndWebSocketShareTheCount()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket, o => o.ClientAgent.MaxConnectionsPerAddress = 2);
        await using var overTcp = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
        await using var overWebSocket = await world.ConnectAsync();
        await overWebSocket.HelloAsync(world.Registry.SchemaHash);
        await overWebSocket.ExpectAsync(MessageType.HelloResp);

        await using var third = await world.ConnectAsync();

        StringAssert.Contains(await third.ExpectEjectAsync(EjectCode.NotAdmitted), "connections");
        await third.Closed.Task.WaitAsync(RawClient.Timeout);
    }

    [TestMethod]
    public async Task AWebSocketClosedWithACloseMessage_EndsItsSessionAtOnce_WhileADroppedOneParksForAResume()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket);
        var agent = world.Server.ClientAgent;

        // A close message (a browser closing its page): the player left, so nothing waits for a resume.
        await using (var leaving = await RawClient.LogInAsync(await world.ConnectAsync(), world.Registry, "leaver"))
        {
            await leaving.ShutdownSendAsync();
            await leaving.Closed.Task.WaitAsync(RawClient.Timeout);
            Assert.AreEqual(0, agent.ParkedCount, "A WebSocket closed with a close message ends its session.");
        }

        // No close message (the network went): the session parks for the grace period, as on TCP.
        var dropping = await RawClient.LogInAsync(await world.ConnectAsync(), world.Registry, "dropper");
        await dropping.DisposeAsync();
        var deadline = DateTime.UtcNow + RawClient.Timeout;
        while (agent.ParkedCount != 1)
        {
            Assert.IsTrue(DateTime.UtcNow < deadline, $"{agent.ParkedCount} sessions parked after a drop, not 1.");
            await Task.Delay(10);
        }
    }

    [TestMethod]
    public async Task APlainHttpRequest_GetsA400_ThatSaysHowToConnect()
    {
        await using var world = OtpWorld.Start(Transport.WebSocket);
        var url = await InProcessOtp.WebSocketUrlAsync(world.Server);
        using var http = new HttpClient();

        var response = await http.GetAsync(new UriBuilder(url) { Scheme = "http" }.Uri);

        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "ws://");
    }

    [TestMethod]
    public async Task WithATlsCertificate_TheTransportIsWss_AndTheClientLibraryPlaysAndResumesOverIt()
    {
        using var certificate = ClientAgentTlsTests.SelfSignedCertificate();
        string pfx = ClientAgentTlsTests.WritePfx(certificate);
        await using var world = OtpWorld.Start(Transport.WebSocket, o =>
        {
            o.ClientAgent.Tls.CertificatePath = pfx;
            o.ClientAgent.Tls.CertificatePassword = ClientAgentTlsTests.CertificatePassword;
        });
        var knight = world.SpawnKnight(3);
        var url = await InProcessOtp.WebSocketUrlAsync(world.Server);
        Assert.AreEqual("wss", url.Scheme);

        await using var client = await PastryClient.ConnectAsync(url, world.Registry, ClientAgentTlsTests.Pinned(certificate));
        await client.CreateAccountAsync("secure-web", "a fine password");
        await client.LoginAsync("secure-web", "a fine password");
        await client.AddInterestAsync(world.Realm.DoId, 3);
        var inView = client.Objects.OfType<Knight>().Single(k => k.DoId == knight.DoId);

        // The connection drops; the client reconnects over wss by itself and the session resumes.
        var back = client.Reconnected.FirstAsync().ToTask();
        client.DropConnectionForTesting();
        await back.WaitAsync(RawClient.Timeout);

        var updated = client.Of<Knight>().Updated.FirstAsync(c => c.Target.DoId == knight.DoId && c.Field.Name == nameof(Knight.X)).ToTask();
        knight.X = 42;
        world.Ai.Set(knight, nameof(Knight.X));
        await updated.WaitAsync(RawClient.Timeout);
        Assert.AreEqual(42, inView.X, "The AI's update arrived over the resumed wss connection.");
    }

    [TestMethod]
    public void Settings_OutOfRange_NameTheirKey()
    {
        var options = new Pastry.Otp.ClientAgent.ClientAgentOptions();
        options.WebSocket.Enabled = true;
        options.WebSocket.MaxMessageBytes = 1000;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(options.Validate).Message, "ClientAgent:WebSocket:MaxMessageBytes");
        options = new Pastry.Otp.ClientAgent.ClientAgentOptions();
        options.WebSocket.AllowedOrigins = new[] { "https://game.example.com/play" };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(options.Validate).Message, "ClientAgent:WebSocket:AllowedOrigins");
        options = new Pastry.Otp.ClientAgent.ClientAgentOptions();
        options.WebSocket.Path = "pastry";
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(options.Validate).Message, "ClientAgent:WebSocket:Path");
    }

    [TestMethod]
    public void TheSettings_AreKnownToTheCommandLine_IncludingEachAllowedOrigin()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ClientAgent:WebSocket:Enabled"] = "true",
            ["ClientAgent:WebSocket:AllowedOrigins:0"] = "https://game.example.com",
            ["ClientAgent:WebSocket:AllowedOrigins:1"] = "https://beta.example.com",
            ["ClientAgent:WebSocket:Prot"] = "7200",
        }).Build();

        var warnings = Pastry.Cli.Hosting.KnownSettings.Warnings(configuration).ToList();

        Assert.HasCount(1, warnings, string.Join("; ", warnings));
        StringAssert.Contains(warnings[0], "Did you mean 'ClientAgent:WebSocket:Port'?");
    }

    private static async Task<ClientWebSocket> OpenAsync(OtpWorld world)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(await InProcessOtp.WebSocketUrlAsync(world.Server), CancellationToken.None);
        return socket;
    }

    private static async Task<(int Code, string Reason)> ReadEjectAsync(ClientWebSocket socket)
    {
        var frame = (await ReadFramesAsync(socket, 1)).Single();
        Assert.AreEqual(MessageType.Eject, frame.Type);
        var reader = new WireReader(frame.Payload);
        return (reader.ReadUInt16(), reader.ReadString());
    }

    /// <summary>Reads whole binary messages until <paramref name="count"/> frames arrived (the agent sends whole frames per message).</summary>
    private static async Task<List<ReceivedFrame>> ReadFramesAsync(ClientWebSocket socket, int count)
    {
        var frames = new List<ReceivedFrame>();
        var buffer = new byte[64 * 1024];
        using var deadline = new CancellationTokenSource(RawClient.Timeout);
        while (frames.Count < count)
        {
            int filled = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(filled), deadline.Token);
                filled += result.Count;
            }
            while (!result.EndOfMessage);
            Assert.AreEqual(WebSocketMessageType.Binary, result.MessageType, "The server closed before the expected frames.");

            var message = buffer.AsMemory(0, filled);
            while (!message.IsEmpty)
            {
                int length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(message.Span);
                var type = (MessageType)System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(message.Span[Frame.LengthSize..]);
                frames.Add(new ReceivedFrame(type, message.Slice(Frame.HeaderSize, length - 2).ToArray()));
                message = message[(Frame.LengthSize + length)..];
            }
        }

        return frames;
    }
}
