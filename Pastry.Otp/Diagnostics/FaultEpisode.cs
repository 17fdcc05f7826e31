using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Pastry.Otp.Diagnostics;

/// <summary>
/// Logs a failing dependency (a full disk, a read-only file) once per episode instead of once per request: the first
/// failure is an error with its exception, later ones are counted, and the first success after them logs the
/// recovery with the count and the duration. Thread-safe.
/// </summary>
internal sealed class FaultEpisode
{
    private readonly ILogger logger;
    private readonly string what;
    private readonly string consequence;
    private readonly object gate = new();
    private long failures;
    private long startedAt;
    private bool active;

    /// <param name="logger">Where the two lines of an episode go.</param>
    /// <param name="what">The dependency, as the start of a sentence ("The database").</param>
    /// <param name="consequence">What callers get meanwhile, for the operator ("requests are answered with an error").</param>
    public FaultEpisode(ILogger logger, string what, string consequence)
    {
        this.logger = logger;
        this.what = what;
        this.consequence = consequence;
    }

    /// <summary>Whether the dependency is failing now (an episode began and has not recovered).</summary>
    public bool Active
    {
        get
        {
            lock (gate)
            {
                return active;
            }
        }
    }

    /// <summary>Records a failure; the first of an episode is logged as an error with <paramref name="error"/>.</summary>
    public void Failed(Exception error)
    {
        lock (gate)
        {
            failures++;
            if (active)
            {
                logger.LogDebug(error, "{What} still failing ({Failures} failures in this episode)", what, failures);
                return;
            }

            active = true;
            failures = 1;
            startedAt = Stopwatch.GetTimestamp();
        }

        logger.LogError(error, "{What} is failing: {Message}. Meanwhile {Consequence}; this is logged once until it recovers", what, error.Message, consequence);
    }

    /// <summary>Records a success; the first after a failure ends the episode and logs the recovery.</summary>
    public void Succeeded()
    {
        long count;
        TimeSpan lasted;
        lock (gate)
        {
            if (!active)
            {
                return;
            }

            active = false;
            count = failures;
            lasted = Stopwatch.GetElapsedTime(startedAt);
        }

        logger.LogWarning("{What} recovered after {Failures} failure(s) over {Seconds:F1} s", what, count, lasted.TotalSeconds);
    }
}
