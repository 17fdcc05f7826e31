using Microsoft.Playwright;

namespace Pastry.Tests.Browser;

/// <summary>
/// Debian's chromium driven by Playwright (Playwright's own browser download is not reachable here): .ci/run installs
/// it and sets TESTS_REQUIRE_BROWSER=1, so there a missing browser fails the test instead of skipping it.
/// </summary>
internal static class Chromium
{
    public const string Path = "/usr/bin/chromium";

    /// <summary>Fails (in CI) or skips (elsewhere) the test when chromium is not installed.</summary>
    public static void RequireOrSkip()
    {
        if (File.Exists(Path))
        {
            return;
        }

        string missing = $"{Path} is missing: apt-get install -y chromium (.ci/run does).";
        if (Environment.GetEnvironmentVariable("TESTS_REQUIRE_BROWSER") == "1")
        {
            Assert.Fail(missing);
        }

        Assert.Inconclusive(missing);
    }

    /// <summary>Starts a headless chromium with nothing of its own going on (no updates, no sync, no first-run pages).</summary>
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright) =>
        playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Path,
            Headless = true,
            Args = new[] { "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run" },
        });

    /// <summary>
    /// Saves <paramref name="file"/> (a screenshot next to the tests) as docs/images/<paramref name="name"/> when
    /// PASTRY_UPDATE_SCREENSHOTS=1: the README's pictures come from the tests.
    /// </summary>
    public static void PublishScreenshot(string file, string name)
    {
        if (Environment.GetEnvironmentVariable("PASTRY_UPDATE_SCREENSHOTS") != "1")
        {
            return;
        }

        string? root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(System.IO.Path.Combine(root, "Pastry.sln")))
        {
            root = System.IO.Path.GetDirectoryName(root);
        }

        Assert.IsNotNull(root, "Pastry.sln not found above the test's directory.");
        string images = System.IO.Path.Combine(root, "docs", "images");
        Directory.CreateDirectory(images);
        File.Copy(file, System.IO.Path.Combine(images, name), overwrite: true);
    }
}
