using System.Text.Json;
using System.Text.RegularExpressions;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Admin;

/// <summary>
/// A user changes the log without code: an <c>nlog.config</c> of their own in the working directory (here, JSON lines
/// with every structured property) is what a real <c>pastry serve</c> writes, <c>--Logging:Level</c> still lowers its
/// rules, and eject lines carry the session, the account, the eject code and the object as properties.
/// </summary>
[TestClass]
public sealed class UserLoggingConfigurationTests
{
    private const string JsonConfig = """
        <?xml version="1.0" encoding="utf-8"?>
        <nlog xmlns="http://www.nlog-project.org/schemas/NLog.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" throwConfigExceptions="true">
          <targets>
            <target xsi:type="Console" name="json">
              <layout xsi:type="JsonLayout" includeEventProperties="true" includeScopeProperties="true">
                <attribute name="level" layout="${level:upperCase=true}" />
                <attribute name="logger" layout="${logger}" />
                <attribute name="message" layout="${message}" />
              </layout>
            </target>
          </targets>
          <rules>
            <logger name="*" minlevel="Info" writeTo="json" />
          </rules>
        </nlog>
        """;

    [TestMethod]
    public async Task UsersOwnNlogConfig_WritesJsonWithStructuredProperties_AndLoggingLevelStillApplies()
    {
        string directory = Directory.CreateTempSubdirectory("pastry-nlog-").FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "nlog.config"), JsonConfig);
        await using var otp = PastryProcess.StartDotnet(directory, null, PastryProcess.PastryDll, "serve", "--role", "otp", "--app", typeof(Knight).Assembly.Location,
            "--Database:Path", string.Empty, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0", "--Accounts:Pbkdf2Iterations", "1000",
            "--Logging:Level", "Debug");
        var (clients, _) = await otp.WaitForListenersAsync();
        var admin = new Uri(Json(await otp.WaitForLineAsync(new Regex("^\\{.*Admin endpoint listening on"))).GetProperty("Url").GetString()!);

        // Every line is the user's layout: a JSON object, not the shipped one-line text.
        Assert.IsTrue(Regex.Count(otp.Output, "listening on") >= 3);
        foreach (string line in otp.Output.Split(Environment.NewLine).Where(l => l.Contains("listening on", StringComparison.Ordinal)))
        {
            Assert.AreEqual("INFO", Json(line).GetProperty("level").GetString(), line);
        }

        // --Logging:Level Debug lowers the file's Info rule: a Debug line appears.
        await using var ann = await RawClient.LoggedInAsync(clients, Deployment.Registry, "ann");
        var login = Json(await otp.WaitForLineAsync(new Regex("^\\{.*logged in as account")));
        Assert.AreEqual("DEBUG", login.GetProperty("level").GetString());
        Assert.AreEqual(ann.AccountId.ToString(), login.GetProperty("Account").GetString());

        // A client sets a field of an object it cannot see: the eject line names the object as DoId, and the code.
        var stranger = DoId.NewId();
        await ann.SetFieldAsync(stranger, (FieldDescriptor<int>)Deployment.Registry.GetModel<Knight>().GetField(nameof(Knight.X)), 1);
        Assert.AreEqual((int)EjectCode.UnknownObject, (await ann.ExpectAsync(MessageType.Eject)).Reader().ReadUInt16());
        var eject = Json(await otp.WaitForLineAsync(new Regex("^\\{.*Ejecting session.*with 117")));
        Assert.AreEqual(stranger.ToString(), eject.GetProperty("DoId").GetString());
        Assert.AreEqual(117, eject.GetProperty("Code").GetInt32());
        Assert.AreEqual(ann.AccountId.ToString(), eject.GetProperty("Account").GetString());
        StringAssert.Contains(eject.GetProperty("Session").GetString(), ann.SessionId.ToString());

        // The operator's eject: an audit line whose scope names the session, the account and the code.
        await using var bob = await RawClient.LoggedInAsync(clients, Deployment.Registry, "bob");
        using var http = new HttpClient { BaseAddress = admin };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/api/sessions/{bob.SessionId}/eject", UriKind.Relative))
        {
            Content = new StringContent("{\"reason\":\"audit me\"}", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(Pastry.Otp.Admin.AdminServer.ActionHeader, "1");
        using var response = await http.SendAsync(request);
        Assert.IsTrue(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var audit = Json(await otp.WaitForLineAsync(new Regex("^\\{.*AUDIT operator")));
        Assert.AreEqual("WARN", audit.GetProperty("level").GetString());
        Assert.AreEqual(bob.SessionId.ToString(), audit.GetProperty("session").GetString());
        Assert.AreEqual(bob.AccountId.ToString(), audit.GetProperty("account").GetString());
        Assert.AreEqual(350, audit.GetProperty("ejectCode").GetInt32());
        Assert.AreEqual("audit me", audit.GetProperty("Reason").GetString());
    }

    private static JsonElement Json(Match line) => Json(line.Value.Length > 0 ? line.Result("$_") : string.Empty);

    private static JsonElement Json(string line)
    {
        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }
}
