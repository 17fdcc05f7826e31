namespace Pastry.Otp.ClientAgent;

/// <summary>
/// A token bucket on a millisecond clock: <c>rate</c> tokens a second, holding at most twice that, full at the start.
/// One mechanism for every per-session and per-address rate limit (messages, interest changes, new connections).
/// Not thread-safe: its owner's lock guards it.
/// </summary>
internal struct TokenBucket
{
    private readonly double rate;
    private double tokens;
    private long refilledMs;

    public TokenBucket(double ratePerSecond, long nowMs)
    {
        rate = ratePerSecond;
        tokens = ratePerSecond * 2;
        refilledMs = nowMs;
    }

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake(long nowMs)
    {
        Refill(nowMs);
        if (tokens < 1)
        {
            return false;
        }

        tokens -= 1;
        return true;
    }

    /// <summary>Whether the bucket would be full at <paramref name="nowMs"/> (its owner may then forget it).</summary>
    public readonly bool IsFullAt(long nowMs) => tokens + ((nowMs - refilledMs) * rate / 1000.0) >= rate * 2;

    private void Refill(long nowMs)
    {
        tokens = Math.Min(rate * 2, tokens + ((nowMs - refilledMs) * rate / 1000.0));
        refilledMs = nowMs;
    }
}
