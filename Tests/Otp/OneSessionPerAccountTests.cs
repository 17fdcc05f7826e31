using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.ClientAgent;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// One live session per account across every Client Agent (issue 14): the claims' order (<see cref="AccountClaims{TSession}"/>),
/// an AI's view of which session holds an account (<see cref="AccountSessions"/>), and both wired into an in-process
/// OTP (a claim heard from "another node" is injected on the router). The same over two real OTP nodes and a real
/// nats-server: <c>NatsOneSessionPerAccountTests</c>.
/// </summary>
[TestClass]
public sealed class OneSessionPerAccountTests
{
    private static readonly DoId Ann = DoId.NewId();

    [TestMethod]
    public void ALaterClaim_IsNewer_EvenWhenTheWallClockStandsStill_AndASecondLoginHere_ReturnsTheFirst()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_000));
        var claims = new AccountClaims<string>(time);
        var (first, none) = claims.Take(Ann, "first", DoId.NewId());
        var (second, previous) = claims.Take(Ann, "second", DoId.NewId());

        Assert.IsNull(none);
        Assert.AreEqual("first", previous, "A second login on one node ejects the first.");
        Assert.AreEqual((1_000L, 1_001L), (first.Stamp, second.Stamp), "Wall-clock milliseconds, never twice the same.");
        Assert.IsTrue(second > first);
        Assert.IsFalse(claims.Release(Ann, "first"), "The first no longer holds the account: its close says nothing.");
        Assert.IsTrue(claims.Release(Ann, "second"));
        Assert.AreEqual(0, claims.Count);
    }

    [TestMethod]
    public void TwoNodesThatHearEachOthersClaim_AgreeOnOneWinner_WhateverTheOrderTheyHearThemIn()
    {
        foreach (bool sameStamp in new[] { true, false })
        {
            // Two Client Agents, the same wall clock (or B's a millisecond later), both log Ann in before hearing the other.
            var a = new AccountClaims<string>(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(5_000)));
            var b = new AccountClaims<string>(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(sameStamp ? 5_000 : 5_001)));
            var (onA, _) = a.Take(Ann, "session on A", DoId.NewId());
            var (onB, _) = b.Take(Ann, "session on B", DoId.NewId());

            var heardOnA = a.OnClaimHeard(Ann, onB, out var holderA, out var claimA);
            var heardOnB = b.OnClaimHeard(Ann, onA, out var holderB, out var claimB);

            bool aWins = onA > onB;
            Assert.AreEqual(sameStamp && onA.Session.CompareTo(onB.Session) > 0, aWins, "B's later stamp wins; equal stamps go to the higher session id.");
            Assert.AreEqual(aWins ? HeardClaimOutcome.Answer : HeardClaimOutcome.Yield, heardOnA);
            Assert.AreEqual(aWins ? HeardClaimOutcome.Yield : HeardClaimOutcome.Answer, heardOnB);
            Assert.AreEqual(("session on A", "session on B"), (holderA, holderB), "The holder is named either way: ejected, or the one that answers.");
            Assert.AreEqual(aWins ? onA : onB, aWins ? claimA : claimB, "The answer carries the winner's claim.");
            Assert.AreEqual(1, a.Count + b.Count, "Exactly one session holds Ann.");

            // The answer, heard by the loser after it already yielded (or twice), changes nothing.
            var loser = aWins ? b : a;
            Assert.AreEqual(HeardClaimOutcome.Nothing, loser.OnClaimHeard(Ann, aWins ? onA : onB, out _, out _));
        }
    }

    [TestMethod]
    public void ALoginAfterHearingAnotherNodesClaim_WinsOverIt_EvenWhenThatNodesClockIsAhead()
    {
        var ahead = new AccountClaims<string>(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(60_000)));
        var behind = new AccountClaims<string>(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_000)));
        var (first, _) = ahead.Take(Ann, "first", DoId.NewId());

        // The node behind has no session of Ann: it keeps nothing but the clock.
        Assert.AreEqual(HeardClaimOutcome.Nothing, behind.OnClaimHeard(Ann, first, out _, out _));
        Assert.AreEqual(0, behind.Count);
        var (later, _) = behind.Take(Ann, "later", DoId.NewId());

        Assert.IsTrue(later > first, $"{later} after {first}");
        Assert.AreEqual(HeardClaimOutcome.Yield, ahead.OnClaimHeard(Ann, later, out var ejected, out _));
        Assert.AreEqual("first", ejected);
    }

    [TestMethod]
    public void AnAi_IgnoresTheCloseOfASessionThatNoLongerHoldsItsAccount_AndKeepsTheNewerOfTwoClaimsHeardOutOfOrder()
    {
        var sessions = new AccountSessions(capacity: 2);
        var (dead, live) = (Channel.ForSession(DoId.NewId()), Channel.ForSession(DoId.NewId()));
        Assert.IsTrue(sessions.OnClaimed(Ann, dead, 10));
        Assert.IsTrue(sessions.OnClaimed(Ann, live, 20));

        Assert.IsFalse(sessions.OnClosed(Ann, dead, out var holder), "The dead node's late close.");
        Assert.AreEqual(live, holder);
        Assert.IsTrue(sessions.OnClosed(Ann, live, out _));
        Assert.AreEqual(0, sessions.Count, "Forgotten when the holder closes.");
        Assert.IsTrue(sessions.OnClosed(Ann, dead, out _), "An account with no claim known: raised, as before claims.");

        // Two simultaneous logins whose claims arrive newest first.
        var bob = DoId.NewId();
        Assert.IsTrue(sessions.OnClaimed(bob, live, 40));
        Assert.IsTrue(sessions.OnClaimed(bob, dead, 30));
        Assert.IsFalse(sessions.OnClosed(bob, dead, out _));

        // Bounded: a third account is not tracked, and its close is raised whoever sends it.
        var carl = DoId.NewId();
        Assert.IsTrue(sessions.OnClaimed(carl, live, 1));
        Assert.IsFalse(sessions.OnClaimed(DoId.NewId(), live, 1));
        Assert.AreEqual(2, sessions.Count);
    }

    [TestMethod]
    public async Task ANewerClaimFromAnotherNode_EjectsTheSessionHereWith100_AndItSaysNotThatItClosed()
    {
        await using var server = InProcessOtp.Start();
        var ai = new TestAi(server.Router);
        server.Router.Subscribe(ai, Channel.SessionEvents);
        await using var ann = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, "ann");
        var own = await ai.ExpectAsync(InternalMessageType.AccountClaimed);
        Assert.AreEqual((Channel.ForSession(ann.SessionId), ann.AccountId), (own.Sender, own.Subject), "The login told every node and AI.");

        // Another node's login of Ann, later: this node's session goes, with the eject and line of a second login here.
        server.Router.Publish(Claim(ann.AccountId, Channel.ForSession(DoId.NewId()), new WireReader(own.Payload.Span).ReadInt64() + 1, "10.1.2.3:4567"), Channel.SessionEvents);
        StringAssert.Contains(await ann.ExpectEjectAsync(EjectCode.LoggedInElsewhere), "logged in from another connection (10.1.2.3:4567)");
        Assert.AreEqual(0, server.ClientAgent.ClaimedAccounts);
        await TestWaits.UntilAsync(() => server.ClientAgent.SessionCount == 0, () => $"{server.ClientAgent.SessionCount} session(s) still open", RawClient.Timeout);
        Assert.IsFalse(ai.TryTake(InternalMessageType.SessionClosed, out _), "Its account moved on: the AI must not clean it up.");
    }

    [TestMethod]
    public async Task AnOlderClaimFromAnotherNode_IsAnsweredWithTheClaimHere_AndTheSessionHereStays()
    {
        await using var server = InProcessOtp.Start();
        await using var ann = await RawClient.LoggedInAsync(server.ClientEndPoint, InProcessOtp.Registry, "ann");
        var elsewhere = new TestAi(server.Router);
        var other = Channel.ForSession(DoId.NewId());
        server.Router.Subscribe(elsewhere, other);

        server.Router.Publish(Claim(ann.AccountId, other, 1, "10.1.2.3:4567"), Channel.SessionEvents);
        var answer = await elsewhere.ExpectAsync(InternalMessageType.AccountClaimed);

        Assert.AreEqual((Channel.ForSession(ann.SessionId), ann.AccountId), (answer.Sender, answer.Subject), "The older claimant is told who holds the account.");
        Assert.AreEqual(1, server.ClientAgent.ClaimedAccounts);
        await ann.SendAsync(w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        Assert.AreEqual(1, server.ClientAgent.SessionCount, "Still logged in.");
    }

    [TestMethod]
    public async Task AnAiOnTheRouter_RaisesOnlyTheCloseOfTheSessionThatHoldsTheAccount()
    {
        await using var server = InProcessOtp.Start();
        await using var ai = new AiRepository(server.Router, server.Registry);
        var closed = new List<DoId>();
        var raised = ai.SessionsClosed.Do(closed.Add).Take(2).ToList().ToTask();
        var (dead, live) = (Channel.ForSession(DoId.NewId()), Channel.ForSession(DoId.NewId()));
        var bob = DoId.NewId();

        server.Router.Publish(Claim(Ann, dead, 10, "a"), Channel.SessionEvents);
        server.Router.Publish(Claim(Ann, live, 20, "b"), Channel.SessionEvents);
        server.Router.Publish(new Envelope(InternalMessageType.SessionClosed, dead, Ann, Array.Empty<byte>()), Channel.SessionEvents);
        server.Router.Publish(new Envelope(InternalMessageType.SessionClosed, Channel.ForSession(DoId.NewId()), bob, Array.Empty<byte>()), Channel.SessionEvents);
        server.Router.Publish(new Envelope(InternalMessageType.SessionClosed, live, Ann, Array.Empty<byte>()), Channel.SessionEvents);

        CollectionAssert.AreEqual(new[] { bob, Ann }, (await raised.WaitAsync(RawClient.Timeout)).ToArray(), "The dead session's close is not raised; an account with no claim heard is.");
    }

    private static Envelope Claim(DoId account, Channel session, long stamp, string remote)
    {
        using var payload = new PooledBufferWriter(64);
        payload.WriteInt64(stamp);
        payload.WriteString(remote);
        return new Envelope(InternalMessageType.AccountClaimed, session, account, payload.WrittenSpan.ToArray());
    }
}
