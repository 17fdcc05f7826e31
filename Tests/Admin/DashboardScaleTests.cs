using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Otp.Admin;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Admin;

/// <summary>
/// The dashboard with many real sessions (TCP connections on loopback that said hello): the session list comes a page
/// at a time however many are connected, and whatever a request asks for, a page never grows past
/// <see cref="DashboardFeed.MaxPageSize"/>. <c>PASTRY_DASHBOARD_SESSIONS</c> sets how many (default 1,500; the
/// README's 5,000 is measured with it, see notes).
/// </summary>
[TestClass]
public sealed class DashboardScaleTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task SessionList_WithManySessions_IsPaginated_AndAPageIsBounded()
    {
        int sessions = int.TryParse(Environment.GetEnvironmentVariable("PASTRY_DASHBOARD_SESSIONS"), CultureInfo.InvariantCulture, out int n) ? n : 1_500;
        await using var server = InProcessOtp.Start(options =>
        {
            options.ClientAgent.HeartbeatTimeout = TimeSpan.FromMinutes(10);
            options.ClientAgent.LoginTimeout = TimeSpan.FromMinutes(10);
        });
        var admin = new AdminServer(new AdminOptions { Port = 0 }, () => server, new AdminReadiness(), NullLoggerFactory.Instance);
        await admin.StartAsync(CancellationToken.None);
        await using var _admin = admin;

        // Real sessions: each connection says hello and gets its HelloResp, so the Client Agent holds it.
        var clients = new RawClient[sessions];
        using (var gate = new SemaphoreSlim(64))
        {
            await Task.WhenAll(Enumerable.Range(0, sessions).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var client = await RawClient.ConnectAsync(server.ClientEndPoint);
                    await client.HelloAsync(InProcessOtp.Registry.SchemaHash);
                    await client.ExpectAsync(MessageType.HelloResp);
                    clients[i] = client;
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        try
        {
            using var http = new HttpClient { BaseAddress = admin.Url };

            // The default page: 50 of them, and the total.
            var watch = Stopwatch.StartNew();
            using var response = await http.GetAsync(new Uri("/api/overview", UriKind.Relative));
            string first = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(System.Net.HttpStatusCode.OK, response.StatusCode, first);
            watch.Stop();
            var page = Sessions(first);
            Assert.AreEqual(sessions, page.Total);
            Assert.AreEqual(DashboardFeed.DefaultPageSize, page.Ids.Count);
            watch.Restart();
            string warm = await http.GetStringAsync(new Uri("/api/overview", UriKind.Relative));
            watch.Stop();
            TestContext.WriteLine($"{sessions} sessions: /api/overview {first.Length:N0} bytes; a warm refresh {warm.Length:N0} bytes in {watch.Elapsed.TotalMilliseconds:F0} ms");

            // A request for everything still gets one bounded page; odd numbers are clamped, not errors.
            Assert.AreEqual(DashboardFeed.MaxPageSize, Sessions(await http.GetStringAsync(new Uri("/api/overview?count=1000000", UriKind.Relative))).Ids.Count);
            Assert.AreEqual(1, Sessions(await http.GetStringAsync(new Uri("/api/overview?count=-5&offset=-9", UriKind.Relative))).Ids.Count);
            Assert.AreEqual(0, Sessions(await http.GetStringAsync(new Uri($"/api/overview?offset={sessions}", UriKind.Relative))).Ids.Count);

            // Walking the pages visits every session once.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int offset = 0; offset < sessions; offset += DashboardFeed.MaxPageSize)
            {
                foreach (string id in Sessions(await http.GetStringAsync(new Uri($"/api/overview?offset={offset}&count={DashboardFeed.MaxPageSize}", UriKind.Relative))).Ids)
                {
                    Assert.IsTrue(seen.Add(id), $"session {id} is on two pages");
                }
            }

            Assert.AreEqual(sessions, seen.Count);

            // The filter finds one session among them all.
            string one = seen.ElementAt(sessions / 2);
            var found = Sessions(await http.GetStringAsync(new Uri($"/api/overview?filter={one}", UriKind.Relative)));
            Assert.AreEqual(1, found.Total);
            Assert.AreEqual(one, found.Ids.Single());

            // The live feed sends the same bounded page.
            using var events = new HttpRequestMessage(HttpMethod.Get, new Uri("/events", UriKind.Relative));
            using var stream = await http.SendAsync(events, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
            string? line;
            do
            {
                line = await reader.ReadLineAsync().WaitAsync(RawClient.Timeout);
            }
            while (line is not null && !line.StartsWith("data: ", StringComparison.Ordinal));

            Assert.IsNotNull(line, "the event stream ended before its first event");
            var live = Sessions(line["data: ".Length..]);
            Assert.AreEqual(sessions, live.Total);
            Assert.AreEqual(DashboardFeed.DefaultPageSize, live.Ids.Count);

            // A page's size does not depend on how many sessions there are (50 sessions of about 300 bytes each).
            Assert.IsTrue(first.Length < 64 * 1024, $"/api/overview is {first.Length} bytes with {sessions} sessions");
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
        }
    }

    private static (int Total, List<string> Ids) Sessions(string overview)
    {
        using var json = JsonDocument.Parse(overview);
        var sessions = json.RootElement.GetProperty("sessions");
        return (sessions.GetProperty("total").GetInt32(), sessions.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToList());
    }
}
