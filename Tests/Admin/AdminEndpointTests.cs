using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Admin;

/// <summary>The admin endpoint of a real <c>pastry serve</c> process: health, readiness, metrics, and who may use it.</summary>
[TestClass]
public sealed class AdminEndpointTests
{
    private static readonly Regex AdminUrl = new("Admin endpoint listening on (http://\\S+?)/? ");

    [TestMethod]
    public async Task Serve_AnswersHealthReadinessAndPrometheusMetrics_OnLoopback()
    {
        var (process, _, _) = await PastryProcess.StartOtpAsync("--Admin:Port", "0");
        await using var _process = process;
        var url = new Uri((await process.WaitForLineAsync(AdminUrl)).Groups[1].Value);
        Assert.IsTrue(IPAddress.IsLoopback(IPAddress.Parse(url.Host)), $"The admin endpoint listens on loopback by default, not {url.Host}.");
        using var http = new HttpClient { BaseAddress = url };

        Assert.AreEqual("ok\n", await http.GetStringAsync("/healthz"));
        using var ready = await http.GetAsync("/readyz");
        string readiness = await ready.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, ready.StatusCode, readiness);
        StringAssert.Contains(readiness, "\"message-director\",\"ready\":true");
        StringAssert.Contains(readiness, "\"client-agent\",\"ready\":true");

        string metrics = await http.GetStringAsync("/metrics");
        foreach (string name in new[] { "pastry_client_agent_sessions", "pastry_state_server_objects", "pastry_state_server_zones", "pastry_message_director_links", "pastry_mailbox_depth", "dotnet_gc_heap_total_allocated_bytes_total" })
        {
            StringAssert.Contains(metrics, name, $"/metrics lacks {name}");
        }
    }

    [TestMethod]
    public async Task Readiness_OfAnAiProcess_FollowsItsLinkToTheMessageDirector()
    {
        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Admin:Enabled", "false");
        await using var ai = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp), "--Admin:Port", "0");
        var url = new Uri((await ai.WaitForLineAsync(AdminUrl)).Groups[1].Value);
        await ai.WaitForLineAsync(new Regex("AI application KnightAiApp started"));
        using var http = new HttpClient { BaseAddress = url };
        var (status, body) = await ReadyAsync(http);
        Assert.AreEqual(HttpStatusCode.OK, status, body);
        StringAssert.Contains(body, "\"name\":\"ai\",\"ready\":true");
        StringAssert.Contains(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), "pastry_ai_link_state{", "an AI-only process exports its link state");

        // The OTP dies: the AI is alive but not ready until its link is back.
        otp.KillHard();
        await otp.DisposeAsync();
        await ai.WaitForLineAsync(new Regex("link to the Message Director dropped; reconnecting"));
        Assert.AreEqual("ok\n", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative)));
        (status, body) = await ReadyAsync(http);
        Assert.AreEqual(HttpStatusCode.ServiceUnavailable, status, body);
        StringAssert.Contains(body, "link to the Message Director is down");

        var (restarted, _, _) = await PastryProcess.StartOtpAsync("--Admin:Enabled", "false", "--MessageDirector:Port", director.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var _restarted = restarted;
        await ai.WaitForLineAsync(new Regex(@"reconnected; \d+ object\(s\) created again"));
        (status, body) = await ReadyAsync(http);
        Assert.AreEqual(HttpStatusCode.OK, status, body);
    }

    private static async Task<(HttpStatusCode Status, string Body)> ReadyAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [TestMethod]
    public async Task Token_IsRequired_ForEverythingButHealthAndReadiness_WhenConfigured()
    {
        var (process, _, _) = await PastryProcess.StartOtpAsync("--Admin:Port", "0", "--Admin:Token", "s3cret-token");
        await using var _process = process;
        var url = new Uri((await process.WaitForLineAsync(AdminUrl)).Groups[1].Value);
        using var http = new HttpClient { BaseAddress = url };

        Assert.AreEqual(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await http.GetAsync("/metrics")).StatusCode);
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await http.GetAsync("/")).StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "guess") } };
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        using var right = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-token") } };
        Assert.AreEqual(HttpStatusCode.OK, (await http.SendAsync(right)).StatusCode);
        await process.WaitForLineAsync(new Regex("Admin endpoint refused GET /metrics .*wrong token"));
    }

    [TestMethod]
    public async Task NonLoopbackAddress_WithoutToken_RefusesToStart_NamingTheKey()
    {
        await using var process = PastryProcess.Start("serve", "--role", "otp", "--Database:Path", string.Empty, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Host", "0.0.0.0", "--Admin:Port", "0");
        Assert.AreEqual(2, await process.WaitForExitAsync(), process.Output);
        StringAssert.Contains(process.Output, "Admin:Token is required");
    }

    [TestMethod]
    public async Task OperatorEject_WithoutTheActionHeader_IsRefused()
    {
        var (process, _, _) = await PastryProcess.StartOtpAsync("--Admin:Port", "0");
        await using var _process = process;
        var url = new Uri((await process.WaitForLineAsync(AdminUrl)).Groups[1].Value);
        using var http = new HttpClient { BaseAddress = url };
        using var body = new StringContent("{\"reason\":\"x\"}", System.Text.Encoding.UTF8, "application/json");
        var response = await http.PostAsync($"/api/sessions/{DoId.NewId()}/eject", body);
        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode, "A cross-site form cannot add the X-Pastry-Admin header, so a request without it is not the dashboard's.");
    }
}
