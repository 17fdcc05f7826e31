using System.Text.RegularExpressions;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// The paths of a move between OTP nodes that are not the plain hand-over: offers that are refused or too big, answers
/// that come late, twice or for nothing, the old holder that calls a move off or never says it is done, forwards that
/// expire, held requests past their bound. The third node, <see cref="TwoNodes.NodeC"/>, is played by hand so that
/// each message arrives exactly when the test says.
/// </summary>
public sealed partial class StateServerNodeMoveTests
{
    /// <summary>A parent only the test's node holds: an offer under it is recorded in <see cref="TwoNodes.Unrouted"/>.</summary>
    private static readonly DoId Camelot = new(0xCA3E, 1);
    private static readonly Channel OtherAi = Channel.ForParticipant(new DoId(0xA1, 2));
    private static readonly Channel ThirdAi = Channel.ForParticipant(new DoId(0xA1, 3));
    private static readonly Knight Template = new();
    private static readonly FieldDescriptor NameField = Template.Model.Fields.Single(f => f.Name == nameof(Knight.Name));
    private static readonly FieldDescriptor XField = Template.Model.Fields.Single(f => f.Name == nameof(Knight.X));

    [TestMethod]
    public async Task AnOfferOfMoreBytesThanOneMoveCarries_IsRefusedWithItsSize_AndOneOfExactlyThatManyMoves()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var atlantis = new Realm { DoId = new DoId(0xA7, 1), Title = new string('a', 600_000) };
        await nodes.CreateAsync(a, atlantis, West, 1);
        var ai = nodes.Listen(Ai);
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));

        a.Send(InternalMessages.SetLocation(atlantis.DoId, East, 2, Ai));

        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(atlantis.DoId, error.Subject);
        string text = new WireReader(error.Payload.Span).ReadString();
        int bytes = int.Parse(Regex.Match(text, @"\((\d+) bytes\)").Groups[1].Value);
        Assert.AreEqual($"set location of {atlantis.DoId}: parent {East} is held by another OTP node, and the values of the object and everything beneath it ({bytes} bytes) are more than one move carries (524288); move fewer objects at a time", text);
        Assert.IsTrue(bytes is > 600_000 and < 600_300, $"the offer's size is the title and a small header: {bytes}");
        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server: moving Realm {atlantis.DoId} under {East} (another OTP node) would carry {bytes} bytes, more than 524288")));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.IsTrue(a.Held.Contains(atlantis.DoId));
        Assert.AreEqual(1, b.Server.ObjectCount);
        Assert.IsEmpty(eastViewers.Received);

        // The same header with a title that fills the offer to exactly the limit: it moves.
        int header = bytes - 600_000;
        var lemuria = new Realm { DoId = new DoId(0xA7, 2), Title = new string('l', MaxOfferBytes - header) };
        await nodes.CreateAsync(a, lemuria, West, 1);
        a.Send(InternalMessages.SetLocation(lemuria.DoId, East, 2, Ai));
        var moved = await eastViewers.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ChangingLocation, moved.Type);
        Assert.AreEqual(lemuria.DoId, moved.Subject);
        await nodes.BarrierAsync();
        Assert.AreEqual(2, b.Server.ObjectCount);
        Assert.IsFalse(ai.Received.Skip(1).Any(e => e.Type == InternalMessageType.Error), "an offer of exactly the limit is not refused");
    }

    [TestMethod]
    public async Task AnOfferToAStateServerInNoPlacement_IsDroppedWithALogLine()
    {
        var logs = new LogCapture();
        var router = new InProcessRouter();
        await using var server = new StateServer(router, Deployment.Registry, logs.CreateLogger("state-server"));
        server.Start();
        var ai = new StateServerTests.Recorder();
        router.Subscribe(ai, Ai);
        var tristan = new DoId(0x7415, 1);

        server.Deliver(new Envelope(InternalMessageType.ObjectMoveProbe, Ai, tristan, ReadOnlyMemory<byte>.Empty), [Channel.StateServer]);
        server.Deliver(Offer(tristan, East, 2, 1, West, 1, new OfferedKnight(tristan, East, 2, "Tristan")), [Channel.StateServer]);

        await logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server got an ObjectMoveOffer for {tristan} from {TwoNodes.NodeC}, but this node takes part in no placement; dropped")));
        Assert.AreEqual(0, server.ObjectCount);
        Assert.IsEmpty(ai.Received, "no answer to the probe (one node: nothing moves), no Error to the mover (the offer reached the wrong kind of server)");
    }

    [TestMethod]
    public async Task OffersTheNewHolderCannotTake_AreRefusedToTheOldHolderWithTheReason()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MaxMovedObjects = 2 });
        var b = nodes.B;
        await nodes.CreateAsync(b, new Realm { DoId = East, Title = "east" }, DoId.Empty, 0);
        var tristan = new DoId(0x7415, 1);
        var squire = new DoId(0x7415, 2);
        var page = new DoId(0x7415, 3);
        var cases = new (Envelope Offer, string Reason)[]
        {
            (Offer(tristan, new DoId(0xEA57, 9), 2, 11, West, 1, new OfferedKnight(tristan, East, 2, "Tristan")), $"parent {new DoId(0xEA57, 9)} does not exist"),
            (Offer(tristan, East, 2, 12, West, 1), "it carries 0 objects, and this node takes 1 to StateServer:MaxMovedObjects (2)"),
            (Offer(tristan, East, 2, 18, West, 1, new OfferedKnight(tristan, East, 2, "Tristan"), new OfferedKnight(squire, tristan, 1, "Squire"), new OfferedKnight(page, squire, 1, "Page")), "it carries 3 objects, and this node takes 1 to StateServer:MaxMovedObjects (2)"),
            (Offer(tristan, East, 2, 13, West, 1, new OfferedKnight(tristan, East, 2, "Tristan", ClassId: 0xDEAD)), $"{tristan} has class id 57005, unknown here; are both nodes built from the same models?"),
            (Offer(tristan, East, 2, 14, West, 1, new OfferedKnight(East, East, 2, "Tristan")), $"Knight {East} already exists on the node of the new parent"),
            (Offer(tristan, East, 2, 15, West, 1, new OfferedKnight(DoId.Empty, East, 2, "Tristan")), $"Knight {DoId.Empty} already exists on the node of the new parent"),
            (Offer(tristan, East, 2, 16, West, 1, new OfferedKnight(squire, East, 2, "Squire")), $"the offer's first object is {squire}, not {tristan}"),
            (Offer(tristan, East, 2, 17, West, 1, new OfferedKnight(tristan, East, 2, "Tristan"), new OfferedKnight(squire, tristan, 1, "Squire", ClassId: 0xDEAD)), $"{squire} has class id 57005, unknown here; are both nodes built from the same models?"),

            // A subtree that cannot be placed whole (a hostile or broken peer): refused before any of it is placed.
            (Offer(tristan, East, 2, 21, West, 1, new OfferedKnight(tristan, East, 2, "Tristan"), new OfferedKnight(squire, squire, 1, "Squire")), $"Knight {squire} names {squire} as its parent, which is not an object before it in the offer"),
            (Offer(tristan, East, 2, 22, West, 1, new OfferedKnight(tristan, East, 2, "Tristan"), new OfferedKnight(squire, East, 1, "Squire")), $"Knight {squire} names {East} as its parent, which is not an object before it in the offer"),
            (Offer(tristan, East, 2, 23, West, 1, new OfferedKnight(tristan, East, 2, "Tristan"), new OfferedKnight(tristan, tristan, 1, "Again")), $"Knight {tristan} is in the offer twice"),
        };

        foreach (var (offer, problem) in cases)
        {
            uint moveId = new WireReader(offer.Payload.Span[(DoId.Size + 4 + DoId.Size)..]).ReadUInt32();
            b.Send(offer);
            var answer = ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext));
            Assert.AreEqual(tristan, answer.Subject, problem);
            Assert.AreEqual(TwoNodes.NodeC, answer.ToNode);
            Assert.AreEqual(moveId, answer.MoveId);
            Assert.IsFalse(answer.Accepted, problem);
            Assert.AreEqual(b.NodeId, answer.ByNode);
            Assert.AreEqual($"set location of {tristan}: {problem}", answer.Reason);
            await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server refused to take {tristan} from OTP node {TwoNodes.NodeC}: set location of {tristan}: {problem}")));
        }

        await nodes.BarrierAsync();
        Assert.AreEqual(1, b.Server.ObjectCount, "nothing of a refused offer stays");
        CollectionAssert.AreEquivalent(new[] { East }, b.Held.ToList());
        Assert.AreEqual((0, 0, 0), b.Server.NodeMoveCounts);

        // An offer with bytes after its last object is malformed: refused to its sender (the mover), nothing answered.
        var good = Offer(tristan, East, 2, 20, West, 1, new OfferedKnight(tristan, West, 1, "Tristan"));
        var ai = nodes.Listen(Ai);
        b.Send(new Envelope(InternalMessageType.ObjectMoveOffer, Ai, tristan, good.Payload.ToArray().Append((byte)0).ToArray()));
        var malformed = await ai.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.Error, tristan), (malformed.Type, malformed.Subject));
        StringAssert.StartsWith(new WireReader(malformed.Payload.Span).ReadString(), "malformed ObjectMoveOffer: ");
        await nodes.BarrierAsync();
        Assert.AreEqual(0, nodes.ToNodeC.Unread);
        Assert.AreEqual(1, b.Server.ObjectCount);

        // An offer of exactly StateServer:MaxMovedObjects objects is taken.
        b.Send(Offer(tristan, East, 2, 19, West, 1, new OfferedKnight(tristan, West, 1, "Tristan"), new OfferedKnight(squire, tristan, 1, "Squire")));
        var taken = ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext));
        Assert.AreEqual((tristan, 19u, true, string.Empty), (taken.Subject, taken.MoveId, taken.Accepted, taken.Reason));
        await nodes.BarrierAsync();
        Assert.AreEqual(3, b.Server.ObjectCount);
        Assert.AreEqual((0, 0, 2), b.Server.NodeMoveCounts);
    }

    [TestMethod]
    public async Task AnswersForNoMoveOrAnotherObject_LeaveTheMoveWaiting_AndTheRightOneForwardsWhatWaitedToTheNewHolder()
    {
        await using var nodes = new TwoNodes(TestContext);
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var gawain = new Knight { DoId = new DoId(0x7415, 3), Name = "Gawain" };
        await nodes.CreateAsync(a, tristan, West, 1);
        await nodes.CreateAsync(a, gawain, West, 1);
        var ai = nodes.Listen(Ai);
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));

        a.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        var offer = ReadOffer(await nodes.Unrouted.NextAsync(TestContext));
        Assert.AreEqual((Camelot, 4u, a.NodeId, West, 1u), (offer.NewParent, offer.NewZone, offer.FromNode, offer.OldParent, offer.OldZone));
        tristan.X = 9;
        var held = InternalMessages.SetField(tristan, XField, Ai);
        a.Send(held);

        // A refusal of no move, an acceptance about another object than the move's, a timer's empty answer that is not
        // the move's own: none ends it. The acceptance for no move is answered by calling the other node's copy off.
        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId + 100, accepted: false, "no"));
        a.Send(Answer(a.NodeId, gawain.DoId, offer.MoveId, accepted: true));
        a.Send(new Envelope(InternalMessageType.ObjectMoveAnswer, Ai, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        var trailing = Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: true);
        a.Send(new Envelope(InternalMessageType.ObjectMoveAnswer, Ai, tristan.DoId, trailing.Payload.ToArray().Append((byte)0).ToArray()));
        var malformed = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, malformed.Type);
        StringAssert.StartsWith(new WireReader(malformed.Payload.Span).ReadString(), "malformed ObjectMoveAnswer: ");
        var calledOff = await nodes.ToNodeC.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectMoveCancelled, calledOff.Type);
        Assert.AreEqual(gawain.DoId, calledOff.Subject);
        var seenAgain = await westViewers.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.EnterLocation, seenAgain.Type, "Gawain is still here: his viewers see him again");
        Assert.AreEqual(gawain.DoId, seenAgain.Subject);
        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server: OTP node {TwoNodes.NodeC} took {gawain.DoId} after this node called the move off")));
        await nodes.BarrierAsync();
        Assert.AreEqual((1, 0, 0), a.Server.NodeMoveCounts, "the move still waits for its answer");
        Assert.AreEqual(1, ai.Received.Count, "nothing but the malformed answer was refused to the mover");
        Assert.AreEqual(3, a.Server.ObjectCount);

        // The move's own answer: the knight goes, the set that waited is forwarded, then the end of the move.
        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: true));
        var forwarded = await nodes.ToNodeC.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectMoveForwarded, forwarded.Type);
        Assert.AreEqual(tristan.DoId, forwarded.Subject);
        var reader = new WireReader(forwarded.Payload.Span);
        Assert.AreEqual(TwoNodes.NodeC, reader.ReadDoId());
        Assert.AreEqual((ushort)InternalMessageType.SetField, reader.ReadUInt16());
        var inner = Envelope.Read((ushort)InternalMessageType.SetField, forwarded.Payload.Span[reader.Position..], new List<Channel>());
        Assert.AreEqual((held.Sender, held.Subject), (inner.Sender, inner.Subject));
        CollectionAssert.AreEqual(held.Payload.ToArray(), inner.Payload.ToArray());
        var end = await nodes.ToNodeC.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectMoveEnd, end.Type);
        Assert.AreEqual(tristan.DoId, end.Subject);
        var ids = new WireReader(end.Payload.Span);
        Assert.AreEqual((ushort)1, ids.ReadUInt16());
        Assert.AreEqual(tristan.DoId, ids.ReadDoId());
        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"Moved Knight {tristan.DoId} and 0 object(s) beneath it to OTP node {TwoNodes.NodeC}, under {Camelot}; 1 request(s) held meanwhile forwarded there")));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 1, 0), a.Server.NodeMoveCounts);
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.IsFalse(a.Held.Contains(tristan.DoId));

        // A second answer to the same move is too late: the new holder's copy stays (nothing to call off here).
        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: false, "late"));
        await nodes.BarrierAsync();
        Assert.AreEqual(0, nodes.ToNodeC.Unread);
        Assert.AreEqual(1, ai.Received.Count);
    }

    [TestMethod]
    public async Task AMoveAcceptedAfterItTimedOut_IsCalledOff_AndTheOldViewersSeeTheObjectAgain()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MoveTimeout = TimeSpan.FromMilliseconds(100) });
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        await nodes.CreateAsync(a, tristan, West, 1, Owner);
        var ai = nodes.Listen(Ai);
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));
        var owner = nodes.Listen(Channel.ForAccount(Owner));

        a.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        var offer = ReadOffer(await nodes.Unrouted.NextAsync(TestContext));
        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual($"set location of {tristan.DoId}: parent {Camelot} does not exist (no OTP node holding it answered within 0.1 s)", new WireReader(error.Payload.Span).ReadString());
        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server: no OTP node took Knight {tristan.DoId} under {Camelot} within StateServer:MoveTimeout (00:00:00.1000000); it stays here")));
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);

        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: true));
        var calledOff = await nodes.ToNodeC.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectMoveCancelled, calledOff.Type);
        Assert.AreEqual(tristan.DoId, calledOff.Subject);
        Assert.IsTrue(calledOff.Payload.IsEmpty);
        foreach (var recorder in new[] { westViewers, owner })
        {
            var seen = await recorder.NextAsync(TestContext);
            Assert.AreEqual(InternalMessageType.EnterLocation, seen.Type);
            Assert.AreEqual(tristan.DoId, seen.Subject);
            Assert.AreEqual(new Location(West, 1), ObjectEntry.Parse(seen.Payload, 0).Location);
        }

        await nodes.BarrierAsync();
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.IsTrue(a.Held.Contains(tristan.DoId));
        Assert.AreEqual(1, ai.Received.Count, "one refusal, no second one for the late answer");
    }

    [TestMethod]
    public async Task AnObjectDeletedWhileOnOffer_CallsTheMoveOffWhenItIsAccepted_AndWhatWaitedIsHandledHere()
    {
        await using var nodes = new TwoNodes(TestContext);
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var squire = new Knight { DoId = new DoId(0x7415, 2), Name = "Squire" };
        await nodes.CreateAsync(a, tristan, West, 1);
        a.Send(InternalMessages.CreateObject(squire, tristan.DoId, 1, DoId.Empty, OtherAi));
        await nodes.BarrierAsync();
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        var offer = ReadOffer(await nodes.Unrouted.NextAsync(TestContext));
        Assert.AreEqual(2, offer.Members.Count);
        tristan.X = 9;
        a.Send(InternalMessages.SetField(tristan, XField, Ai));

        // The squire's AI leaves: its objects go, the squire among them, while he is on offer.
        a.Send(InternalMessages.DeleteAiObjects(OtherAi));
        await nodes.BarrierAsync();
        Assert.AreEqual(2, a.Server.ObjectCount);

        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: true));
        var calledOff = await nodes.ToNodeC.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectMoveCancelled, calledOff.Type);
        Assert.AreEqual(tristan.DoId, calledOff.Subject);
        var seenAgain = await westViewers.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.EnterLocation, seenAgain.Type);
        Assert.AreEqual(tristan.DoId, seenAgain.Subject);
        var relayed = await westViewers.NextAsync(TestContext);
        Assert.IsTrue(relayed.Type is InternalMessageType.RelayBroadcast or InternalMessageType.RelayBroadcastBatch, "the set that waited is applied here: " + relayed.Type);
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.IsTrue(a.Held.Contains(tristan.DoId));
        Assert.AreEqual(1, nodes.ToNodeC.Received.Count, "nothing forwarded, no end of the move");
        Assert.IsFalse(ai.Received.Any(e => e.Type == InternalMessageType.Error));
    }

    [TestMethod]
    public async Task AnArrivalTheOldHolderCallsOff_IsDeleted_AndWhatWaitedForItIsDropped()
    {
        await using var nodes = new TwoNodes(TestContext);
        var b = nodes.B;
        await nodes.CreateAsync(b, new Realm { DoId = East, Title = "east" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var squire = new DoId(0x7415, 2);
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));

        b.Send(Offer(tristan.DoId, East, 2, 5, West, 1, new OfferedKnight(tristan.DoId, West, 1, "Tristan"), new OfferedKnight(squire, tristan.DoId, 1, "Squire")));
        var answer = ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext));
        Assert.AreEqual((true, 5u, b.NodeId, string.Empty), (answer.Accepted, answer.MoveId, answer.ByNode, answer.Reason));
        Assert.AreEqual(InternalMessageType.ChangingLocation, (await eastViewers.NextAsync(TestContext)).Type);
        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"Took Knight {tristan.DoId} and 1 object(s) beneath it from OTP node {TwoNodes.NodeC}: moved from {new Location(West, 1)} to {new Location(East, 2)}")));
        tristan.X = 9;
        b.Send(InternalMessages.SetField(tristan, XField, Ai));

        // Called off, or ended, for an object that is not the move's root, or for no move: nothing happens.
        b.Send(new Envelope(InternalMessageType.ObjectMoveEnd, Channel.StateServer, squire, DoIdBytes(squire)));
        b.Send(new Envelope(InternalMessageType.ObjectMoveCancelled, Channel.StateServer, squire, ReadOnlyMemory<byte>.Empty));
        b.Send(new Envelope(InternalMessageType.ObjectMoveCancelled, Channel.StateServer, new DoId(0x7415, 99), ReadOnlyMemory<byte>.Empty));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 2), b.Server.NodeMoveCounts);
        Assert.AreEqual(3, b.Server.ObjectCount);

        b.Send(new Envelope(InternalMessageType.ObjectMoveCancelled, Channel.StateServer, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        var deleted = await eastViewers.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectDeleted, deleted.Type);
        Assert.AreEqual(tristan.DoId, deleted.Subject);
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 0), b.Server.NodeMoveCounts);
        Assert.AreEqual(1, b.Server.ObjectCount);
        CollectionAssert.AreEquivalent(new[] { East }, b.Held.ToList());
        Assert.AreEqual(2, eastViewers.Received.Count, "the set that waited was dropped with the copy, never relayed");
    }

    [TestMethod]
    public async Task AnArrivalWhoseOldHolderNeverSaysItIsDone_HandlesWhatWaitedAfterMoveTimeout()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MoveTimeout = TimeSpan.FromMilliseconds(200) });
        var b = nodes.B;
        await nodes.CreateAsync(b, new Realm { DoId = East, Title = "east" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));

        b.Send(Offer(tristan.DoId, East, 2, 5, West, 1, new OfferedKnight(tristan.DoId, West, 1, "Tristan")));
        Assert.IsTrue(ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext)).Accepted);
        Assert.AreEqual(InternalMessageType.ChangingLocation, (await eastViewers.NextAsync(TestContext)).Type);
        tristan.X = 9;
        b.Send(InternalMessages.SetField(tristan, XField, Ai));

        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server: OTP node {TwoNodes.NodeC} did not say it forwarded what it held for {tristan.DoId} within StateServer:MoveTimeout (00:00:00.2000000); the 1 request(s) that reached this node meanwhile are handled now")));
        var relayed = await eastViewers.NextAsync(TestContext);
        Assert.IsTrue(relayed.Type is InternalMessageType.RelayBroadcast or InternalMessageType.RelayBroadcastBatch, relayed.Type.ToString());
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 0), b.Server.NodeMoveCounts);
    }

    [TestMethod]
    public async Task ARequestTheOldHolderForwards_IsHandledAtOnce_ItsDirectCopyIsDropped_AndTheOthersThatWaitedFollowTheEnd()
    {
        await using var nodes = new TwoNodes(TestContext);
        var b = nodes.B;
        await nodes.CreateAsync(b, new Realm { DoId = East, Title = "east" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));
        b.Send(Offer(tristan.DoId, East, 2, 5, West, 1, new OfferedKnight(tristan.DoId, West, 1, "Tristan", Previous: OtherAi)));
        Assert.IsTrue(ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext)).Accepted);
        Assert.AreEqual(InternalMessageType.ChangingLocation, (await eastViewers.NextAsync(TestContext)).Type);

        // A request forwarded while nothing waits here is handled at once.
        tristan.X = 8;
        b.Send(Forwarded(b.NodeId, InternalMessages.SetField(tristan, XField, Ai)));
        await nodes.BarrierAsync();
        Assert.AreEqual(2, eastViewers.Received.Count);

        // Four reach the east node directly and wait: one differs from the forwarded one only by its sender, one only
        // by its value, and two are copies of it (each reached both nodes on the holder subject; one is forwarded).
        tristan.X = 9;
        var fromOther = InternalMessages.SetField(tristan, XField, ThirdAi);
        var copy = InternalMessages.SetField(tristan, XField, Ai);
        tristan.X = 10;
        var otherValue = InternalMessages.SetField(tristan, XField, Ai);
        b.Send(fromOther);
        b.Send(otherValue);
        b.Send(copy);
        b.Send(copy);

        // A timer's end that is not this arrival's ends nothing.
        b.Send(new Envelope(InternalMessageType.ObjectMoveEnd, Channel.StateServer, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        await nodes.BarrierAsync();
        Assert.AreEqual(2, eastViewers.Received.Count, "the direct ones wait for the old holder's end");
        Assert.AreEqual((0, 0, 1), b.Server.NodeMoveCounts);

        b.Send(Forwarded(b.NodeId, copy));
        await nodes.BarrierAsync();
        Assert.AreEqual(3, eastViewers.Received.Count, "the forwarded one is handled at once");

        using var endIds = new PooledBufferWriter(32);
        endIds.WriteUInt16(1);
        endIds.WriteDoId(tristan.DoId);
        b.Send(new Envelope(InternalMessageType.ObjectMoveEnd, Channel.StateServer, tristan.DoId, endIds.WrittenSpan.ToArray()));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 0), b.Server.NodeMoveCounts);
        var eight = InternalMessages.SetField(new Knight { DoId = tristan.DoId, X = 8 }, XField, Ai);
        var expected = new[] { eight, copy, fromOther, otherValue, copy }.Select(e => (e.Sender, Convert.ToHexString(e.Payload.Span[2..]))).ToList();
        CollectionAssert.AreEqual(expected, RelayedValues(eastViewers.Received.Skip(1)), "the forwarded two, then those that waited but the first copy, in order");

        // The AI that released the knight before the move (the offer says so) is still refused a change that crossed it.
        var released = nodes.Listen(OtherAi);
        b.Send(InternalMessages.SetField(tristan, XField, OtherAi));
        var crossed = await released.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, crossed.Type);
        Assert.AreEqual($"SetField on Knight {tristan.DoId}: {OtherAi} handed this object over to AI {Ai}, which handles it now; the change crossed the handover and is dropped", new WireReader(crossed.Payload.Span).ReadString());

        // What the east node keeps now shows in its own offer when the knight moves on: the last set (X = 9, the copy
        // that waited) is its value, and the AI that released it before the move is still known.
        b.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        var onward = ReadOffer(await nodes.Unrouted.NextAsync(TestContext));
        var member = onward.Members.Single();
        Assert.AreEqual(tristan.DoId, member.Id);
        Assert.AreEqual(OtherAi, member.Previous);
        CollectionAssert.AreEqual(copy.Payload[2..].ToArray(), member.Values[XField.WireId]);
    }

    [TestMethod]
    public async Task RequestsPastMaxHandOverHeldRequests_AreRefused_AClientsWithItsEjectCode()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MaxHandOverHeldRequests = 1 });
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        await nodes.CreateAsync(a, tristan, West, 1);
        var session = Channel.ForSession(new DoId(0x5E, 1));
        var ai = nodes.Listen(Ai);
        var client = nodes.Listen(session);

        a.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        var offer = ReadOffer(await nodes.Unrouted.NextAsync(TestContext));
        a.Send(InternalMessages.SetField(tristan, XField, Ai));
        a.Send(InternalMessages.SetField(tristan, XField, Ai));
        a.Send(InternalMessages.SetField(tristan, XField, session));

        string reason = $"{tristan.DoId} is moving to another OTP node and 1 requests already wait for it (StateServer:MaxHandOverHeldRequests); send it again";
        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual(tristan.DoId, error.Subject);
        Assert.AreEqual(reason, new WireReader(error.Payload.Span).ReadString());
        var refused = await client.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ClientRequestRefused, refused.Type);
        Assert.AreEqual(tristan.DoId, refused.Subject);
        var reader = new WireReader(refused.Payload.Span);
        Assert.AreEqual((ushort)EjectCode.ObjectMoveBacklogFull, reader.ReadUInt16());
        Assert.AreEqual(reason, reader.ReadString());
        await nodes.BarrierAsync();
        Assert.AreEqual((1, 0, 0), a.Server.NodeMoveCounts);

        // The one that waited is forwarded when the move is accepted; the refused ones are not.
        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: true));
        Assert.AreEqual(InternalMessageType.ObjectMoveForwarded, (await nodes.ToNodeC.NextAsync(TestContext)).Type);
        Assert.AreEqual(InternalMessageType.ObjectMoveEnd, (await nodes.ToNodeC.NextAsync(TestContext)).Type);
        Assert.AreEqual(1, ai.Received.Count);
        Assert.AreEqual(1, client.Received.Count);
    }

    [TestMethod]
    public async Task AProbe_IsAnsweredByTheHolder_ForwardedAndAnsweredByTheOldHolder_AndNeverToARole()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        await nodes.CreateAsync(a, tristan, West, 1);
        var ai = nodes.Listen(Ai);
        var database = nodes.Listen(Channel.Database);
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));

        a.Send(new Envelope(InternalMessageType.ObjectMoveProbe, Ai, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        a.Send(new Envelope(InternalMessageType.ObjectMoveProbe, Channel.Database, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        a.Send(new Envelope(InternalMessageType.ObjectMoveProbe, Channel.ForLocation(West, 1), tristan.DoId, ReadOnlyMemory<byte>.Empty));
        var answered = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectHolderMoved, answered.Type);
        Assert.AreEqual(tristan.DoId, answered.Subject);
        CollectionAssert.AreEqual(ProbeAnswer(a.NodeId), answered.Payload.ToArray(), "the holder itself, marked as the probe's answer");

        await nodes.BarrierAsync();
        Assert.IsEmpty(westViewers.Received, "a location's probe is not answered");
        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.IsTrue(b.Held.Contains(tristan.DoId));

        // The way the AI remembered reaches the west node: forwarded, answered there (and not again by the east node).
        a.Send(new Envelope(InternalMessageType.ObjectMoveProbe, Ai, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        a.Send(new Envelope(InternalMessageType.ObjectMoveProbe, Channel.Database, tristan.DoId, ReadOnlyMemory<byte>.Empty));
        var forwarded = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectHolderMoved, forwarded.Type);
        CollectionAssert.AreEqual(ProbeAnswer(b.NodeId), forwarded.Payload.ToArray());
        await nodes.BarrierAsync();
        Assert.AreEqual(2, ai.Received.Count);
        Assert.IsEmpty(database.Received, "a role's probe is not answered");
    }

    [TestMethod]
    public async Task ForwardingEntriesPastMoveForwardTime_AreSweptAtTheNextMove_OrDroppedWhenUsed()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MoveForwardTime = TimeSpan.Zero });
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        var gawain = new Knight { DoId = new DoId(0x7415, 3), Name = "Gawain" };
        await nodes.CreateAsync(a, tristan, West, 1);
        await nodes.CreateAsync(a, gawain, West, 1);
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 1, 0), a.Server.NodeMoveCounts);
        await ClockPassesAsync();

        // The next move sweeps Tristan's entry, which is past its time, and keeps Gawain's.
        a.Send(InternalMessages.SetLocation(gawain.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 1, 0), a.Server.NodeMoveCounts);
        Assert.AreEqual(1, a.Server.ObjectCount);
        await ClockPassesAsync();

        // A request that still reaches the west node after that is not forwarded: the node knows no such object.
        a.Send(InternalMessages.SetField(gawain, XField, Ai));
        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.Error, error.Type);
        Assert.AreEqual($"SetField: no object {gawain.DoId}", new WireReader(error.Payload.Span).ReadString());
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
        Assert.IsFalse(ai.Received.Any(e => e.Type == InternalMessageType.ObjectHolderMoved));
    }

    [TestMethod]
    public async Task AnOfferUnderAnObjectThatIsMovingAway_WaitsForThatMovesAnswer()
    {
        await using var nodes = new TwoNodes(TestContext);
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        var page = new DoId(0x7415, 4);
        await nodes.CreateAsync(a, tristan, West, 1);
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        var offer = ReadOffer(await nodes.Unrouted.NextAsync(TestContext));
        a.Send(Offer(page, tristan.DoId, 1, 21, Camelot, 4, new OfferedKnight(page, Camelot, 4, "Page")));
        await nodes.BarrierAsync();
        Assert.AreEqual(0, nodes.ToNodeC.Unread, "the offer under the moving knight waits");

        // The knight's move is refused: he stays, and the offer that waited is taken under him.
        a.Send(Answer(a.NodeId, tristan.DoId, offer.MoveId, accepted: false, $"set location of {tristan.DoId}: no room"));
        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual($"set location of {tristan.DoId}: no room", new WireReader(error.Payload.Span).ReadString());
        var answer = ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext));
        Assert.AreEqual((page, 21u, true, a.NodeId), (answer.Subject, answer.MoveId, answer.Accepted, answer.ByNode));
        await nodes.BarrierAsync();
        Assert.AreEqual(3, a.Server.ObjectCount);
        Assert.AreEqual((0, 0, 1), a.Server.NodeMoveCounts);
    }

    [TestMethod]
    public async Task AStoredObjectsMoveThatTimesOutBeforeItsDbBarrier_IsNotOfferedWhenTheBarrierIsAnswered()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MoveTimeout = TimeSpan.FromMilliseconds(100) }, databaseEnabled: true);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var lamp = new OilLamp { DoId = new DoId(0x1A, 1), Name = "lamp", Oil = 3 };
        a.Send(InternalMessages.CreateObject(lamp, West, 1, DoId.Empty, Ai, databaseBacked: true));
        await nodes.BarrierAsync();
        var database = nodes.Listen(Channel.Database);
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(lamp.DoId, East, 2, Ai));
        var barrier = await database.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.DbGetAll, barrier.Type);
        var error = await ai.NextAsync(TestContext);
        Assert.AreEqual($"set location of {lamp.DoId}: parent {East} does not exist (no OTP node holding it answered within 0.1 s)", new WireReader(error.Payload.Span).ReadString());

        using var answer = new PooledBufferWriter(16);
        answer.WriteUInt32(new WireReader(barrier.Payload.Span).ReadUInt32());
        answer.WriteByte((byte)DatabaseStatus.Ok);
        answer.WriteString(string.Empty);
        answer.WriteUInt16(0);
        a.Send(new Envelope(InternalMessageType.DbGetAllResp, Channel.Database, lamp.DoId, answer.WrittenSpan.ToArray()));
        await nodes.BarrierAsync();
        Assert.AreEqual(1, b.Server.ObjectCount, "no offer after the move was given up");
        Assert.AreEqual(2, a.Server.ObjectCount);
        Assert.AreEqual(1, ai.Received.Count, "the barrier's answer is the move's, not an activation to refuse");
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
    }

    [TestMethod]
    public async Task WhileAMoveWaitsForItsDbBarrier_AnotherActivationFinishes_AndOneUnderTheMovingObjectWaitsForTheMove()
    {
        await using var nodes = new TwoNodes(TestContext, databaseEnabled: true);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var lamp = new OilLamp { DoId = new DoId(0x1A, 1), Name = "lamp", Oil = 3 };
        a.Send(InternalMessages.CreateObject(lamp, West, 1, DoId.Empty, Ai, databaseBacked: true));
        await nodes.BarrierAsync();
        var database = nodes.Listen(Channel.Database);
        var ai = nodes.Listen(Ai);
        var name = lamp.Model.Fields.Single(f => f.Name == nameof(OilLamp.Name));
        var wick = new DoId(0x1A, 2);
        var shade = new DoId(0x1A, 3);

        a.Send(InternalMessages.SetLocation(lamp.DoId, East, 2, Ai));
        var barrier = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbGetAll, lamp.DoId), (barrier.Type, barrier.Subject));

        // An activation elsewhere asks the Database role too; its answer is the activation's, not the move's.
        a.Send(DatabaseMessages.ActivateObject(41, lamp.Model, wick, West, 1, DoId.Empty, Ai, (name, "wick")));
        var load = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbGetAll, wick), (load.Type, load.Subject));
        a.Send(DbGetAllOk(load, wick));
        var activated = await ai.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.ActivateObjectResp, wick), (activated.Type, activated.Subject));
        var reply = DatabaseMessages.ReadReply(activated, lamp.Model);
        Assert.AreEqual((41u, DatabaseStatus.Ok), (reply.Context, reply.Status));

        // One under the moving lamp waits: it is about the lamp's subtree.
        a.Send(DatabaseMessages.ActivateObject(42, lamp.Model, shade, lamp.DoId, 1, DoId.Empty, Ai, (name, "shade")));
        await nodes.BarrierAsync();
        Assert.AreEqual(0, database.Unread, "no load for the shade while its parent is moving");
        Assert.AreEqual((1, 0, 0), a.Server.NodeMoveCounts, "the move still waits for its barrier");
        Assert.AreEqual(3, a.Server.ObjectCount);

        // The barrier answered: the lamp moves, and the shade's activation is forwarded to the lamp's new node.
        a.Send(DbGetAllOk(barrier, lamp.DoId));
        var forwardedLoad = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbGetAll, shade), (forwardedLoad.Type, forwardedLoad.Subject));
        await nodes.BarrierAsync();
        Assert.IsTrue(b.Held.Contains(lamp.DoId));
        Assert.IsTrue(b.Held.Contains(shade), "the east node holds the shade from its activation on");
        Assert.AreEqual(2, a.Server.ObjectCount);
    }

    private static Envelope DbGetAllOk(Envelope load, DoId id)
    {
        using var answer = new PooledBufferWriter(16);
        answer.WriteUInt32(new WireReader(load.Payload.Span).ReadUInt32());
        answer.WriteByte((byte)DatabaseStatus.Ok);
        answer.WriteString(string.Empty);
        answer.WriteUInt16(0);
        return new Envelope(InternalMessageType.DbGetAllResp, Channel.Database, id, answer.WrittenSpan.ToArray());
    }

    [TestMethod]
    public async Task AnObjectThatMovesBack_IsNoLongerForwardedByTheNodeItCameBackTo()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        await nodes.CreateAsync(a, tristan, West, 1);

        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.AreEqual(((0, 1, 0), (0, 0, 0)), (a.Server.NodeMoveCounts, b.Server.NodeMoveCounts));

        b.Send(InternalMessages.SetLocation(tristan.DoId, West, 3, Ai));
        await nodes.BarrierAsync();
        Assert.IsTrue(a.Held.Contains(tristan.DoId));
        Assert.AreEqual(((0, 0, 0), (0, 1, 0)), (a.Server.NodeMoveCounts, b.Server.NodeMoveCounts), "the west node holds it again and forwards it nowhere");
    }

    [TestMethod]
    public async Task AnObjectThatArrivesInADistrictAnotherAiServes_IsHandedToThatAi()
    {
        await using var nodes = new TwoNodes(TestContext);
        var b = nodes.B;
        await nodes.CreateAsync(b, new Realm { DoId = East, Title = "east" }, DoId.Empty, 0);
        b.Send(InternalMessages.ServeDistricts(OtherAi, [(East, 2, 2)]));
        await nodes.BarrierAsync();
        var district = nodes.Listen(OtherAi);
        var ai = nodes.Listen(Ai);
        var tristan = new DoId(0x7415, 1);

        b.Send(Offer(tristan, East, 2, 5, West, 1, new OfferedKnight(tristan, West, 1, "Tristan")));
        Assert.IsTrue(ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext)).Accepted);
        var adopted = await district.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.AdoptedAiObject, tristan), (adopted.Type, adopted.Subject));
        var released = await ai.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.ReleasedAiObject, tristan), (released.Type, released.Subject));
        var reader = new WireReader(released.Payload.Span);
        Assert.AreEqual(OtherAi, Channel.Read(ref reader));
    }

    [TestMethod]
    public async Task AMoveCalledOffByADeletionThatThenTimesOut_RefusesNothing_AndWhatWaitedIsHandledHere()
    {
        await using var nodes = new TwoNodes(TestContext, new StateServerOptions { MoveTimeout = TimeSpan.FromMilliseconds(100) });
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan", X = 7 };
        await nodes.CreateAsync(a, tristan, West, 1);
        a.Send(InternalMessages.CreateObject(new Knight { DoId = new DoId(0x7415, 2), Name = "Squire" }, tristan.DoId, 1, DoId.Empty, OtherAi));
        await nodes.BarrierAsync();
        var westViewers = nodes.Listen(Channel.ForLocation(West, 1));
        var ai = nodes.Listen(Ai);

        a.Send(InternalMessages.SetLocation(tristan.DoId, Camelot, 4, Ai));
        tristan.X = 9;
        a.Send(InternalMessages.SetField(tristan, XField, Ai));
        a.Send(InternalMessages.DeleteAiObjects(OtherAi));

        var relayed = await westViewers.NextAsync(TestContext);
        Assert.IsTrue(relayed.Type is InternalMessageType.RelayBroadcast or InternalMessageType.RelayBroadcastBatch, "the set that waited is applied after the timeout: " + relayed.Type);
        await nodes.Logs.WaitForLineAsync(new Regex(Regex.Escape($"State Server: no OTP node took Knight {tristan.DoId} under {Camelot} within StateServer:MoveTimeout")));
        await nodes.BarrierAsync();
        Assert.IsEmpty(ai.Received, "a move called off by a deletion is not refused to the mover when it times out");
        Assert.AreEqual((0, 0, 0), a.Server.NodeMoveCounts);
        Assert.AreEqual(2, a.Server.ObjectCount);
    }

    [TestMethod]
    public async Task AnObjectCreatedAgainWithTheIdOfOneThatMovedAway_IsHandledWhereItIsNow()
    {
        await using var nodes = new TwoNodes(TestContext);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        await nodes.CreateAsync(a, tristan, West, 1);
        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.AreEqual((0, 1, 0), a.Server.NodeMoveCounts);

        // The west node has an object with that id again (the forwarding entry is still there): requests about it are its own.
        var again = new Knight { DoId = tristan.DoId, Name = "Again" };
        await nodes.CreateAsync(a, again, West, 5);
        var westViewers = nodes.Listen(Channel.ForLocation(West, 5));
        var eastViewers = nodes.Listen(Channel.ForLocation(East, 2));
        var ai = nodes.Listen(Ai);
        again.X = 4;
        a.Send(InternalMessages.SetField(again, XField, Ai));
        var relayed = await westViewers.NextAsync(TestContext);
        Assert.IsTrue(relayed.Type is InternalMessageType.RelayBroadcast or InternalMessageType.RelayBroadcastBatch, relayed.Type.ToString());
        await nodes.BarrierAsync();
        Assert.IsEmpty(eastViewers.Received, "not forwarded");
        Assert.IsEmpty(ai.Received, "no ObjectHolderMoved");
    }

    [TestMethod]
    public async Task TheDbBarrier_IsAskedOnlyForASubtreeWithAStoredObject_AboutTheFirstStoredOne()
    {
        await using var nodes = new TwoNodes(TestContext, databaseEnabled: true);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var tristan = new Knight { DoId = new DoId(0x7415, 1), Name = "Tristan" };
        var gawain = new Knight { DoId = new DoId(0x7415, 3), Name = "Gawain" };
        var lamp = new OilLamp { DoId = new DoId(0x1A, 1), Name = "lamp", Oil = 3 };
        await nodes.CreateAsync(a, tristan, West, 1);
        await nodes.CreateAsync(a, gawain, West, 1);
        a.Send(InternalMessages.CreateObject(lamp, gawain.DoId, 1, DoId.Empty, Ai, databaseBacked: true));
        await nodes.BarrierAsync();
        var database = nodes.Listen(Channel.Database);

        // Nothing stored: offered at once.
        a.Send(InternalMessages.SetLocation(tristan.DoId, East, 2, Ai));
        await nodes.BarrierAsync();
        Assert.IsTrue(b.Held.Contains(tristan.DoId));
        Assert.IsEmpty(database.Received);

        // A stored lamp beneath: the barrier reads the lamp.
        a.Send(InternalMessages.SetLocation(gawain.DoId, East, 2, Ai));
        var barrier = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbGetAll, lamp.DoId), (barrier.Type, barrier.Subject));
        await nodes.BarrierAsync();
        Assert.IsFalse(b.Held.Contains(gawain.DoId));
        a.Send(DbGetAllOk(barrier, lamp.DoId));
        await nodes.BarrierAsync();
        Assert.IsTrue(b.Held.Contains(lamp.DoId));
        Assert.AreEqual(1, a.Server.ObjectCount);
    }

    [TestMethod]
    public async Task AMovedObject_KeepsItsKindOnTheNewNode_OnlyTheStoredOnesDbFieldIsWrittenThroughThere()
    {
        await using var nodes = new TwoNodes(TestContext, databaseEnabled: true);
        var (a, b) = (nodes.A, nodes.B);
        await nodes.CreateRealmsAsync();
        var ramLamp = new OilLamp { DoId = new DoId(0x1A, 1), Name = "ram", Oil = 3 };
        var storedLamp = new OilLamp { DoId = new DoId(0x1A, 2), Name = "stored", Oil = 4 };
        await nodes.CreateAsync(a, ramLamp, West, 1);
        a.Send(InternalMessages.CreateObject(storedLamp, West, 1, DoId.Empty, Ai, databaseBacked: true));
        await nodes.BarrierAsync();
        var database = nodes.Listen(Channel.Database);

        a.Send(InternalMessages.SetLocation(ramLamp.DoId, East, 2, Ai));
        a.Send(InternalMessages.SetLocation(storedLamp.DoId, East, 2, Ai));
        var barrier = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbGetAll, storedLamp.DoId), (barrier.Type, barrier.Subject));
        a.Send(DbGetAllOk(barrier, storedLamp.DoId));
        await nodes.BarrierAsync();
        Assert.IsTrue(b.Held.IsSupersetOf(new[] { ramLamp.DoId, storedLamp.DoId }), "both lamps moved");

        var oil = ramLamp.Model.Fields.Single(f => f.Name == nameof(OilLamp.Oil));
        ramLamp.Oil = 30;
        storedLamp.Oil = 31;
        b.Send(InternalMessages.SetField(ramLamp, oil, Ai));
        b.Send(InternalMessages.SetField(storedLamp, oil, Ai));
        var write = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbSetFields, storedLamp.DoId), (write.Type, write.Subject));
        CollectionAssert.AreEqual(DatabaseMessages.SetFields(0, storedLamp.Model, storedLamp.DoId, Ai, (oil, 31)).Payload.ToArray(), write.Payload.ToArray());
        await nodes.BarrierAsync();
        Assert.AreEqual(0, database.Unread, "the RAM lamp's Oil stays in RAM on the new node too");
    }

    [TestMethod]
    public async Task AnOfferOfAnObjectThisNodeIsActivating_IsRefused()
    {
        await using var nodes = new TwoNodes(TestContext, databaseEnabled: true);
        var a = nodes.A;
        await nodes.CreateAsync(a, new Realm { DoId = West, Title = "west" }, DoId.Empty, 0);
        var database = nodes.Listen(Channel.Database);
        var lamp = new OilLamp();
        var wick = new DoId(0x1A, 2);
        a.Send(DatabaseMessages.ActivateObject(41, lamp.Model, wick, West, 1, DoId.Empty, Ai, (lamp.Model.Fields.Single(f => f.Name == nameof(OilLamp.Name)), "wick")));
        var load = await database.NextAsync(TestContext);
        Assert.AreEqual((InternalMessageType.DbGetAll, wick), (load.Type, load.Subject));

        a.Send(Offer(wick, West, 1, 7, Camelot, 1, new OfferedKnight(wick, Camelot, 1, "Wick")));
        var answer = ReadAnswer(await nodes.ToNodeC.NextAsync(TestContext));
        Assert.AreEqual((false, $"set location of {wick}: Knight {wick} already exists on the node of the new parent"), (answer.Accepted, answer.Reason));
    }

    private const int MaxOfferBytes = 512 * 1024;

    private static async Task ClockPassesAsync()
    {
        // Forwarding entries compare Environment.TickCount64; with MoveForwardTime zero an entry is past its time once
        // the clock has moved on (this waits for the clock, not for an event).
        long start = Environment.TickCount64;
        while (Environment.TickCount64 <= start + 1)
        {
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// The SetField frames the relays carry, in order: each frame's sender and value (hex), from <c>length: uint32,
    /// type: uint16, doid, field: uint16, value</c> (the replayed ones from one sender go out in one batch).
    /// </summary>
    private static List<(Channel Sender, string Value)> RelayedValues(IEnumerable<Envelope> relays)
    {
        var values = new List<(Channel, string)>();
        foreach (var relay in relays)
        {
            ReadOnlyMemory<byte> frames = relay.Type switch
            {
                InternalMessageType.RelayBroadcast => relay.Payload,
                InternalMessageType.RelayBroadcastBatch => RelayBatch.TryRead(relay.Payload, out var batch) ? batch.Frames : throw new AssertFailedException("a batch too short for its header"),
                _ => throw new AssertFailedException($"{relay.Type} is not a relay"),
            };
            var reader = new WireReader(frames.Span);
            while (reader.Position < frames.Length)
            {
                int length = (int)reader.ReadUInt32();
                var frame = frames.Span.Slice(reader.Position, length);
                reader.ReadRaw(length);
                values.Add((relay.Sender, Convert.ToHexString(frame[(2 + DoId.Size + 2)..])));
            }
        }

        return values;
    }

    private static byte[] DoIdBytes(DoId id)
    {
        using var writer = new PooledBufferWriter(DoId.Size);
        writer.WriteDoId(id);
        return writer.WrittenSpan.ToArray();
    }

    private static byte[] ProbeAnswer(DoId node)
    {
        using var writer = new PooledBufferWriter(32);
        writer.WriteDoId(node);
        writer.WriteByte(1);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>An <see cref="InternalMessageType.ObjectMoveOffer"/> from the test's node, as StateServer.SendOffer writes one.</summary>
    private static Envelope Offer(DoId subject, DoId newParent, uint newZone, uint moveId, DoId oldParent, uint oldZone, params OfferedKnight[] knights)
    {
        using var writer = new PooledBufferWriter(256);
        writer.WriteDoId(newParent);
        writer.WriteUInt32(newZone);
        writer.WriteDoId(TwoNodes.NodeC);
        writer.WriteUInt32(moveId);
        writer.WriteDoId(oldParent);
        writer.WriteUInt32(oldZone);
        writer.WriteUInt16((ushort)knights.Length);
        foreach (var knight in knights)
        {
            writer.WriteDoId(knight.Id);
            writer.WriteUInt32(knight.ClassId ?? Template.Model.ClassId);
            writer.WriteDoId(knight.Parent);
            writer.WriteUInt32(knight.Zone);
            writer.WriteDoId(DoId.Empty);
            Ai.Write(writer);
            knight.Previous.Write(writer);
            writer.WriteByte(0);
            writer.WriteUInt16(1);
            writer.WriteUInt16(NameField.WireId);
            NameField.Encode(new Knight { Name = knight.Name }, writer);
        }

        return new Envelope(InternalMessageType.ObjectMoveOffer, Ai, subject, writer.WrittenSpan.ToArray());
    }

    /// <summary>An <see cref="InternalMessageType.ObjectMoveAnswer"/> from the test's node, as StateServer.AnswerMove writes one.</summary>
    private static Envelope Answer(DoId toNode, DoId subject, uint moveId, bool accepted, string reason = "")
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(toNode);
        writer.WriteUInt32(moveId);
        writer.WriteByte(accepted ? (byte)1 : (byte)0);
        writer.WriteDoId(TwoNodes.NodeC);
        writer.WriteString(reason);
        return new Envelope(InternalMessageType.ObjectMoveAnswer, Channel.StateServer, subject, writer.WrittenSpan.ToArray());
    }

    /// <summary>An <see cref="InternalMessageType.ObjectMoveForwarded"/> from the test's node, as StateServer.Forward writes one.</summary>
    private static Envelope Forwarded(DoId toNode, Envelope request)
    {
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(toNode);
        writer.WriteUInt16((ushort)request.Type);
        request.WriteBody(writer, ReadOnlySpan<Channel>.Empty);
        return new Envelope(InternalMessageType.ObjectMoveForwarded, Channel.StateServer, request.Subject, writer.WrittenSpan.ToArray());
    }

    private static (DoId Subject, DoId ToNode, uint MoveId, bool Accepted, DoId ByNode, string Reason) ReadAnswer(Envelope answer)
    {
        Assert.AreEqual(InternalMessageType.ObjectMoveAnswer, answer.Type);
        var reader = new WireReader(answer.Payload.Span);
        var result = (answer.Subject, reader.ReadDoId(), reader.ReadUInt32(), reader.ReadByte() == 1, reader.ReadDoId(), reader.ReadString());
        reader.EnsureAtEnd();
        return result;
    }

    private static OfferRead ReadOffer(Envelope offer)
    {
        Assert.AreEqual(InternalMessageType.ObjectMoveOffer, offer.Type);
        var reader = new WireReader(offer.Payload.Span);
        var newParent = reader.ReadDoId();
        uint newZone = reader.ReadUInt32();
        var fromNode = reader.ReadDoId();
        uint moveId = reader.ReadUInt32();
        var oldParent = reader.ReadDoId();
        uint oldZone = reader.ReadUInt32();
        int count = reader.ReadUInt16();
        var members = new List<OfferMember>();
        for (int i = 0; i < count; i++)
        {
            var id = reader.ReadDoId();
            uint classId = reader.ReadUInt32();
            reader.ReadDoId();
            reader.ReadUInt32();
            reader.ReadDoId();
            Channel.Read(ref reader);
            var previous = Channel.Read(ref reader);
            reader.ReadByte();
            int fields = reader.ReadUInt16();
            Assert.IsTrue(Deployment.Registry.TryGetModel(classId, out var model));
            var values = new Dictionary<int, byte[]>();
            for (int f = 0; f < fields; f++)
            {
                var field = model.FindFieldByWireId(reader.ReadUInt16())!;
                int start = reader.Position;
                field.Codec.Skip(ref reader);
                values[field.WireId] = offer.Payload.Span[start..reader.Position].ToArray();
            }

            members.Add(new OfferMember(id, previous, values));
        }

        reader.EnsureAtEnd();
        return new OfferRead(newParent, newZone, fromNode, moveId, oldParent, oldZone, members);
    }

    private sealed record OfferedKnight(DoId Id, DoId Parent, uint Zone, string Name, uint? ClassId = null, Channel Previous = default);

    private sealed record OfferMember(DoId Id, Channel Previous, Dictionary<int, byte[]> Values);

    private sealed record OfferRead(DoId NewParent, uint NewZone, DoId FromNode, uint MoveId, DoId OldParent, uint OldZone, List<OfferMember> Members);
}
