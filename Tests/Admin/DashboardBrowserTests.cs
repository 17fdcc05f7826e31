using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Demo.Tavern;
using Microsoft.Playwright;
using Pastry.Tests.Browser;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Admin;

/// <summary>
/// The dashboard in a real browser (Playwright driving Debian's chromium, installed by .ci/run) against the Tavern as
/// real processes: a server, scripted bots, and one walker that this test steers. The screenshots it takes are the
/// README's (set PASTRY_UPDATE_SCREENSHOTS=1 to copy them into docs/images/).
/// </summary>
[TestClass]
public sealed class DashboardBrowserTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    [TestMethod]
    public async Task Dashboard_ShowsTheBots_MovesTheirDots_AndEjectsASession()
    {
        Chromium.RequireOrSkip();

        string directory = Directory.CreateTempSubdirectory("pastry-dashboard-").FullName;
        await using var server = PastryProcess.StartDll(
            Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll"),
            new Dictionary<string, string> { ["TAVERN_WANDER_MS"] = "300" },
            "serve", "--role", "all", "--Database:Path", Path.Combine(directory, "tavern.db"), "--Database:AutoMigrate", "true",
            "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0", "--Accounts:Pbkdf2Iterations", "1000");
        var clients = System.Net.IPEndPoint.Parse((await server.WaitForLineAsync(new Regex("Client Agent listening on (\\S+:\\d+)"))).Groups[1].Value);
        string admin = (await server.WaitForLineAsync(new Regex("Admin endpoint listening on (http://\\S+?)/? "))).Groups[1].Value;
        await server.WaitForLineAsync(new Regex("AI application TavernAi started"));

        await using var bots = PastryProcess.StartDll(Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll"), new Dictionary<string, string> { ["TAVERN_BOT_MS"] = "700" }, "bots", "--count", "3", "--port", clients.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        for (int i = 1; i <= 3; i++)
        {
            await bots.WaitForLineAsync(new Regex($"bot{i} entered the world"), Timeout);
        }

        await using var walker = await TavernSession.JoinAsync(clients.Address.ToString(), clients.Port, "walker", "walker likes the map").WaitAsync(Timeout);
        var ejected = walker.Client.Ejected.FirstAsync().ToTask();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1500 } });
        page.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        await page.GotoAsync(admin + "/");

        // The bots and the walker are on the page (on the map, or in the tavern's rooms list).
        await page.WaitForFunctionAsync("() => ['bot1', 'bot2', 'bot3', 'walker'].every(n => document.body.innerText.includes(n + ' (Player)'))");

        // The district's wanderer walks the streets too: a dot of its own class on the map.
        await page.WaitForFunctionAsync("() => Object.values(window.pastryMap.dots).some(d => d.cls === 'Wanderer')");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#sessions tbody tr').length >= 4");

        // The walker steps east along the street; its dot follows.
        var before = await page.EvaluateAsync<float[]>("() => { const d = Object.values(window.pastryMap.dots).find(d => d.label === 'walker'); return d ? [d.x, d.y] : null; }");
        Assert.IsNotNull(before, "The walker starts on the street, so it is on the map.");
        walker.Step(5f, 0f);
        await page.WaitForFunctionAsync($"() => {{ const d = Object.values(window.pastryMap.dots).find(d => d.label === 'walker'); return d && d.x > {before[0].ToString(System.Globalization.CultureInfo.InvariantCulture)}; }}");
        // The bots walk by themselves (in and out of the tavern, about the street): some bot's dot is seen at two
        // different places. The page keeps what it saw between polls.
        await page.WaitForFunctionAsync(
            "() => { const seen = window.firstSeen ??= {}; return Object.values(window.pastryMap.dots).some(d => { if (!d.label.startsWith('bot')) return false; const at = seen[d.label] ??= [d.x, d.y]; return at[0] !== d.x || at[1] !== d.y; }); }",
            null,
            new PageWaitForFunctionOptions { Timeout = (float)TimeSpan.FromSeconds(90).TotalMilliseconds });

        // A few more refreshes, so that the screenshots have rate lines to show.
        await page.WaitForFunctionAsync("() => window.pastryMap.updates >= 8");
        await SaveScreenshotsAsync(page);

        // The operator ejects the walker; its client hears code 350 with the reason, and the page lists the eject.
        await page.FillAsync("#eject-reason", "walking through walls");
        await page.ClickAsync($"tr[data-account='{walker.Client.AccountId}'] button.eject");
        var eject = await ejected.WaitAsync(Timeout);
        Assert.AreEqual((int)Pastry.Wire.EjectCode.OperatorEject, eject.EjectCode);
        StringAssert.Contains(eject.Reason, "walking through walls");
        await page.WaitForFunctionAsync("() => document.querySelector('#ejects').innerText.includes('350 OperatorEject')");
        await server.WaitForLineAsync(new Regex("AUDIT operator at .* ejected session .* with 350: walking through walls \\(done\\)"));

        // The endpoints beside the dashboard answer in the browser too: live, ready (the AI included under --role all)
        // and Prometheus text with the Pastry meter and the runtime's metrics.
        var health = await page.GotoAsync(admin + "/healthz");
        Assert.AreEqual(200, health!.Status);
        Assert.AreEqual("ok", (await page.InnerTextAsync("body")).Trim());
        var ready = await page.GotoAsync(admin + "/readyz");
        Assert.AreEqual(200, ready!.Status);
        string readiness = await ready.TextAsync();
        foreach (string check in new[] { "ai", "database", "message-director", "client-agent", "otp" })
        {
            StringAssert.Contains(readiness, $"\"name\":\"{check}\",\"ready\":true");
        }

        var metrics = await page.GotoAsync(admin + "/metrics");
        Assert.AreEqual(200, metrics!.Status);
        string scrape = await metrics.TextAsync();
        foreach (string name in new[] { "pastry_client_agent_sessions", "pastry_client_agent_ejects_total{", "pastry_ai_link_state{", "pastry_database_batch_size_bucket", "dotnet_gc_heap_total_allocated_bytes_total" })
        {
            StringAssert.Contains(scrape, name, $"/metrics lacks {name}");
        }
    }

    private static async Task SaveScreenshotsAsync(IPage page)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        string dashboard = Path.Combine(folder, "dashboard.png");
        string map = Path.Combine(folder, "map.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = dashboard, FullPage = true });
        await page.Locator("#map-section").ScreenshotAsync(new LocatorScreenshotOptions { Path = map });
        Chromium.PublishScreenshot(dashboard, "dashboard.png");
        Chromium.PublishScreenshot(map, "map.png");
    }
}
