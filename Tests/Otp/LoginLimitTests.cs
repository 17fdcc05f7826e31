using System.Net;
using Pastry.Otp.ClientAgent;
using Pastry.Otp.UberDogs;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class LoginLimitTests
{
    [TestMethod]
    public void Throttle_AfterTheFreeFailures_WaitsDoublingBackOffs_ThenLocksOut()
    {
        var clock = new SteppedTime();
        var options = new AccountOptions { FirstLoginBackOff = TimeSpan.FromSeconds(1), MaxLoginBackOff = TimeSpan.FromSeconds(4), LoginLockout = TimeSpan.FromMinutes(10) };
        var throttle = new LoginThrottle(freeFailures: 2, lockoutFailures: 6, options, clock);

        var waits = new List<TimeSpan>();
        for (int i = 0; i < 6; i++)
        {
            throttle.Failed("ann");
            waits.Add(throttle.WaitFor("ann"));
        }

        CollectionAssert.AreEqual(
            new[] { TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromMinutes(10) },
            waits);
        clock.Now += TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1);
        Assert.AreEqual(TimeSpan.Zero, throttle.WaitFor("ann"), "A quiet lockout window forgets the failures.");
        Assert.AreEqual(0, throttle.Count);
    }

    [TestMethod]
    public void Throttle_Success_ForgetsTheFailures_AndTheTableIsBounded()
    {
        var clock = new SteppedTime();
        var throttle = new LoginThrottle(0, 100, new AccountOptions { MaxTrackedLoginKeys = 100 }, clock);
        throttle.Failed("ann");
        throttle.Succeeded("ann");
        Assert.AreEqual(TimeSpan.Zero, throttle.WaitFor("ann"));

        for (int i = 0; i < 10_000; i++)
        {
            throttle.Failed($"made-up-{i}");
        }

        Assert.IsTrue(throttle.Count <= 100, $"{throttle.Count} keys remembered");
    }

    [TestMethod]
    public void AddressLimits_CapConnections_AndTheRate_PerAddress_LoggingOncePerEpisode()
    {
        var limits = new AddressLimits(maxConnections: 3, newConnectionsPerSecond: 100);
        var a = IPAddress.Parse("10.0.0.1");
        var b = IPAddress.Parse("10.0.0.2");
        for (int i = 0; i < 3; i++)
        {
            Assert.IsNull(limits.TryAdmit(a, 0, out _));
        }

        StringAssert.Contains(limits.TryAdmit(a, 0, out bool first), "already has 3");
        Assert.IsTrue(first);
        Assert.IsNotNull(limits.TryAdmit(a, 0, out bool again));
        Assert.IsFalse(again, "One warning per episode.");
        Assert.IsNull(limits.TryAdmit(b, 0, out _), "Another address is not affected.");
        limits.Release(a);
        Assert.IsNull(limits.TryAdmit(a, 0, out _));

        var slow = new AddressLimits(maxConnections: 1000, newConnectionsPerSecond: 1);
        Assert.IsNull(slow.TryAdmit(a, 0, out _));
        Assert.IsNull(slow.TryAdmit(a, 0, out _));
        StringAssert.Contains(slow.TryAdmit(a, 0, out _), "faster than 1 per second");
        Assert.IsNull(slow.TryAdmit(a, 1000, out _), "The bucket refills.");
    }

    [TestMethod]
    [DataRow("203.0.113.7", "203.0.113.7")]
    [DataRow("::ffff:203.0.113.7", "203.0.113.7")]
    [DataRow("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::")]
    [DataRow("2001:db8:1:2::1", "2001:db8:1:2::")]
    [DataRow("2001:db8:1:3::1", "2001:db8:1:3::")]
    [DataRow("::1", "::")]
    public void AddressKey_IsTheIPv4Address_OrTheIPv6Slash64(string address, string key) =>
        Assert.AreEqual(IPAddress.Parse(key), AddressLimits.KeyOf(IPAddress.Parse(address)));

    [TestMethod]
    public void AddressLimits_CountAWholeIPv6Slash64_AsOneAddress_AndIPv4AddressesApart()
    {
        var limits = new AddressLimits(maxConnections: 2, newConnectionsPerSecond: 100);
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("2001:db8:1:2::1"), 0, out _));
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("2001:db8:1:2:ffff::9"), 0, out _));
        StringAssert.Contains(limits.TryAdmit(IPAddress.Parse("2001:db8:1:2:1234:5678:9abc:def0"), 0, out _), "2001:db8:1:2::/64 already has 2");
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("2001:db8:1:3::1"), 0, out _), "The next /64 is another subscriber.");
        limits.Release(IPAddress.Parse("2001:db8:1:2::77"));
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("2001:db8:1:2::1"), 0, out _), "A release by any address of the /64 frees its slot.");

        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("198.51.100.1"), 0, out _));
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("198.51.100.1"), 0, out _));
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("198.51.100.2"), 0, out _), "IPv4 neighbours are counted apart.");
        Assert.IsNotNull(limits.TryAdmit(IPAddress.Parse("::ffff:198.51.100.1"), 0, out _), "A mapped IPv4 address counts as that address.");
    }

    [TestMethod]
    public void AddressLimits_AnAdmissionEndsTheEpisode_SoTheNextRefusalIsLoggedAgain()
    {
        var limits = new AddressLimits(maxConnections: 1, newConnectionsPerSecond: 100);
        var a = IPAddress.Parse("10.0.0.1");
        Assert.IsNull(limits.TryAdmit(a, 0, out bool admittedFirst));
        Assert.IsFalse(admittedFirst, "An admission is no refusal.");
        Assert.IsNotNull(limits.TryAdmit(a, 0, out bool first));
        Assert.IsTrue(first);
        limits.Release(a);
        Assert.IsNull(limits.TryAdmit(a, 0, out _));
        Assert.IsNotNull(limits.TryAdmit(a, 0, out bool nextEpisode));
        Assert.IsTrue(nextEpisode, "A refusal after an admission starts a new episode, which is logged once more.");
    }

    [TestMethod]
    public void AddressLimits_ForgetIdleAddressesWhoseBucketRefilled_KeepConnectedOnes_AndPruneOnlyWhenTheTableDoubled()
    {
        // A flood of one-shot addresses must not grow the table for ever: past 4096 entries, a new address prunes
        // the ones with no connection whose bucket is full again (they would start afresh anyway).
        var limits = new AddressLimits(maxConnections: 10, newConnectionsPerSecond: 1);
        var connected = IPAddress.Parse("192.0.2.1");
        Assert.IsNull(limits.TryAdmit(connected, 0, out _));
        for (int i = 1; i < 4096; i++)
        {
            var address = new IPAddress(new byte[] { 10, 0, (byte)(i >> 8), (byte)i });
            Assert.IsNull(limits.TryAdmit(address, 0, out _));
            limits.Release(address);
        }

        Assert.AreEqual(4096, limits.Count);
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("10.1.0.1"), 500, out _), "Half a second later the idle buckets are not full yet.");
        Assert.AreEqual(4097, limits.Count, "Nothing could be pruned.");
        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("10.1.0.2"), 60_000, out _));
        Assert.AreEqual(4098, limits.Count, "The prune that found nothing moved the next one to twice the table's size, not to the next address.");

        for (int i = 0; limits.Count < 8192; i++)
        {
            Assert.IsNull(limits.TryAdmit(new IPAddress(new byte[] { 10, 2, (byte)(i >> 8), (byte)i }), 60_000, out _));
        }

        Assert.IsNull(limits.TryAdmit(IPAddress.Parse("10.3.0.1"), 60_000, out _));
        // The 4095 idle addresses of time 0 are gone; the connected one and every address admitted since (all still
        // connected) stay, and the new one is added.
        Assert.AreEqual(8192 - 4095 + 1, limits.Count);
    }

    private sealed class SteppedTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
