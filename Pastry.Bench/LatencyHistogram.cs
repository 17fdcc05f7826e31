using System.Numerics;

namespace Pastry.Bench;

/// <summary>
/// A fixed-size log-linear histogram of latencies in microseconds (HdrHistogram's idea with 32 sub-buckets per power
/// of two, so a percentile is within about 3% of the true value). Recording is an array increment: no allocation, no
/// lock. One writer per instance; instances are merged after the run.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 32;
    private const int LinearLimit = 2 * SubBuckets;

    // Values below 64 µs get one bucket each; above, 32 buckets per power of two up to 2^40 µs (12 days).
    private const int BucketCount = LinearLimit + (40 - 6 + 1) * SubBuckets;

    private readonly long[] counts = new long[BucketCount];
    private long max;
    private long total;

    /// <summary>Values recorded.</summary>
    public long Count => total;

    /// <summary>The largest value recorded, exactly.</summary>
    public long MaxMicroseconds => max;

    /// <summary>Records one latency.</summary>
    public void Record(long microseconds)
    {
        if (microseconds < 0)
        {
            microseconds = 0;
        }

        counts[IndexOf(microseconds)]++;
        total++;
        if (microseconds > max)
        {
            max = microseconds;
        }
    }

    /// <summary>Forgets every sample (between two measured phases, while nothing records).</summary>
    public void Clear()
    {
        Array.Clear(counts);
        total = 0;
        max = 0;
    }

    /// <summary>Adds every count of <paramref name="other"/> to this one (after the run; not thread-safe).</summary>
    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] += other.counts[i];
        }

        total += other.total;
        max = Math.Max(max, other.max);
    }

    /// <summary>The value at <paramref name="percentile"/> (0-100), as the upper edge of its bucket; 0 when empty.</summary>
    public long Percentile(double percentile)
    {
        if (total == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(total * percentile / 100.0));
        long seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperEdge(i), max);
            }
        }

        return max;
    }

    private static int IndexOf(long value)
    {
        if (value < LinearLimit)
        {
            return (int)value;
        }

        int highBit = 63 - BitOperations.LeadingZeroCount((ulong)value);
        int shift = highBit - 5;
        int index = LinearLimit + ((shift - 1) * SubBuckets) + (int)((value >> shift) - SubBuckets);
        return Math.Min(index, BucketCount - 1);
    }

    private static long UpperEdge(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }

        int shift = ((index - LinearLimit) / SubBuckets) + 1;
        long mantissa = ((index - LinearLimit) % SubBuckets) + SubBuckets;
        return ((mantissa + 1) << shift) - 1;
    }
}
