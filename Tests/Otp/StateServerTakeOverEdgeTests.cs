using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;
using static Pastry.Tests.Otp.StateServerRig;

namespace Pastry.Tests.Otp;

/// <summary>
/// The edges of a rolling AI upgrade at the State Server (StateServer.AiHandOver.cs), with raw messages on the
/// in-process router instead of AI repositories: who may speak for which AI, a take-over with no name, of a dead AI or
/// of two live ones, the steps that time out, the new AI that goes away after the switch, and a third AI's link that
/// drops meanwhile. Each is seen by the exact refusal (code and text), the messages to each AI and session, and the
/// counts (<see cref="StateServer.HandOverCount"/>, <see cref="StateServer.ParkedAiCount"/>).
/// </summary>
[TestClass]
public sealed class StateServerTakeOverEdgeTests
{
    private const string Game = "Game.SignAi";
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Waymark) });
    private static readonly Channel OldAi = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly Channel NewAi = Channel.ForParticipant(new DoId(0, 0xA2));
    private static readonly Channel ThirdAi = Channel.ForParticipant(new DoId(0, 0xA3));
    private static readonly Channel Session = Channel.ForSession(new DoId(0, 0x5E5));
    private static readonly DoId Account = new(0, 0xACC);

    private readonly RecordingLogger logger = new();
    private StateServerRig rig = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestCleanup]
    public async Task StopAsync()
    {
        if (rig is not null)
        {
            await rig.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task ARestrictedLink_MayNotTakeOverOrSpeakForAnotherAi_EachIsRefusedNamingBoth()
    {
        Start();
        rig.Restrict(ThirdAi);
        var third = rig.Listen(ThirdAi);

        rig.Send(Named(InternalMessages.TakeOverAi(1, Game, string.Empty, NewAi), ThirdAi));
        rig.Send(Named(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, OldAi), ThirdAi));
        rig.Send(Named(InternalMessages.AiNotice(InternalMessageType.TakenOverAiStarted, NewAi), ThirdAi));
        await rig.BarrierAsync();

        var errors = third.Received;
        Assert.HasCount(3, errors);
        Assert.IsTrue(errors.All(e => e.Type == InternalMessageType.Error));
        Assert.AreEqual($"TakeOverAi naming {NewAi} as the AI: {ThirdAi} is a participant link and may act only as itself", Text(errors[0]));
        Assert.AreEqual($"AiHandedOver naming {OldAi} as the AI: {ThirdAi} is a participant link and may act only as itself", Text(errors[1]));
        Assert.AreEqual($"TakenOverAiStarted naming {NewAi} as the AI: {ThirdAi} is a participant link and may act only as itself", Text(errors[2]));
        Assert.AreEqual(0, rig.Server.HandOverCount);
    }

    [TestMethod]
    public async Task ARestrictedLinksNotices_DuringAHandOver_SwitchAndReleaseNothing_TheAisOwnNoticesStillDo()
    {
        Start();
        var post = await ClaimAndCreateAsync(OldAi);
        rig.Restrict(ThirdAi);
        var third = rig.Listen(ThirdAi);
        var fresh = rig.Listen(NewAi);
        rig.Send(InternalMessages.TakeOverAi(7, Game, string.Empty, NewAi));
        SendClientSet(post.DoId, 5);

        // Another game's AI says the old AI handed over: refused, and nothing is switched.
        rig.Send(Named(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, OldAi), ThirdAi));
        await rig.BarrierAsync();
        Assert.AreEqual(InternalMessageType.Error, third.Received.Single().Type);
        Assert.IsEmpty(fresh.Received, "no object and no QueryDone reached the new AI");
        Assert.AreEqual(1, rig.Server.HandOverCount);

        rig.Send(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, OldAi));
        await rig.BarrierAsync();
        CollectionAssert.AreEqual(
            new[] { InternalMessageType.ClaimedAiObject, InternalMessageType.QueryDone },
            fresh.Received.Select(e => e.Type).ToArray(),
            "the old AI's own notice switches the objects over");

        // It says the new AI's game started: refused, and the held set stays held.
        rig.Send(Named(InternalMessages.AiNotice(InternalMessageType.TakenOverAiStarted, NewAi), ThirdAi));
        await rig.BarrierAsync();
        Assert.HasCount(2, third.Received);
        Assert.AreEqual(InternalMessageType.Error, third.Received[1].Type);
        Assert.HasCount(2, fresh.Received, "the held set is not released");
        Assert.AreEqual(1, rig.Server.HandOverCount);

        rig.Send(InternalMessages.AiNotice(InternalMessageType.TakenOverAiStarted, NewAi));
        await rig.BarrierAsync();
        var released = fresh.Received[2];
        Assert.AreEqual((InternalMessageType.ClientSetField, Session, post.DoId), (released.Type, released.Sender, released.Subject));
        Assert.AreEqual(0, rig.Server.HandOverCount);
    }

    [TestMethod]
    public async Task ASecondRollingUpgrade_RightAfterTheFirst_TakesOverFromTheNewAi_EvenBeforeTheOldAisLinkDrops()
    {
        Start();
        var post = await ClaimAndCreateAsync(OldAi);
        rig.Send(InternalMessages.TakeOverAi(11, Game, string.Empty, NewAi));
        rig.Send(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, OldAi));
        rig.Send(InternalMessages.AiNotice(InternalMessageType.TakenOverAiStarted, NewAi));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.HandOverCount, "the first upgrade is done");
        var fresh = rig.Listen(NewAi);
        var third = rig.Listen(ThirdAi);

        // The old AI's link is still up (it stops on its own time): the application runs one AI, the new one.
        rig.Send(InternalMessages.TakeOverAi(12, Game, string.Empty, ThirdAi));
        await rig.BarrierAsync();

        Assert.AreEqual(InternalMessageType.HandOverAi, fresh.Received.Single().Type, "the AI of the first upgrade is asked to stop");
        Assert.IsEmpty(third.Received, "no refusal");
        Assert.AreEqual(1, rig.Server.HandOverCount);
        rig.Send(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, NewAi));
        await rig.BarrierAsync();
        Assert.AreEqual(post.DoId, third.Received.Single(e => e.Type == InternalMessageType.ClaimedAiObject).Subject);
    }

    [TestMethod]
    public async Task ATakeOverWithNothingToTakeOver_DoesNotPinItsKey_TheNextClaimWithAnotherKeyIsAdmitted()
    {
        Start();
        var fresh = rig.Listen(NewAi);
        var third = rig.Listen(ThirdAi);

        rig.Send(InternalMessages.TakeOverAi(21, Game, "first key", NewAi));
        Assert.AreEqual(EjectCode.NothingToTakeOver, ReadRefusal(await fresh.NextAsync(TestContext)).Code);

        rig.Send(InternalMessages.ClaimAiObjects(22, Game, ThirdAi, "another key"));
        var done = await third.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.QueryDone, done.Type, "admitted: the refused take-over left no key behind");
        Assert.AreEqual(22u, new WireReader(done.Payload.Span).ReadUInt32());
    }

    [TestMethod]
    public async Task ATakeOverWithoutAName_IsRefusedNothingToTakeOver_WithItsContext()
    {
        Start();
        var fresh = rig.Listen(NewAi);

        rig.Send(InternalMessages.TakeOverAi(41, string.Empty, "key", NewAi));
        var refused = await fresh.NextAsync(TestContext);

        var (context, code, reason) = ReadRefusal(refused);
        Assert.AreEqual(41u, context);
        Assert.AreEqual(EjectCode.NothingToTakeOver, code);
        Assert.AreEqual("a take-over needs the application's name (AiOptions.Application)", reason);
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.HandOverCount);
        Assert.AreEqual(1, logger.At(LogLevel.Warning).Count(l => l.StartsWith($"State Server refused the claim or take-over of {NewAi}: 382 ", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task ATakeOverOfAnApplicationWhoseAiDied_TakesBackTheParkedObjects_AsAClaimWould()
    {
        Start();
        var fresh = rig.Listen(NewAi);
        var post = await ClaimAndCreateAsync(OldAi);
        rig.Send(InternalMessages.ParkAiObjects(OldAi, Game));
        await rig.BarrierAsync();
        Assert.AreEqual(1, rig.Server.ParkedAiCount);

        rig.Send(InternalMessages.TakeOverAi(52, Game, string.Empty, NewAi));
        await rig.BarrierAsync();

        var received = fresh.Received;
        Assert.HasCount(2, received);
        Assert.AreEqual(InternalMessageType.ClaimedAiObject, received[0].Type);
        Assert.AreEqual(post.DoId, received[0].Subject);
        Assert.AreEqual(52u, new WireReader(received[0].Payload.Span).ReadUInt32());
        Assert.AreEqual(InternalMessageType.QueryDone, received[1].Type);
        CollectionAssert.AreEqual(BitConverter.GetBytes(52u), received[1].Payload.ToArray());
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
        Assert.AreEqual(0, rig.Server.HandOverCount, "a take-back, not a hand-over");
        CollectionAssert.Contains(logger.At(LogLevel.Warning), $"AI {NewAi} asked to take over {Game}, whose AI is gone: it takes back the parked objects instead");

        // The object is the new AI's: its set is relayed, the dead AI's would be too (no restriction) but it is gone.
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 1));
        post.A = 3;
        rig.Send(InternalMessages.SetField(post, post.Model.GetField(nameof(Waymark.A)), NewAi));
        await rig.BarrierAsync();
        Assert.AreEqual(InternalMessageType.RelayBroadcast, location.Received.Single().Type);
    }

    [TestMethod]
    public async Task ATakeOverOfAnApplicationWithTwoLiveAis_IsRefused_NamingBoth()
    {
        Start();
        var fresh = rig.Listen(NewAi);
        await ClaimAndCreateAsync(OldAi);
        await ClaimAndCreateAsync(ThirdAi);

        rig.Send(InternalMessages.TakeOverAi(63, Game, string.Empty, NewAi));
        var (context, code, reason) = ReadRefusal(await fresh.NextAsync(TestContext));

        Assert.AreEqual(63u, context);
        Assert.AreEqual(EjectCode.HandOverUnderWay, code);
        Assert.AreEqual($"2 AIs of '{Game}' run ({OldAi}, {ThirdAi}); a take-over replaces exactly one, so stop all but one first", reason);
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.HandOverCount);
    }

    [TestMethod]
    public async Task BothStepsTimeOut_TheObjectsGoToTheNewAi_ThenTheHeldRequestsDo_AndEachWaitIsLogged()
    {
        Start(new StateServerOptions { AiHandOverTimeout = TimeSpan.FromMilliseconds(100) });
        var post = await ClaimAndCreateAsync(OldAi);
        var old = rig.Listen(OldAi);
        var fresh = rig.Listen(NewAi);

        // The old AI never says it handed over, the new one never says its game started.
        rig.Send(InternalMessages.TakeOverAi(74, Game, string.Empty, NewAi));
        SendClientSet(post.DoId, 8);

        Assert.AreEqual(InternalMessageType.HandOverAi, (await old.NextAsync(TestContext)).Type);
        var claimed = await fresh.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ClaimedAiObject, claimed.Type);
        Assert.AreEqual(post.DoId, claimed.Subject);
        Assert.AreEqual(InternalMessageType.QueryDone, (await fresh.NextAsync(TestContext)).Type);
        var finished = await old.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.AiHandOverFinished, finished.Type);
        CollectionAssert.AreEqual(new byte[] { 1 }, finished.Payload.ToArray(), "completed");

        var held = await fresh.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ClientSetField, held.Type, "the held set reaches the new AI once its wait timed out too");
        Assert.AreEqual(Session, held.Sender);
        Assert.AreEqual(post.DoId, held.Subject);
        await rig.BarrierAsync();

        Assert.AreEqual(0, rig.Server.HandOverCount);
        var warnings = logger.At(LogLevel.Warning);
        CollectionAssert.Contains(warnings, $"AI {OldAi} did not hand {Game} over within 0.1 s: its objects go to {NewAi} without waiting further");
        CollectionAssert.Contains(warnings, $"AI {OldAi} handed 1 object(s) of {Game} over to {NewAi} (the old AI did not answer in time); 1 client request(s) held until it has started");
        CollectionAssert.Contains(warnings, $"AI {NewAi} did not say its game started within 0.1 s: the held requests go to it anyway");
        CollectionAssert.Contains(warnings, $"The hand-over of {Game} to {NewAi} is done (the wait for its start timed out): 1 held client request(s) delivered to it, 0 refused");
    }

    [TestMethod]
    public async Task TheNewAiGoesAwayAfterTheSwitch_TheHeldRequestsAreRefusedToTheirSessions_AndItsObjectsAreParked()
    {
        Start();
        var old = rig.Listen(OldAi);
        var fresh = rig.Listen(NewAi);
        var session = rig.Listen(Session);
        var post = await ClaimAndCreateAsync(OldAi);

        rig.Send(InternalMessages.TakeOverAi(85, Game, string.Empty, NewAi));
        SendClientSet(post.DoId, 9);
        rig.Send(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, OldAi));
        SendClientCall(post.DoId, 2);
        rig.Send(InternalMessages.ParkAiObjects(NewAi, Game));
        await rig.BarrierAsync();

        var refusals = session.Received;
        Assert.HasCount(2, refusals);
        foreach (var refusal in refusals)
        {
            Assert.AreEqual(InternalMessageType.ClientRequestRefused, refusal.Type);
            Assert.AreEqual(post.DoId, refusal.Subject);
            var reader = new WireReader(refusal.Payload.Span);
            Assert.AreEqual(EjectCode.NoAiServesObject, (EjectCode)reader.ReadUInt16());
            Assert.AreEqual($"the AI that took over {post.DoId} stopped before it served this request; nothing of it was applied; send it again once an AI is back", reader.ReadString());
        }

        Assert.IsFalse(fresh.Received.Any(e => e.Type is InternalMessageType.ClientSetField or InternalMessageType.ClientCallMethod), "nothing held reached the new AI");
        Assert.AreEqual(1, rig.Server.ParkedAiCount, "the new AI's objects are parked for the next AI");
        Assert.AreEqual(0, rig.Server.HandOverCount);
        Assert.AreEqual(1, rig.Server.ObjectCount);
        CollectionAssert.Contains(logger.At(LogLevel.Warning), $"The new AI {NewAi} of {Game} went away before its game started: its objects are parked for the next AI, 2 held client request(s) refused");
        Assert.AreEqual(1, old.Received.Count(e => e.Type == InternalMessageType.AiHandOverFinished), "the old AI was told once, at the switch");

        // Nothing is held for it any more: a call now is refused as for any parked object.
        SendClientCall(post.DoId, 3);
        await rig.BarrierAsync();
        Assert.HasCount(3, session.Received);
        var later = new WireReader(session.Received[2].Payload.Span);
        Assert.AreEqual(EjectCode.NoAiServesObject, (EjectCode)later.ReadUInt16());
        StringAssert.StartsWith(later.ReadString(), $"no AI serves Waymark {post.DoId} now");
    }

    [TestMethod]
    public async Task AThirdAiOfTheApplicationDropsDuringAHandOver_ItIsParked_AndTheHandOverGoesOn()
    {
        Start();
        var post = await ClaimAndCreateAsync(OldAi);
        rig.Send(InternalMessages.TakeOverAi(96, Game, string.Empty, NewAi));
        await rig.BarrierAsync();
        var other = await ClaimAndCreateAsync(ThirdAi);

        rig.Send(InternalMessages.ParkAiObjects(ThirdAi, Game));
        await rig.BarrierAsync();

        Assert.AreEqual(1, rig.Server.HandOverCount, "the hand-over is not the third AI's");
        Assert.AreEqual(1, rig.Server.ParkedAiCount, "its objects are parked");
        Assert.AreEqual(2, rig.Server.ObjectCount);
        var fresh = rig.Listen(NewAi);
        rig.Send(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, OldAi));
        await rig.BarrierAsync();
        Assert.AreEqual(post.DoId, fresh.Received.Single(e => e.Type == InternalMessageType.ClaimedAiObject).Subject, "only the old AI's object is handed over");
        Assert.AreNotEqual(post.DoId, other.DoId);
    }

    [TestMethod]
    public async Task ARefusedClientRequestFromAChannelThatIsNotASession_IsOnlyLogged()
    {
        Start();
        var post = await ClaimAndCreateAsync(OldAi);
        rig.Send(InternalMessages.ParkAiObjects(OldAi, Game));
        var account = Channel.ForAccount(Account);
        var toAccount = rig.Listen(account);
        var session = rig.Listen(Session);

        SendClientCall(post.DoId, 1, account);
        SendClientCall(post.DoId, 1);
        await rig.BarrierAsync();

        Assert.IsEmpty(toAccount.Received, "only a session is told");
        Assert.AreEqual(InternalMessageType.ClientRequestRefused, session.Received.Single().Type);
        var refusals = logger.At(LogLevel.Debug).Where(l => l.StartsWith("State Server refused a client request ClientCallMethod from ", StringComparison.Ordinal)).ToList();
        Assert.HasCount(2, refusals);
        StringAssert.StartsWith(refusals[0], $"State Server refused a client request ClientCallMethod from {account} about {post.DoId}: 381 no AI serves Waymark {post.DoId} now");
    }

    [TestMethod]
    public async Task AnApplicationsKey_IsPinnedWhileAnAiOfItRuns_AndForgottenOnceNoneRunsOrIsParked()
    {
        Start();
        var old = rig.Listen(OldAi);
        var fresh = rig.Listen(NewAi);
        var third = rig.Listen(ThirdAi);

        rig.Send(InternalMessages.ClaimAiObjects(1, Game, OldAi, "first key"));
        Assert.AreEqual(InternalMessageType.QueryDone, (await old.NextAsync(TestContext)).Type, "the first AI pins its key");
        rig.Send(InternalMessages.ClaimAiObjects(2, Game, ThirdAi, "another key"));
        Assert.AreEqual(EjectCode.ApplicationKeyMismatch, ReadRefusal(await third.NextAsync(TestContext)).Code, "while it runs, another key is refused");

        // Its link drops with nothing to park: the application is idle, and its key is forgotten.
        rig.Send(InternalMessages.ParkAiObjects(OldAi, Game));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ParkedAiCount);

        rig.Send(InternalMessages.ClaimAiObjects(3, Game, NewAi, "another key"));
        Assert.AreEqual(InternalMessageType.QueryDone, (await fresh.NextAsync(TestContext)).Type, "the application's next first AI pins its own key");
    }

    [TestMethod]
    public async Task AClaimFromAnAiOfAnEarlierVersion_WhichGivesNoKey_IsAnsweredAsOneWithAnEmptyKey()
    {
        Start();
        var old = rig.Listen(OldAi);
        using var writer = new PooledBufferWriter(64);
        writer.WriteUInt32(4);
        writer.WriteString(Game);
        OldAi.Write(writer);

        rig.Send(new Envelope(InternalMessageType.ClaimAiObjects, OldAi, DoId.Empty, writer.WrittenSpan.ToArray()));

        var done = await old.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.QueryDone, done.Type, "a claim that ends after the AI's channel is not malformed");
        Assert.AreEqual(4u, new WireReader(done.Payload.Span).ReadUInt32());
    }

    private void Start(StateServerOptions? options = null)
    {
        rig = new StateServerRig(TestContext, Registry, options, logger);
    }

    /// <summary>The AI <paramref name="ai"/> claims <see cref="Game"/> (so it runs as one of its AIs) and creates a signpost at the root, zone 1.</summary>
    private async Task<Waymark> ClaimAndCreateAsync(Channel ai)
    {
        rig.Send(InternalMessages.ClaimAiObjects(1, Game, ai));
        var post = new Waymark { Text = "post" };
        await rig.CreateAsync(post, DoId.Empty, 1, ai, Account);
        return post;
    }

    /// <summary>What the Client Agent sends for a client's set of <see cref="Waymark.A"/>.</summary>
    private void SendClientSet(DoId post, int value)
    {
        var field = Registry.GetModel<Waymark>().GetField(nameof(Waymark.A));
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(Account);
        writer.WriteUInt16(1);
        writer.WriteUInt16(field.WireId);
        writer.WriteInt32(value);
        rig.Send(new Envelope(InternalMessageType.ClientSetField, Session, post, writer.WrittenSpan.ToArray()));
    }

    /// <summary>What the Client Agent sends for a client's call of <see cref="Waymark.Ring"/>.</summary>
    private void SendClientCall(DoId post, int times, Channel? sender = null)
    {
        var method = Registry.GetModel<Waymark>().Methods.Single(m => m.Name == nameof(Waymark.Ring));
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(Account);
        writer.WriteUInt16(method.WireId);
        method.EncodeArguments(writer, new object?[] { times, 3 });
        rig.Send(new Envelope(InternalMessageType.ClientCallMethod, sender ?? Session, post, writer.WrittenSpan.ToArray()));
    }

    private static Envelope Named(Envelope envelope, Channel sender) => new(envelope.Type, sender, envelope.Subject, envelope.Payload);

    private static (uint Context, EjectCode Code, string Reason) ReadRefusal(Envelope refused)
    {
        Assert.AreEqual(InternalMessageType.AiClaimRefused, refused.Type);
        var reader = new WireReader(refused.Payload.Span);
        return (reader.ReadUInt32(), (EjectCode)reader.ReadUInt16(), reader.ReadString());
    }
}
