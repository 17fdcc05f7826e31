using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>
/// An AI restart at the State Server (<c>StateServer.AiRestart.cs</c>), in process: a dropped AI's objects are parked
/// (kept, with nothing leaving any view) for <see cref="StateServerOptions.AiRestartGrace"/>, the next AI of the same
/// application claims them, the accounts whose sessions closed meanwhile are named to it, and without a claim (or with no
/// grace, or no application name) the normal cleanup deletes them.
/// </summary>
[TestClass]
public sealed class StateServerAiRestartTests
{
    private const string Game = "Game.LampAi";
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(StreetLamp) });
    private static readonly Channel DeadAi = Channel.ForParticipant(new DoId(0, 0xDEAD));
    private static readonly Channel NextAi = Channel.ForParticipant(new DoId(0, 0x2E));
    private static readonly DoId Alice = new(0, 0xA11CE);
    private static readonly DoId Bob = new(0, 0xB0B);

    private StateServerRig rig = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public async Task ADroppedAisObjects_StayInTheWorld_AndTheNextAiOfItsApplication_ClaimsThemAll()
    {
        Start(TimeSpan.FromMinutes(10));
        var lamps = new[] { new StreetLamp { Name = "a" }, new StreetLamp { Name = "b" } };
        foreach (var lamp in lamps)
        {
            await rig.CreateAsync(lamp, DoId.Empty, 7, DeadAi, Alice);
        }

        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));
        var next = rig.Listen(NextAi);

        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));
        await rig.BarrierAsync();
        Assert.IsEmpty(location.Received, "no viewer sees the objects leave");
        Assert.AreEqual(2, rig.Server.ObjectCount);
        Assert.AreEqual(1, rig.Server.ParkedAiCount);

        rig.Send(InternalMessages.ClaimAiObjects(77, Game, NextAi));
        await rig.BarrierAsync();

        var claimed = next.Received;
        Assert.HasCount(3, claimed, "two objects, then the done");
        CollectionAssert.AreEquivalent(lamps.Select(l => l.DoId).ToArray(), claimed.Take(2).Select(e => e.Subject).ToArray());
        foreach (var entry in claimed.Take(2))
        {
            Assert.AreEqual(InternalMessageType.ClaimedAiObject, entry.Type);
            Assert.AreEqual(77u, new WireReader(entry.Payload.Span).ReadUInt32());
        }

        Assert.AreEqual(InternalMessageType.QueryDone, claimed[2].Type);
        Assert.AreEqual(77u, new WireReader(claimed[2].Payload.Span).ReadUInt32());
        Assert.AreEqual(0, rig.Server.ParkedAiCount);

        // They are the claimer's now: its own cleanup deletes them, the dead AI's does nothing.
        rig.Send(InternalMessages.DeleteAiObjects(DeadAi));
        await rig.BarrierAsync();
        Assert.AreEqual(2, rig.Server.ObjectCount);
        rig.Send(InternalMessages.DeleteAiObjects(NextAi));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ObjectCount);
    }

    [TestMethod]
    public async Task TwoDroppedAisOfOneApplication_AreBothClaimed_AnotherApplicationClaimsNothing()
    {
        Start(TimeSpan.FromMinutes(10));
        var second = Channel.ForParticipant(new DoId(0, 0xDEAE));
        await rig.CreateAsync(new StreetLamp { Name = "a" }, DoId.Empty, 7, DeadAi);
        await rig.CreateAsync(new StreetLamp { Name = "b" }, DoId.Empty, 7, second);
        var next = rig.Listen(NextAi);
        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));
        rig.Send(InternalMessages.ParkAiObjects(second, Game));
        await rig.BarrierAsync();
        Assert.AreEqual(2, rig.Server.ParkedAiCount);

        rig.Send(InternalMessages.ClaimAiObjects(5, "Other.App", NextAi));
        await rig.BarrierAsync();
        Assert.AreEqual(InternalMessageType.QueryDone, next.Received.Single().Type, "nothing parked under that name: only the done");
        Assert.AreEqual(2, rig.Server.ParkedAiCount);

        rig.Send(InternalMessages.ClaimAiObjects(6, Game, NextAi));
        await rig.BarrierAsync();
        Assert.AreEqual(2, next.Received.Count(e => e.Type == InternalMessageType.ClaimedAiObject));
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
    }

    [TestMethod]
    public async Task AnOwnersSessionThatClosedWhileParked_IsNamedToTheClaimer_Once_AndOnlyOwnersAre()
    {
        Start(TimeSpan.FromMinutes(10));
        await rig.CreateAsync(new StreetLamp { Name = "alice's" }, DoId.Empty, 7, DeadAi, Alice);
        await rig.CreateAsync(new StreetLamp { Name = "bob's" }, DoId.Empty, 7, DeadAi, Bob);
        await rig.CreateAsync(new StreetLamp { Name = "the AI's" }, DoId.Empty, 7, DeadAi);
        var next = rig.Listen(NextAi);
        var stranger = new DoId(0, 0x5);

        SessionClosed(Alice);
        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));
        SessionClosed(Bob);
        SessionClosed(Bob);
        SessionClosed(stranger);
        await rig.BarrierAsync();
        rig.Send(InternalMessages.ClaimAiObjects(9, Game, NextAi));
        await rig.BarrierAsync();

        var closed = next.Received.Where(e => e.Type == InternalMessageType.ClaimedSessionClosed).ToList();
        Assert.HasCount(1, closed, "Bob's session closed while parked (twice, named once); Alice's before; the stranger owns nothing");
        Assert.AreEqual(Bob, closed[0].Subject);
        Assert.AreEqual(9u, new WireReader(closed[0].Payload.Span).ReadUInt32());
        Assert.AreEqual(InternalMessageType.QueryDone, next.Received[^1].Type, "the done comes last");
    }

    [TestMethod]
    public async Task NoClaimWithinTheGrace_DeletesTheObjects_AndALaterClaimGetsNothing()
    {
        Start(TimeSpan.FromMilliseconds(50));
        var lamp = new StreetLamp { Name = "a" };
        await rig.CreateAsync(lamp, DoId.Empty, 7, DeadAi);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));
        var next = rig.Listen(NextAi);

        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));

        var deleted = await location.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ObjectDeleted, deleted.Type);
        Assert.AreEqual(lamp.DoId, deleted.Subject);
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
        rig.Send(InternalMessages.ClaimAiObjects(3, Game, NextAi));
        await rig.BarrierAsync();
        Assert.AreEqual(InternalMessageType.QueryDone, next.Received.Single().Type);
    }

    [TestMethod]
    public async Task NoGrace_OrNoApplicationName_DeletesTheObjectsAtOnce()
    {
        Start(TimeSpan.Zero);
        var lamp = new StreetLamp { Name = "a" };
        await rig.CreateAsync(lamp, DoId.Empty, 7, DeadAi);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 7));

        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));
        await rig.BarrierAsync();

        Assert.AreEqual(InternalMessageType.ObjectDeleted, location.Received.Single().Type);
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
        await rig.DisposeAsync();

        Start(TimeSpan.FromMinutes(10));
        await rig.CreateAsync(new StreetLamp { Name = "b" }, DoId.Empty, 7, DeadAi);
        rig.Send(InternalMessages.ParkAiObjects(DeadAi, string.Empty));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ObjectCount, "an AI with no application name cannot be claimed back");
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
    }

    [TestMethod]
    public async Task AnAiWithNoObjects_IsNotParked()
    {
        Start(TimeSpan.FromMinutes(10));

        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));
        await rig.BarrierAsync();

        Assert.AreEqual(0, rig.Server.ParkedAiCount);
    }

    [TestMethod]
    public async Task ARestrictedParticipant_MayNotParkNorClaimAsAnother()
    {
        Start(TimeSpan.FromMinutes(10));
        var intruder = Channel.ForParticipant(new DoId(0, 0x666));
        await rig.CreateAsync(new StreetLamp { Name = "a" }, DoId.Empty, 7, DeadAi);
        rig.Restrict(intruder);
        var heard = rig.Listen(intruder);

        var park = InternalMessages.ParkAiObjects(DeadAi, Game);
        rig.Send(new Envelope(park.Type, intruder, park.Subject, park.Payload));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ParkedAiCount);
        Assert.AreEqual(1, rig.Server.ObjectCount);
        rig.Send(InternalMessages.ParkAiObjects(DeadAi, Game));
        var claim = InternalMessages.ClaimAiObjects(4, Game, NextAi);
        rig.Send(new Envelope(claim.Type, intruder, claim.Subject, claim.Payload));
        await rig.BarrierAsync();

        Assert.AreEqual(1, rig.Server.ParkedAiCount, "the forged claim took nothing");
        Assert.IsTrue(heard.Received.All(e => e.Type == InternalMessageType.Error));
        Assert.HasCount(2, heard.Received);
    }

    private void Start(TimeSpan grace) =>
        rig = new StateServerRig(TestContext, Registry, new StateServerOptions { AiRestartGrace = grace });

    private void SessionClosed(DoId account) =>
        rig.Router.Publish(new Envelope(InternalMessageType.SessionClosed, Channel.ForSession(new DoId(0, 0x5E5)), account, Array.Empty<byte>()), Channel.SessionEvents);
}
