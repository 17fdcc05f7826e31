using System.Collections.Concurrent;

namespace Pastry.Otp.Admin;

/// <summary>
/// The checks behind <c>/readyz</c>, by name. The OTP adds its own (database open and migrated, Message Director and
/// Client Agent listening); the host adds others, such as <c>ai</c> when the AI runs in the same process.
/// </summary>
public sealed class AdminReadiness
{
    private readonly ConcurrentDictionary<string, Func<string?>> checks = new(StringComparer.Ordinal);

    /// <summary>Adds (or replaces) a check: it returns null when ready, or what is not ready yet.</summary>
    public void Add(string name, Func<string?> problem) => checks[name] = problem;

    /// <summary>Runs every check, in name order.</summary>
    public IReadOnlyList<ReadinessResult> Check() =>
        checks.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => Run(c.Key, c.Value)).ToList();

    private static ReadinessResult Run(string name, Func<string?> check)
    {
        try
        {
            string? problem = check();
            return new ReadinessResult(name, problem is null, problem ?? "ready");
        }
        catch (Exception ex)
        {
            return new ReadinessResult(name, false, $"the check failed: {ex.Message}");
        }
    }
}

/// <summary>One readiness check's answer.</summary>
/// <param name="Name">The check.</param>
/// <param name="Ready">Whether it passed.</param>
/// <param name="Detail">"ready", or what is missing.</param>
public sealed record ReadinessResult(string Name, bool Ready, string Detail);
