using Pastry.Otp.ClientAgent;

namespace Pastry.Tests.Otp;

/// <summary>
/// The one token bucket behind every rate limit (347 for messages and interest changes, 349 for new connections),
/// driven by an explicit millisecond clock: it starts full at twice the rate, refills at the rate, never holds more
/// than twice the rate, and says when it is full again (so the per-address table may forget it).
/// </summary>
[TestClass]
public sealed class TokenBucketTests
{
    [TestMethod]
    public void AFreshBucket_HoldsTwiceTheRate_ThenRefuses()
    {
        var bucket = new TokenBucket(4, nowMs: 1000);

        for (int i = 0; i < 8; i++)
        {
            Assert.IsTrue(bucket.TryTake(1000), $"token {i + 1} of 8");
        }

        Assert.IsFalse(bucket.TryTake(1000));
    }

    [TestMethod]
    public void ItRefills_AtTheRate_AToken_OnlyWhenAWholeOneHasGrown()
    {
        var bucket = new TokenBucket(4, nowMs: 0);
        Drain(ref bucket, 0);

        Assert.IsFalse(bucket.TryTake(249), "249 ms at 4 per second grow 0.996 of a token.");
        Assert.IsTrue(bucket.TryTake(250), "250 ms grow exactly one.");
        Assert.IsFalse(bucket.TryTake(250));
        Assert.IsTrue(bucket.TryTake(500));
    }

    [TestMethod]
    public void ALongPause_RefillsOnlyUpToTwiceTheRate()
    {
        var bucket = new TokenBucket(2, nowMs: 0);
        Drain(ref bucket, 0);

        int taken = 0;
        while (bucket.TryTake(3_600_000))
        {
            taken++;
        }

        Assert.AreEqual(4, taken, "An hour idle still allows only a burst of twice the rate.");
    }

    [TestMethod]
    public void IsFullAt_SaysWhenTheBucketHasRefilledCompletely()
    {
        var bucket = new TokenBucket(10, nowMs: 5000);
        Assert.IsTrue(bucket.IsFullAt(5000), "A fresh bucket is full.");

        Assert.IsTrue(bucket.TryTake(5000));
        Assert.IsFalse(bucket.IsFullAt(5000));
        Assert.IsFalse(bucket.IsFullAt(5099), "99 ms at 10 per second grow 0.99 of a token.");
        Assert.IsTrue(bucket.IsFullAt(5100));
    }

    private static void Drain(ref TokenBucket bucket, long nowMs)
    {
        while (bucket.TryTake(nowMs))
        {
        }
    }
}
