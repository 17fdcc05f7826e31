namespace Pastry.Otp.UberDogs;

/// <summary>
/// Failed-login bookkeeping per key (a username or an IP address): a few free failures, then an exponential back-off
/// between attempts, then a lockout window. Plain logic on a <see cref="TimeProvider"/>, so that tests drive the clock.
/// Its table is bounded by <see cref="AccountOptions.MaxTrackedLoginKeys"/>.
/// </summary>
internal sealed class LoginThrottle
{
    private readonly Dictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private readonly object gate = new();
    private readonly int freeFailures;
    private readonly int lockoutFailures;
    private readonly TimeSpan firstBackOff;
    private readonly TimeSpan maxBackOff;
    private readonly TimeSpan lockout;
    private readonly int maxKeys;
    private readonly TimeProvider time;

    public LoginThrottle(int freeFailures, int lockoutFailures, AccountOptions options, TimeProvider time)
    {
        this.freeFailures = freeFailures;
        this.lockoutFailures = lockoutFailures;
        firstBackOff = options.FirstLoginBackOff;
        maxBackOff = options.MaxLoginBackOff;
        lockout = options.LoginLockout;
        maxKeys = options.MaxTrackedLoginKeys;
        this.time = time;
    }

    /// <summary>How many keys are remembered now.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return entries.Count;
            }
        }
    }

    /// <summary>How long <paramref name="key"/> must still wait before its next attempt; zero when it may try now.</summary>
    public TimeSpan WaitFor(string key)
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            if (!entries.TryGetValue(key, out var entry))
            {
                return TimeSpan.Zero;
            }

            if (now - entry.LastFailure > lockout)
            {
                entries.Remove(key);
                return TimeSpan.Zero;
            }

            return entry.NextAttempt > now ? entry.NextAttempt - now : TimeSpan.Zero;
        }
    }

    /// <summary>Counts a failed attempt of <paramref name="key"/> and sets its next allowed attempt.</summary>
    public void Failed(string key)
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            if (!entries.TryGetValue(key, out var entry) || now - entry.LastFailure > lockout)
            {
                if (!entries.ContainsKey(key) && entries.Count >= maxKeys)
                {
                    MakeRoom(now);
                }

                entry = default;
            }

            int failures = entry.Failures + 1;
            var next = now;
            if (failures >= lockoutFailures)
            {
                next = now + lockout;
            }
            else if (failures > freeFailures)
            {
                int doublings = Math.Min(failures - freeFailures - 1, 30);
                double ms = Math.Min(maxBackOff.TotalMilliseconds, firstBackOff.TotalMilliseconds * Math.Pow(2, doublings));
                next = now + TimeSpan.FromMilliseconds(ms);
            }

            entries[key] = new Entry(failures, now, next);
        }
    }

    /// <summary>Forgets the failures of <paramref name="key"/> (after a successful login).</summary>
    public void Succeeded(string key)
    {
        lock (gate)
        {
            entries.Remove(key);
        }
    }

    /// <summary>Drops expired entries, then (if still full) the tenth that failed longest ago. Rare: O(n log n) once per n/10 inserts.</summary>
    private void MakeRoom(DateTimeOffset now)
    {
        foreach (var pair in entries.Where(p => now - p.Value.LastFailure > lockout && p.Value.NextAttempt <= now).ToList())
        {
            entries.Remove(pair.Key);
        }

        if (entries.Count < maxKeys)
        {
            return;
        }

        foreach (var pair in entries.OrderBy(p => p.Value.LastFailure).Take(Math.Max(1, maxKeys / 10)).ToList())
        {
            entries.Remove(pair.Key);
        }
    }

    private readonly record struct Entry(int Failures, DateTimeOffset LastFailure, DateTimeOffset NextAttempt);
}
