using System.Text.RegularExpressions;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>End-to-end tests against a real <c>pastry serve --role otp</c> process over loopback.</summary>
[TestClass]
public sealed class OtpProcessTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromAssemblies(typeof(Knight).Assembly);

    [TestMethod]
    public async Task OtpProcess_ServesClientsAndAnAiOverTcp_AndDeletesTheAisObjectsWhenItsLinkDrops()
    {
        var (otp, clients, director) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var ai = new TestAi(link);
        link.AddPostRemove(InternalMessages.DeleteAiObjects(ai.Channel), Channel.StateServer);
        var realm = ai.Create(new Realm { Title = "Remote realm" }, DoId.Empty, 0);
        var knight = ai.Create(new Knight { Name = "Percival", X = 1 }, realm.DoId, 3);

        await using var player = await RawClient.LoggedInAsync(clients, Registry, "percy");
        await using var watcher = await RawClient.LoggedInAsync(clients, Registry, "watcher");
        await player.AddInterestAsync(1, realm.DoId, 3);
        await watcher.AddInterestAsync(1, realm.DoId, 3);
        await ExpectEnterAsync(player, knight.DoId);
        await ExpectEnterAsync(watcher, knight.DoId);

        await player.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 9);
        Assert.AreEqual((knight.DoId, "X", (object?)9), RawClient.ReadSetField(await NextNonDoneAsync(watcher), knight.Model));
        var heard = TestAi.ReadClientSet(await ai.ExpectAsync(InternalMessageType.ClientSetField), knight.Model);
        Assert.AreEqual((knight.DoId, player.AccountId), (heard.Id, heard.Account), "The AI hears the client's set over TCP, with the sender.");
        CollectionAssert.AreEqual(new[] { ("X", (object?)9) }, heard.Values);

        // The AI's link drops (as when its process dies): the MD routes its post-remove, and clients see deletes.
        await link.FlushAsync();
        await link.DisposeAsync();
        Assert.AreEqual((knight.DoId, LeaveReason.Deleted), RawClient.ReadLeave(await NextNonDoneAsync(player)));
        Assert.AreEqual((knight.DoId, LeaveReason.Deleted), RawClient.ReadLeave(await NextNonDoneAsync(watcher)));
        await otp.WaitForLineAsync(new Regex("Cleaning up 2 object"));
    }

    [TestMethod]
    public async Task OtpProcess_LogsEveryEject_WithCodeAndReason()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var __ = otp;
        await using var client = await RawClient.ConnectAsync(clients);
        await client.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        await client.ExpectEjectAsync(EjectCode.NoHello);
        await otp.WaitForLineAsync(new Regex("Ejecting session .* with 107 NoHello: the first message must be Hello"));
    }

    [TestMethod]
    public async Task OtpProcess_StopsGracefully_OnSigterm()
    {
        var (otp, clients, _) = await PastryProcess.StartOtpAsync();
        await using var _ = otp;
        await using var client = await RawClient.LoggedInAsync(clients, Registry, "stayer");

        otp.Terminate();

        StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.ServerShutdown), "shutting down");
        Assert.AreEqual(0, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, "OTP stopped");
    }

    [TestMethod]
    public async Task Serve_WithABadConfigValue_Exits2_NamingTheKey()
    {
        await using var otp = PastryProcess.Start("serve", "--role", "otp", "--ClientAgent:Port", "not-a-port");
        Assert.AreEqual(2, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, "ClientAgent:Port");
    }

    [TestMethod]
    public async Task Serve_WithAnOutOfRangeSetting_Exits2_NamingTheKey()
    {
        await using var otp = PastryProcess.Start("serve", "--role", "otp", "--ClientAgent:MaxOutgoingBytes", "10");
        Assert.AreEqual(2, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, "ClientAgent:MaxOutgoingBytes must be at least 4096");
    }

    [TestMethod]
    public async Task Serve_WithAMissingConfigFile_Exits2()
    {
        await using var otp = PastryProcess.Start("serve", "--role", "otp", "--config", "/nonexistent/pastry.json");
        Assert.AreEqual(2, await otp.WaitForExitAsync());
        StringAssert.Contains(otp.Output, "does not exist");
    }

    [TestMethod]
    public async Task Serve_ReadsPastryJson_ThenPastryEnvironmentVariablesOverrideIt_ThenFlagsOverrideThose()
    {
        string directory = Directory.CreateTempSubdirectory("pastry-config").FullName;
        string config = Path.Combine(directory, "pastry.json");
        await File.WriteAllTextAsync(config, """{ "ClientAgent": { "Port": 0, "AppVersion": "from-json", "MaxInterests": 3 }, "MessageDirector": { "Port": 0 } }""");

        // pastry.json alone: its version is the one clients must send.
        var (fromJson, jsonClients, _) = await PastryProcess.StartOtpAsync("--config", config);
        await using (fromJson)
        {
            await fromJson.WaitForLineAsync(new Regex("app version from-json"));
            await ExpectVersionAcceptedAsync(jsonClients, "from-json", rejected: "from-env");
        }

        // A PASTRY_ variable (double underscore for the section) beats the file; keys the variable does not name keep the file's value.
        var environment = new Dictionary<string, string> { ["PASTRY_ClientAgent__AppVersion"] = "from-env" };
        var (fromEnvironment, environmentClients, _) = await PastryProcess.StartOtpAsync(environment, "--config", config);
        await using (fromEnvironment)
        {
            await fromEnvironment.WaitForLineAsync(new Regex("app version from-env"));
            await ExpectVersionAcceptedAsync(environmentClients, "from-env", rejected: "from-json");
            await ExpectInterestLimitAsync(environmentClients, "from-env", 3);
        }

        // A flag beats the variable.
        var (fromFlag, flagClients, _) = await PastryProcess.StartOtpAsync(environment, "--config", config, "--ClientAgent:AppVersion", "from-flag");
        await using (fromFlag)
        {
            await fromFlag.WaitForLineAsync(new Regex("app version from-flag"));
            await ExpectVersionAcceptedAsync(flagClients, "from-flag", rejected: "from-env");
        }
    }

    [TestMethod]
    [DataRow("ClientAgent")]
    [DataRow("MessageDirector")]
    public async Task Serve_OnAPortInUse_Exits1_NamingTheAddress(string role)
    {
        using var squatter = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        squatter.Start();
        int port = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;
        string other = role == "ClientAgent" ? "MessageDirector" : "ClientAgent";

        await using var otp = PastryProcess.Start(
            "serve", "--role", "otp", "--app", typeof(Knight).Assembly.Location, "--Database:Path", string.Empty,
            $"--{role}:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--{other}:Port", "0");

        Assert.AreEqual(1, await otp.WaitForExitAsync(), otp.Output);
        StringAssert.Contains(otp.Output, $"127.0.0.1:{port}", "The message names the address that is taken.");
    }

    private static async Task ExpectVersionAcceptedAsync(System.Net.IPEndPoint clients, string accepted, string rejected)
    {
        await using (var wrong = await RawClient.ConnectAsync(clients))
        {
            await wrong.HelloAsync(Registry.SchemaHash, rejected);
            StringAssert.Contains(await wrong.ExpectEjectAsync(EjectCode.BadVersion), $"'{accepted}'");
        }

        await using var right = await RawClient.ConnectAsync(clients);
        await right.HelloAsync(Registry.SchemaHash, accepted);
        await right.ExpectAsync(MessageType.HelloResp);
    }

    /// <summary>The file's ClientAgent:MaxInterests (3) holds: one more interest is ejected with 348.</summary>
    private static async Task ExpectInterestLimitAsync(System.Net.IPEndPoint clients, string version, int limit)
    {
        await using var client = await RawClient.LoggedInAsync(clients, Registry, $"limit{Environment.ProcessId}", version);
        for (uint context = 1; context <= limit; context++)
        {
            await client.AddInterestAsync(context, DoId.Empty, 1);
            await client.ExpectAsync(MessageType.InterestDone);
        }

        await client.AddInterestAsync((uint)limit + 1, DoId.Empty, 1);
        await client.ExpectEjectAsync(EjectCode.TooManyInterests);
    }

    private static async Task ExpectEnterAsync(RawClient client, DoId id)
    {
        // The AI's create may reach the State Server before or after the interest query: either way an enter arrives.
        var frame = await NextNonDoneAsync(client);
        Assert.AreEqual(MessageType.EnterObject, frame.Type);
        Assert.AreEqual(id, RawClient.ReadEnter(frame, Registry).Id);
    }

    private static async Task<ReceivedFrame> NextNonDoneAsync(RawClient client)
    {
        while (true)
        {
            var frame = await client.NextAsync();
            if (frame.Type != MessageType.InterestDone)
            {
                return frame;
            }
        }
    }
}
