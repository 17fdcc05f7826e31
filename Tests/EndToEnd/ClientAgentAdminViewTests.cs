using System.Net;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The Client Agent's view for the admin endpoint (<c>ClientAgent.Admin.cs</c>, <c>ClientSession.Admin.cs</c>), in
/// process: the session list's order, paging bounds and filter, an operator's eject (350 on the wire, recorded newest
/// first), and the interest count.
/// </summary>
[TestClass]
public sealed class ClientAgentAdminViewTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private static int users;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Sessions_AreListedOldestFirst_PagedWithinBounds_AndFilteredByIdAccountOrAddress()
    {
        await using var server = InProcessOtp.Start();
        await using var first = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser());
        await using var second = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser());
        await using var other = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser(), localAddress: IPAddress.Parse("127.0.0.7"));

        var (total, all) = server.ClientAgent.Sessions(0, 10);
        Assert.AreEqual(3, total);
        CollectionAssert.AreEqual(new[] { first.SessionId, second.SessionId, other.SessionId }, all.Select(s => s.Id).ToArray());
        Assert.AreEqual(first.AccountId, all[0].Account);
        Assert.AreEqual("Established", all[0].Stage, "logged in");

        Assert.AreEqual(second.SessionId, server.ClientAgent.Sessions(1, 1).Page.Single().Id);
        Assert.HasCount(3, server.ClientAgent.Sessions(-5, 10).Page, "a negative offset starts at the first");
        Assert.IsEmpty(server.ClientAgent.Sessions(0, -1).Page);
        Assert.AreEqual(3, server.ClientAgent.Sessions(3, 10).Total, "the total counts every match, not the page");
        Assert.IsEmpty(server.ClientAgent.Sessions(3, 10).Page);

        Assert.AreEqual(other.SessionId, server.ClientAgent.Sessions(0, 10, "127.0.0.7").Page.Single().Id);
        Assert.AreEqual(second.SessionId, server.ClientAgent.Sessions(0, 10, second.AccountId.ToString().ToUpperInvariant()).Page.Single().Id);
        Assert.AreEqual(first.SessionId, server.ClientAgent.Sessions(0, 10, first.SessionId.ToString()).Page.Single().Id);
        Assert.AreEqual((0, 0), (server.ClientAgent.Sessions(0, 10, "no-such-thing").Total, server.ClientAgent.Sessions(0, 10, "no-such-thing").Page.Count));
        Assert.AreEqual(3, server.ClientAgent.Sessions(0, 10, "  ").Total, "a blank filter is no filter");
    }

    [TestMethod]
    public async Task AnOperatorEject_Sends350WithTheReason_IsRecordedNewestFirst_AndASecondOneFindsNothing()
    {
        await using var server = InProcessOtp.Start();
        await using var first = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser());
        await using var second = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser());

        Assert.IsTrue(server.ClientAgent.EjectByOperator(first.SessionId, "cheating"));
        StringAssert.Contains(await first.ExpectEjectAsync(EjectCode.OperatorEject), "cheating");
        Assert.IsTrue(server.ClientAgent.EjectByOperator(second.SessionId, "spam"));
        await second.ExpectEjectAsync(EjectCode.OperatorEject);
        await first.Closed.Task.WaitAsync(Timeout);

        var recent = server.ClientAgent.RecentEjects;
        Assert.HasCount(2, recent);
        Assert.AreEqual((second.SessionId, second.AccountId, 350, "OperatorEject"), (recent[0].Session, recent[0].Account, recent[0].Code, recent[0].CodeName), "newest first");
        StringAssert.Contains(recent[0].Reason, "spam");
        Assert.AreEqual(first.SessionId, recent[1].Session);
        Assert.IsFalse(server.ClientAgent.EjectByOperator(DoId.NewId(), "nobody"), "no such session");
        Assert.ThrowsExactly<ArgumentException>(() => server.ClientAgent.EjectByOperator(first.SessionId, " "));
    }

    [TestMethod]
    public async Task TheInterestCount_SumsEverySessionsInterests()
    {
        await using var server = InProcessOtp.Start();
        await using var first = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser());
        await using var second = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, NextUser());

        await first.AddInterestAsync(1, DoId.Empty, 0);
        await first.AddInterestAsync(2, DoId.Empty, 1);
        await second.AddInterestAsync(1, DoId.Empty, 0);
        foreach (var (client, count) in new[] { (first, 2), (second, 1) })
        {
            for (int done = 0; done < count;)
            {
                done += (await client.NextAsync()).Type == MessageType.InterestDone ? 1 : 0;
            }
        }

        Assert.AreEqual(3, server.ClientAgent.InterestCount);
        Assert.AreEqual(2, server.ClientAgent.Sessions(0, 10, first.SessionId.ToString()).Page.Single().Interests);
    }

    [TestMethod]
    public async Task TheRecentEjects_KeepOnlyTheNewestHundred_SoAClientEjectedOverAndOverCannotGrowThem()
    {
        // A client can be ejected as often as it reconnects, and an eject's reason can quote what it sent: the list the
        // dashboard shows is capped, the oldest record dropped for each new one.
        const int capacity = Pastry.Otp.ClientAgent.ClientAgent.RecentEjectCapacity;
        const int ejects = capacity + 5;
        await using var server = InProcessOtp.Start(o => o.ClientAgent.MaxNewConnectionsPerSecondPerAddress = 1000);
        var sessions = new List<DoId>();
        for (int i = 0; i < ejects; i++)
        {
            await using var client = await RawClient.ConnectAsync(server.ClientEndPoint);
            await client.HelloAsync(InProcessOtp.Registry.SchemaHash, $"nightly-{i}");
            StringAssert.Contains(await client.ExpectEjectAsync(EjectCode.BadVersion), "different releases");
            sessions.Add(server.ClientAgent.RecentEjects[0].Session);
        }

        var recent = server.ClientAgent.RecentEjects;
        Assert.HasCount(capacity, recent);
        CollectionAssert.AreEqual(sessions.Skip(5).Reverse().ToArray(), recent.Select(r => r.Session).ToArray(), "the newest hundred, newest first");
        StringAssert.Contains(recent[0].Reason, $"nightly-{ejects - 1}");
    }

    private static string NextUser() => $"admin-view{Interlocked.Increment(ref users)}";
}
