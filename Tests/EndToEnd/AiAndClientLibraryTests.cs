using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Client;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The AI and client libraries against an in-process OTP (real loopback sockets, one process): clock sync, refusals at
/// connect and login, and local validation. <see cref="AiAndClientEndToEndTests"/> covers the same libraries over real processes.
/// </summary>
[TestClass]
public class AiAndClientLibraryTests
{
    /// <summary>The transport the client library uses here; <see cref="AiAndClientLibraryTestsOverWebSocket"/> runs these tests again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task ClockSync_FindsTheTrueOffset_WhenTheClientClockIsShifted_AndServerTimeNeverGoesBack()
    {
        await using var server = InProcessOtp.Start(Transport);
        var shifted = new ShiftedTime(TimeSpan.FromHours(1));
        await using var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry, new ClientOptions { Time = shifted, ClockSyncInterval = TimeSpan.FromMilliseconds(50) });

        var synced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Clock.SampleAdded += count =>
        {
            if (count >= 4)
            {
                synced.TrySetResult();
            }
        };
        if (client.Clock.SampleCount >= 4)
        {
            synced.TrySetResult();
        }

        await synced.Task.WaitAsync(Timeout);

        // NTP's bound: with the best sample's round trip r, the offset is wrong by at most r/2 (plus clock granularity).
        var error = (client.Clock.Offset - TimeSpan.FromHours(-1)).Duration();
        var bound = TimeSpan.FromTicks(client.Clock.RoundTrip.Ticks / 2) + TimeSpan.FromMilliseconds(2);
        Assert.IsTrue(error <= bound, $"Offset {client.Clock.Offset} is {error.TotalMilliseconds} ms from the true -1 h (bound {bound.TotalMilliseconds} ms).");
        var first = client.ServerTime;
        Assert.IsTrue((first - DateTime.UtcNow).Duration() < TimeSpan.FromSeconds(1), "ServerTime is the server's clock, not the shifted local one.");
        shifted.Shift -= TimeSpan.FromSeconds(30);
        Assert.IsTrue(client.ServerTime >= first, "ServerTime never goes backwards, even when the local clock does.");
    }

    [TestMethod]
    public async Task ClientWithWrongSchema_IsRefusedAtConnect_WithCode125()
    {
        await using var server = InProcessOtp.Start(Transport);
        var other = ModelRegistry.FromTypes(new[] { typeof(Knight) });
        var error = await Assert.ThrowsExactlyAsync<ClientEjectedException>(() => InProcessOtp.ConnectClientAsync(server, Transport, other));
        Assert.AreEqual(125, error.Code);
    }

    [TestMethod]
    public async Task Login_WithAWrongPassword_ThrowsLoginFailed()
    {
        await using var server = InProcessOtp.Start(Transport);
        await using var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry);
        await client.CreateAccountAsync("carol", "a fine password");
        var error = await Assert.ThrowsExactlyAsync<LoginFailedException>(() => client.LoginAsync("carol", "wrong password!"));
        Assert.AreNotEqual(0, error.Status);
    }

    [TestMethod]
    public async Task AnInvalidLocalSet_ThrowsBeforeAnythingIsSent()
    {
        await using var server = InProcessOtp.Start(Transport);
        var ai = new Pastry.Ai.AiRepository(server.Router, server.Registry, logger: NullLogger.Instance);
        await using var _ = ai;
        var realm = ai.Create(new Realm { Title = "R" }, DoId.Empty, 0);
        ai.Create(new Knight { Name = "Kay" }, realm.DoId, 1);
        await using var client = await InProcessOtp.ConnectClientAsync(server, Transport, server.Registry);
        await client.CreateAccountAsync("dave", "a fine password");
        await client.LoginAsync("dave", "a fine password");
        await client.AddInterestAsync(realm.DoId, 1);
        var kay = client.Objects.OfType<Knight>().Single();

        Assert.ThrowsExactly<ModelValidationException>(() => kay.X = 101);
        Assert.AreEqual(0, kay.X, "The value is unchanged.");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => kay.Gold = 1).Message, "[Ai]");

        // The session is still alive: a valid set goes through to the AI.
        var heard = ai.Of<Knight>().Updated.FirstAsync(c => c.Origin == ChangeOrigin.Remote).ToTask();
        kay.X = 3;
        Assert.AreEqual(3, (await heard.WaitAsync(Timeout)).NewValue);
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public TimeSpan Shift { get; set; } = shift;

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Shift;
    }
}

/// <summary>Every test of <see cref="AiAndClientLibraryTests"/> with the client library over the WebSocket transport.</summary>
[TestClass]
public sealed class AiAndClientLibraryTestsOverWebSocket : AiAndClientLibraryTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
