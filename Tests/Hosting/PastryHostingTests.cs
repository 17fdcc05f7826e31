using System.Net;
using System.Net.Sockets;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pastry.Ai.Hosting;
using Pastry.Client;
using Pastry.Hosting;
using Pastry.Otp;
using Pastry.Otp.Hosting;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Hosting;

/// <summary>
/// The hosting library in a game's own generic host: <c>AddPastryOtp</c> and <c>AddPastryAi&lt;TApp&gt;</c> in a plain
/// <see cref="Host.CreateApplicationBuilder()"/> app, with real loopback sockets and a real client.
/// </summary>
[TestClass]
public sealed class PastryHostingTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static int users;

    [TestMethod]
    public async Task OtpAndAi_InOnePlainGenericHost_SyncTheAisKnightsWithAClient()
    {
        var builder = PlainBuilder(new() { ["Ai:Application"] = "ignored here: the type is given in code" });
        builder.Services.AddPastryOtp(builder.Configuration, Deployment.Registry).AddPastryAi<KnightAiApp>(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var server = host.Services.GetRequiredService<OtpServer>();
            await using var client = await LoggedInAsync(server.ClientEndPoint);
            await client.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.Neighbourhood(KnightAiApp.Grid.ZoneOf(0, 0)).ToArray());
            var lancelot = client.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot");
            Assert.AreEqual(5, lancelot.X, "The AI's value reached the client through the OTP.");

            // The client's set reaches the AI, which moves the knight one cell east; the client sees the move.
            var moved = client.Of<Knight>().Moved.FirstAsync(k => k == lancelot).ToTask();
            lancelot.X = 15;
            await moved.WaitAsync(Timeout);
            Assert.AreEqual(KnightAiApp.Grid.ZoneOf(1, 0), lancelot.Zone);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [TestMethod]
    public async Task AnAiHostAlone_ConnectsOverTcp_ToTheMessageDirectorOfAnOtpHost()
    {
        var otpBuilder = PlainBuilder(new());
        otpBuilder.Services.AddPastryOtp(otpBuilder.Configuration, Deployment.Registry);
        using var otpHost = otpBuilder.Build();
        await otpHost.StartAsync();
        try
        {
            var server = otpHost.Services.GetRequiredService<OtpServer>();
            var aiBuilder = PlainBuilder(new() { ["Ai:MessageDirector"] = server.MessageDirectorEndPoint.ToString() });
            aiBuilder.Services.AddPastryAi<KnightAiApp>(aiBuilder.Configuration, Deployment.Registry);
            using var aiHost = aiBuilder.Build();
            await aiHost.StartAsync();

            await using var client = await LoggedInAsync(server.ClientEndPoint);
            await client.AddInterestAsync(KnightAiApp.RealmId, KnightAiApp.Grid.ZoneOf(0, 0));
            Assert.AreEqual(5, client.Objects.OfType<Knight>().Single(k => k.Name == "Lancelot").X);
            await aiHost.StopAsync();
        }
        finally
        {
            await otpHost.StopAsync();
        }
    }

    [TestMethod]
    [DataRow("ClientAgent:Port", "70000", "ClientAgent:Port must be between 0 and 65535")]
    [DataRow("ClientAgent:Port", "not-a-port", "'ClientAgent:Port'")]
    [DataRow("Database:BatchMaxWrites", "0", "Database:BatchMaxWrites")]
    [DataRow("Ai:MessageDirector", "nowhere", "Ai:MessageDirector must be host:port")]
    [DataRow("Ai:MaxReconnectDelay", "soon", "'Ai:MaxReconnectDelay'")]
    public async Task ABadSetting_FailsTheStart_WithAMessageNamingTheKey(string key, string value, string expected)
    {
        var builder = PlainBuilder(new() { [key] = value });
        builder.Services.AddPastryOtp(builder.Configuration, Deployment.Registry).AddPastryAi<KnightAiApp>(builder.Configuration);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<Exception>(() => host.StartAsync());
        var failure = error as OptionsValidationException ?? ((AggregateException)error).InnerExceptions.OfType<OptionsValidationException>().Single();
        StringAssert.Contains(failure.Message, expected);
    }

    [TestMethod]
    public async Task APortInUse_FailsTheStart_WithOneStartupErrorNamingTheAddressAndTheKey()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        int port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var builder = PlainBuilder(new() { ["ClientAgent:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        builder.Services.AddPastryOtp(builder.Configuration, Deployment.Registry);
        using var host = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<StartupException>(() => host.StartAsync());
        Assert.AreEqual(StartupError.CannotListen, error.Error);
        Assert.AreEqual($"127.0.0.1:{port}", error.Address);
        StringAssert.Contains(error.Message, "ClientAgent:Port");
    }

    [TestMethod]
    public async Task AnAiWithNoOtpToReach_FailsTheStart_NamingTheAddressAndTheFix()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var builder = PlainBuilder(new() { ["Ai:MessageDirector"] = $"127.0.0.1:{port}" });
        builder.Services.AddPastryAi<KnightAiApp>(builder.Configuration, Deployment.Registry);
        using var host = builder.Build();

        var error = await Assert.ThrowsExactlyAsync<StartupException>(() => host.StartAsync());
        Assert.AreEqual(StartupError.MessageDirectorUnreachable, error.Error);
        StringAssert.Contains(error.Message, $"127.0.0.1:{port}");
        StringAssert.Contains(error.Message, "Ai:MessageDirector");
    }

    [TestMethod]
    public async Task AnInterestPolicy_RegisteredInTheHostsServices_ReplacesTheDefault()
    {
        var builder = PlainBuilder(new());
        builder.Services.AddSingleton<Pastry.Otp.ClientAgent.IInterestPolicy>(new OnlyTheRoot());
        builder.Services.AddPastryOtp(builder.Configuration, Deployment.Registry).AddPastryAi<KnightAiApp>(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var server = host.Services.GetRequiredService<OtpServer>();
            await using var client = await LoggedInAsync(server.ClientEndPoint);
            await client.AddInterestAsync(DoId.Empty, 0);
            Assert.IsTrue(client.Objects.OfType<Realm>().Any(), "The app's policy allows the root.");

            // The default would allow the realm (it sits at the root, and is in view); the app's policy refuses it.
            var refused = await Assert.ThrowsAsync<ClientEjectedException>(() => client.AddInterestAsync(KnightAiApp.RealmId, 1));
            Assert.AreEqual(115, refused.Code);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [TestMethod]
    public void AddPastryOtp_PutsTheOtpBeforeHostedServicesRegisteredEarlier_SoTheyFindItRunning()
    {
        var services = new ServiceCollection();
        services.AddPastryAi<KnightAiApp>(new ConfigurationBuilder().Build(), Deployment.Registry);
        services.AddPastryOtp(new ConfigurationBuilder().Build());

        var hosted = services.Where(d => d.ServiceType == typeof(IHostedService)).ToList();
        Assert.AreEqual("OtpHostedService", hosted[0].ImplementationType?.Name);
        Assert.ThrowsExactly<InvalidOperationException>(() => services.AddPastryOtp(new ConfigurationBuilder().Build()));
    }

    /// <summary>A plain <see cref="Host.CreateApplicationBuilder()"/> on OS-assigned ports, in memory, with cheap password hashes.</summary>
    private static HostApplicationBuilder PlainBuilder(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ClientAgent:Port"] = "0",
            ["MessageDirector:Port"] = "0",
            ["Database:Path"] = string.Empty,
            ["Accounts:Pbkdf2Iterations"] = "1000",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    private static async Task<PastryClient> LoggedInAsync(IPEndPoint endpoint)
    {
        var client = await PastryClient.ConnectAsync(endpoint.Address.ToString(), endpoint.Port, Deployment.Registry);
        string user = $"host{Interlocked.Increment(ref users)}";
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }

    private sealed class OnlyTheRoot : Pastry.Otp.ClientAgent.IInterestPolicy
    {
        public Pastry.Otp.ClientAgent.InterestVerdict Decide(Pastry.Otp.ClientAgent.InterestRequest request) =>
            request.Parent.IsEmpty ? Pastry.Otp.ClientAgent.InterestVerdict.Allowed : Pastry.Otp.ClientAgent.InterestVerdict.Refused;
    }
}
