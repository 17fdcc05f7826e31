namespace Pastry.Tests;

/// <summary>
/// How long a test waits for something that should happen. The waits are generous so that a loaded CI box never
/// fails a test that would pass; <c>PASTRY_TEST_WAIT_CAP</c> (seconds) shortens them for mutation runs, where a
/// mutant that silences a message would otherwise make its test wait the full time before it fails.
/// Tests/stryker/run-chunks.sh sets it; nothing else should.
/// </summary>
internal static class TestWaits
{
    private static readonly TimeSpan? CapValue =
        double.TryParse(Environment.GetEnvironmentVariable("PASTRY_TEST_WAIT_CAP"), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : null;

    /// <summary>The wait, or the cap when one is set and shorter.</summary>
    public static TimeSpan Cap(TimeSpan wait) => CapValue is { } cap && cap < wait ? cap : wait;

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds, failing with <paramref name="what"/> (read at the failure) once
    /// <paramref name="wait"/> (capped as <see cref="Cap"/> does) has passed: for state that has no event to await.
    /// </summary>
    public static async Task UntilAsync(Func<bool> condition, Func<string> what, TimeSpan wait)
    {
        var capped = Cap(wait);
        var deadline = DateTime.UtcNow + capped;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new AssertFailedException($"Not within {capped.TotalSeconds:0.###} s: {what()}");
            }

            await Task.Delay(5);
        }
    }
}
