using Pastry.Otp;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>How a test's clients reach the Client Agent: the conformance tests run over both.</summary>
public enum Transport
{
    Tcp,
    WebSocket,
}

/// <summary>An in-process OTP with an AI and a realm, plus helpers that log clients in and give them interest.</summary>
internal sealed class OtpWorld : IAsyncDisposable
{
    private readonly List<RawClient> clients = new();
    private int userNumber;

    private OtpWorld(OtpServer server, Transport transport = Transport.Tcp)
    {
        Server = server;
        Transport = transport;
        Ai = new TestAi(server.Router);
        Realm = Ai.Create(new Realm { Title = "Test realm" }, DoId.Empty, 0);
    }

    public OtpServer Server { get; }

    /// <summary>The transport <see cref="ConnectAsync"/> and <see cref="ClientAsync"/> use.</summary>
    public Transport Transport { get; }

    public TestAi Ai { get; }

    public Realm Realm { get; }

    public ModelRegistry Registry => Server.Registry;

    public static OtpWorld Start(Action<OtpOptions>? configure = null, Pastry.Otp.ClientAgent.IInterestPolicy? policy = null, Microsoft.Extensions.Logging.ILoggerFactory? logs = null) =>
        new(InProcessOtp.Start(configure, policy, logs: logs));

    /// <summary>A world whose clients connect over <paramref name="transport"/> (the WebSocket listener starts with the first client).</summary>
    public static OtpWorld Start(Transport transport, Action<OtpOptions>? configure = null, Pastry.Otp.ClientAgent.IInterestPolicy? policy = null, Microsoft.Extensions.Logging.ILoggerFactory? logs = null) =>
        new(InProcessOtp.Start(options => { InProcessOtp.UseTransport(options, transport); configure?.Invoke(options); }, policy, logs: logs), transport);

    /// <summary>A raw client connected over the world's transport, before Hello.</summary>
    public async Task<RawClient> ConnectAsync() => Transport == Transport.Tcp
        ? await RawClient.ConnectAsync(Server.ClientEndPoint)
        : await RawClient.ConnectWebSocketAsync(await InProcessOtp.WebSocketUrlAsync(Server));

    public Knight SpawnKnight(uint zone, string name = "Galahad", DoId owner = default, int x = 5) =>
        Ai.Create(new Knight { Name = name, X = x, Mood = 3, Gold = 10 }, Realm.DoId, zone, owner);

    public async Task<RawClient> ClientAsync(int? receiveBufferBytes = null)
    {
        string user = $"player{Interlocked.Increment(ref userNumber)}";
        var client = Transport == Transport.Tcp
            ? await RawClient.LoggedInAsync(Server.ClientEndPoint, Registry, user, receiveBufferBytes: receiveBufferBytes)
            : await RawClient.LogInAsync(await ConnectAsync(), Registry, user);
        clients.Add(client);
        return client;
    }

    /// <summary>Adds interest and returns the objects that entered before InterestDone.</summary>
    public static async Task<List<EnterInfo>> InterestAsync(RawClient client, ModelRegistry registry, uint context, DoId parent, params uint[] zones)
    {
        await client.AddInterestAsync(context, parent, zones);
        var entered = new List<EnterInfo>();
        while (true)
        {
            var frame = await client.NextAsync();
            if (frame.Type == MessageType.InterestDone)
            {
                Assert.AreEqual(context, frame.Reader().ReadUInt32());
                return entered;
            }

            Assert.IsTrue(frame.Type is MessageType.EnterObject or MessageType.EnterOwnedObject, $"Expected an enter or InterestDone, got {frame.Type}");
            entered.Add(RawClient.ReadEnter(frame, registry));
        }
    }

    public Task<List<EnterInfo>> InterestAsync(RawClient client, uint context, params uint[] zones) =>
        InterestAsync(client, Registry, context, Realm.DoId, zones);

    public async ValueTask DisposeAsync()
    {
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        await Server.DisposeAsync();
    }
}
