namespace Pastry.Client;

/// <summary>
/// NTP-style clock synchronisation: each sample is (client send time, server time, client receive time); its offset
/// is server − midpoint and its round trip is receive − send. Of the recent samples the one with the shortest round
/// trip wins, since its midpoint is the most certain. <see cref="ServerTime"/> never goes backwards.
/// </summary>
public sealed class ClientClock
{
    private readonly object gate = new();
    private readonly TimeProvider time;
    private readonly Queue<(TimeSpan Offset, TimeSpan RoundTrip)> samples = new();
    private readonly int keep;
    private DateTime lastServerTime = DateTime.MinValue;

    /// <summary>Creates a clock over <paramref name="time"/>, keeping <paramref name="keep"/> samples.</summary>
    public ClientClock(TimeProvider time, int keep = 8)
    {
        this.time = time;
        this.keep = Math.Max(1, keep);
    }

    /// <summary>Whether at least one sample arrived.</summary>
    public bool IsSynchronized
    {
        get
        {
            lock (gate)
            {
                return samples.Count > 0;
            }
        }
    }

    /// <summary>How many samples are kept now (at most the configured number).</summary>
    public int SampleCount
    {
        get
        {
            lock (gate)
            {
                return samples.Count;
            }
        }
    }

    /// <summary>The estimated server clock minus the local clock.</summary>
    public TimeSpan Offset { get; private set; }

    /// <summary>The round trip of the sample in use.</summary>
    public TimeSpan RoundTrip { get; private set; }

    /// <summary>The estimated server time (UTC). It never goes backwards, even when a better sample lowers the offset.</summary>
    public DateTime ServerTime
    {
        get
        {
            lock (gate)
            {
                var now = time.GetUtcNow().UtcDateTime + Offset;
                if (now < lastServerTime)
                {
                    now = lastServerTime;
                }

                lastServerTime = now;
                return now;
            }
        }
    }

    /// <summary>The local time to put in a ClockSync request.</summary>
    public long LocalTicks => time.GetUtcNow().UtcTicks;

    /// <summary>Raised after each sample is added, with the number kept (tests await a count instead of polling it).</summary>
    internal event Action<int>? SampleAdded;

    /// <summary>Adds one sample from a ClockSync answer.</summary>
    public void AddSample(long clientSendTicks, long serverTicks, long clientReceiveTicks)
    {
        int count;
        var roundTrip = TimeSpan.FromTicks(Math.Max(0, clientReceiveTicks - clientSendTicks));
        var offset = TimeSpan.FromTicks(serverTicks - (clientSendTicks + ((clientReceiveTicks - clientSendTicks) / 2)));
        lock (gate)
        {
            samples.Enqueue((offset, roundTrip));
            while (samples.Count > keep)
            {
                samples.Dequeue();
            }

            var best = samples.OrderBy(s => s.RoundTrip).First();
            Offset = best.Offset;
            RoundTrip = best.RoundTrip;
            count = samples.Count;
        }

        SampleAdded?.Invoke(count);
    }
}
