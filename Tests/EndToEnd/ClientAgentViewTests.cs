using System.Text.RegularExpressions;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// What a session's view does on the State Server's rarer answers, against an in-process OTP over real loopback
/// sockets: an interest under a parent the policy left to the State Server, which finds it not public (115), and an
/// object in view changing owner (its owner's frame, then everyone's). Written from mutation testing (TESTING.md).
/// </summary>
[TestClass]
public sealed class ClientAgentViewTests
{
    [TestMethod]
    public async Task AnInterestUnderAParentNotInViewAndNotPublic_IsRefusedByTheStateServer_115()
    {
        // The default policy leaves a parent the session neither sees nor owns under to the State Server, which
        // answers only for public parents (the root, or an object at the root): a knight inside the realm is neither.
        await using var world = OtpWorld.Start();
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();

        await client.AddInterestAsync(7, knight.DoId, 1);

        Assert.AreEqual(
            "interest 7 is under a parent this session cannot see: open it through an object in view, the parent of an object it owns, or a public parent (the root or an object at the root)",
            await client.ExpectEjectAsync(EjectCode.ForbiddenInterest));
    }

    [TestMethod]
    public async Task AnObjectInView_ChangingOwner_IsSentAsItsOwnerSeesIt_ThenAsOthersDo()
    {
        await using var world = OtpWorld.Start();
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        var other = await world.ClientAsync();
        Assert.IsFalse((await world.InterestAsync(client, 1, 1)).Single().Owned);

        world.Ai.SetOwner(knight.DoId, client.AccountId);
        var owned = await client.NextAsync();
        world.Ai.SetOwner(knight.DoId, other.AccountId);
        var given = await client.NextAsync();

        var asOwner = RawClient.ReadEnter(owned, world.Registry);
        var asOther = RawClient.ReadEnter(given, world.Registry);
        Assert.AreEqual((MessageType.EnterOwnedObject, knight.DoId, client.AccountId), (owned.Type, asOwner.Id, asOwner.Owner));
        Assert.AreEqual((MessageType.EnterObject, knight.DoId, other.AccountId), (given.Type, asOther.Id, asOther.Owner));
    }

    [TestMethod]
    public async Task ARequestNoAiWillHear_IsToldToTheClient_AsRequestRefused_WithItsCodeAndReason()
    {
        await using var world = OtpWorld.Start();
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        using var payload = new PooledBufferWriter();
        payload.WriteUInt16((ushort)EjectCode.NoAiServesObject);
        payload.WriteString("no AI serves Knight right now");

        world.Server.Router.Publish(new Envelope(InternalMessageType.ClientRequestRefused, Channel.StateServer, knight.DoId, payload.WrittenSpan.ToArray()), Channel.ForSession(client.SessionId));

        var refused = (await client.ExpectAsync(MessageType.RequestRefused)).Reader();
        Assert.AreEqual(knight.DoId, refused.ReadDoId());
        Assert.AreEqual(EjectCode.NoAiServesObject, (EjectCode)refused.ReadUInt16());
        Assert.AreEqual("no AI serves Knight right now", refused.ReadString());
    }

    [TestMethod]
    public async Task AnErrorOrAMessageASessionDoesNotHandle_IsLogged_AndTheSessionGoesOn()
    {
        var logs = new LogCapture(Microsoft.Extensions.Logging.LogLevel.Debug);
        await using var world = OtpWorld.Start(logs: logs);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 2);
        var session = Channel.ForSession(client.SessionId);

        world.Server.Router.Publish(new Envelope(InternalMessageType.Error, Channel.StateServer, knight.DoId, Array.Empty<byte>()), session);
        world.Server.Router.Publish(new Envelope(InternalMessageType.QueryZones, Channel.StateServer, knight.DoId, Array.Empty<byte>()), session);

        StringAssert.Matches(await logs.WaitForLineAsync(new Regex("server refused a request")).WaitAsync(RawClient.Timeout), new Regex($@"^session .*: server refused a request about {knight.DoId}$"));
        StringAssert.Matches(await logs.WaitForLineAsync(new Regex("ignoring")).WaitAsync(RawClient.Timeout), new Regex(@"^session .*: ignoring .*QueryZones"));
        Assert.AreEqual(knight.DoId, (await world.InterestAsync(client, 3, 1)).Single().Id, "The session still serves interests.");
    }

    [TestMethod]
    public async Task AMalformedAccountClaim_HeardOnSessionEventsOrOnASessionsChannel_IsIgnoredWithAWarning()
    {
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(logs: logs);
        var client = await world.ClientAsync();
        var overEvents = Channel.ForSession(DoId.NewId());
        var asAnswer = Channel.ForSession(DoId.NewId());

        // From "another node's" sessions: too few bytes for a stamp of eight and a remote address. The answer to a
        // session's own claim comes on the session's channel, and the session hands it to the agent.
        world.Server.Router.Publish(new Envelope(InternalMessageType.AccountClaimed, overEvents, client.AccountId, new byte[] { 1, 2 }), Channel.SessionEvents);
        world.Server.Router.Publish(new Envelope(InternalMessageType.AccountClaimed, asAnswer, client.AccountId, new byte[] { 3 }), Channel.ForSession(client.SessionId));

        foreach (var sender in new[] { overEvents, asAnswer })
        {
            await logs.WaitForLineAsync(new Regex($"^Client Agent: ignoring a malformed account claim from {Regex.Escape(sender.ToString())}: .+")).WaitAsync(RawClient.Timeout);
        }

        await world.InterestAsync(client, 1, 1);
        Assert.IsFalse(client.Closed.Task.IsCompleted, "A malformed claim ejects nobody.");
    }
}
