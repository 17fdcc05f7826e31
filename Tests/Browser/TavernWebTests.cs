using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Browser;

/// <summary>
/// The Tavern in a real browser: the README's first command (the Tavern's default run, a real process with its bots)
/// serves the Blazor WebAssembly page, and two chromium pages play it as two players over the WebSocket transport.
/// The screenshots it takes are the README's (PASTRY_UPDATE_SCREENSHOTS=1 copies one into docs/images/).
/// </summary>
[TestClass]
public sealed class TavernWebTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    [TestMethod]
    public async Task TwoPages_SeeEachOtherMove_Chat_KeepTheirGoldToThemselves_AndLeaveWhenClosed()
    {
        Chromium.RequireOrSkip();

        // The default run, as the README starts it, in a folder of its own (it keeps pastry.db in the working directory).
        string folder = Directory.CreateTempSubdirectory("pastry-tavern-web-").FullName;
        int port = Demo.Tavern.TavernWeb.FreePort();
        await using var tavern = PastryProcess.StartDotnet(
            folder,
            new Dictionary<string, string>
            {
                ["TAVERN_WANDER_MS"] = "300",

                // Wanderers come out at the players' door (in both pages' view) instead of across the map, where a
                // random walk reached the pages' neighbourhood within the wait in only some runs.
                ["TAVERN_WANDER_START"] = string.Create(CultureInfo.InvariantCulture, $"{Demo.Tavern.TavernWorld.StartPosition[0]},{Demo.Tavern.TavernWorld.StartPosition[1]}"),
                ["TAVERN_BOT_MS"] = "700",
                ["TAVERN_WAGE_MS"] = "3600000",
                ["PASTRY_Accounts__Pbkdf2Iterations"] = "1000",
            },
            Path.Combine(AppContext.BaseDirectory, "Demo.Tavern.dll"), "--port", port.ToString(CultureInfo.InvariantCulture), "--admin-port", "0", "--web-port", "0", "--count", "2");
        string url = (await tavern.WaitForLineAsync(new Regex("Play in your browser: (http://\\S+/) "), Timeout)).Groups[1].Value;
        await tavern.WaitForLineAsync(new Regex("world: [12] bots online"), TimeSpan.FromSeconds(60));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var ann = await OpenAsync(browser, url);
        var bob = await OpenAsync(browser, url);

        // Validation by the input: the server's password rule (8 characters) on the password field.
        await LogInAsync(ann, "ann", "short");
        await ann.WaitForFunctionAsync("() => document.querySelector('#password-error').innerText.length > 0");
        Assert.IsTrue(await ann.IsVisibleAsync("#login"), "A refused login stays on the form.");

        await LogInAsync(ann, "ann", "ann likes ale");
        await LogInAsync(bob, "bob", "bob likes mead");
        await ann.WaitForSelectorAsync("#gold");
        await bob.WaitForSelectorAsync("#gold");
        Assert.AreEqual("20", await ann.InnerTextAsync("#gold"));

        // Both start south of the tavern's door and see each other on the map.
        await ann.WaitForSelectorAsync("#map g.dot[data-name='bob']");
        await bob.WaitForSelectorAsync("#map g.dot[data-name='ann']");

        // Bob walks with the keyboard: one stride south (still at the door); Ann's page moves his dot.
        float bobY = await DotAsync(ann, "bob", "data-y");
        await bob.FocusAsync("#map");
        await bob.Keyboard.PressAsync("s");
        await ann.WaitForFunctionAsync($"() => parseFloat(document.querySelector(\"#map g.dot[data-name='bob']\").dataset.y) < {bobY.ToString(CultureInfo.InvariantCulture)}");

        // Ann walks with the mouse: a click on the cell to the east, then back; Bob's page sees her go and come back.
        float annX = await DotAsync(bob, "ann", "data-x");
        await ClickCellAsync(ann, 7, 4);
        await bob.WaitForFunctionAsync($"() => parseFloat(document.querySelector(\"#map g.dot[data-name='ann']\").dataset.x) > {(annX + 5).ToString(CultureInfo.InvariantCulture)}");
        await ClickCellAsync(ann, 6, 4);
        await bob.WaitForFunctionAsync($"() => parseFloat(document.querySelector(\"#map g.dot[data-name='ann']\").dataset.x) < {(annX + 1).ToString(CultureInfo.InvariantCulture)}");

        // The bots and the district's wanderer walk about the map too.
        await ann.WaitForFunctionAsync("() => document.querySelector('#map g.dot.wanderer') !== null", null, new PageWaitForFunctionOptions { Timeout = 60_000 });

        // Chat, and a line too long for Player.Say's rule, refused by the client beside the input.
        await ann.FillAsync("#say-text", "hello bob");
        await ann.ClickAsync("#say");
        await bob.WaitForFunctionAsync("() => document.querySelector('#chat').innerText.includes('ann: hello bob')");
        await bob.FillAsync("#say-text", new string('x', 130));
        await bob.ClickAsync("#say");
        await bob.WaitForFunctionAsync("() => document.querySelector('#say-error').innerText.includes('120')");
        await SaveScreenshotAsync(ann, "tavern-web-street.png");

        // Into the bar: Ann buys a drink; her purse changes on her page only.
        await ann.ClickAsync("#go-inside");
        await bob.ClickAsync("#go-inside");
        await ann.WaitForSelectorAsync("#buy");
        await bob.WaitForSelectorAsync("#buy");
        await ann.WaitForSelectorAsync("#map g.dot[data-name='bob']");
        await ann.ClickAsync("#buy");
        await ann.WaitForFunctionAsync($"() => document.querySelector('#gold').innerText === '{20 - Demo.Tavern.TavernWorld.DrinkPrice}'");
        Assert.AreEqual("20", await bob.InnerTextAsync("#gold"), "Bob's purse is his own.");
        StringAssert.DoesNotMatch(await bob.InnerTextAsync("body"), new Regex($"\\b{20 - Demo.Tavern.TavernWorld.DrinkPrice} gold"), "Ann's gold is not shown to Bob.");

        // Notices: Ann pins one, both read it; one too long is refused beside the input.
        await ann.FillAsync("#notice-text", "Ale night on Friday");
        await ann.ClickAsync("#pin");
        await bob.WaitForFunctionAsync("() => document.querySelector('#notices').innerText.includes('Ale night on Friday')");
        await ann.WaitForFunctionAsync("() => document.querySelector('#notices').innerText.includes('Ale night on Friday')");
        await ann.FillAsync("#notice-text", new string('n', 90));
        await ann.ClickAsync("#pin");
        await ann.WaitForFunctionAsync("() => document.querySelector('#notice-error').innerText.includes('80')");
        await SaveScreenshotAsync(ann, "tavern-web-bar.png");

        // Bob closes his page: his player leaves the world, and Ann's page says so and drops him.
        await bob.CloseAsync();
        await ann.WaitForFunctionAsync("() => document.querySelector('#chat').innerText.includes('bob left the world')");
        await ann.WaitForFunctionAsync("() => document.querySelector(\"#map g.dot[data-name='bob']\") === null");
        Assert.IsFalse((await ann.InnerTextAsync("#here")).Contains("bob", StringComparison.Ordinal), "Bob is no longer here.");
    }

    private static async Task<IPage> OpenAsync(IBrowser browser, string url)
    {
        // A context each: two players, as two people's browsers would be.
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        var failed = new List<string>();
        page.RequestFailed += (_, request) => failed.Add(request.Url);
        await page.GotoAsync(url);
        // Loading the .NET runtime and the app is slow on a loaded machine; the form appears when it has started.
        await page.WaitForSelectorAsync("#login", new PageWaitForSelectorOptions { Timeout = 120_000 });
        Assert.AreEqual(0, failed.Count, $"Every file of the page comes from the Tavern: {string.Join(", ", failed)}");
        return page;
    }

    private static async Task LogInAsync(IPage page, string user, string password)
    {
        await page.FillAsync("#user", user);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#join");
    }

    private static async Task<float> DotAsync(IPage page, string name, string attribute) =>
        float.Parse(await page.GetAttributeAsync($"#map g.dot[data-name='{name}']", attribute) ?? "NaN", CultureInfo.InvariantCulture);

    /// <summary>Clicks the map's cell (x, y) (y counts up from the south edge).</summary>
    private static async Task ClickCellAsync(IPage page, int x, int y)
    {
        const int cell = 44;
        await page.Locator("#map svg").ClickAsync(new LocatorClickOptions { Position = new Position { X = (x * cell) + (cell / 2), Y = ((9 - y) * cell) + (cell / 2) } });
    }

    private static async Task SaveScreenshotAsync(IPage page, string name)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
        Chromium.PublishScreenshot(file, name);
    }
}
