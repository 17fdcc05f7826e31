using System.ComponentModel.DataAnnotations;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

/// <summary>A model for the hand-over tests: a broadcast name, a field clients set, and a call clients make.</summary>
public sealed class Brazier : DistributedObject<Brazier>
{
    [Required, Ram, Broadcast]
    public string Name { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast, ClSend]
    public int Brightness { get => Get<int>(); set => Set(value); }

    [Distributed, ClSend]
    public void Light(int seconds)
    {
    }
}

/// <summary>
/// A rolling AI upgrade (issue 19 item 5) at the State Server, with real AI repositories on the in-process router: a
/// new AI takes over the running one's objects, client requests during the hand-over are held and delivered, and the
/// edge cases (the old AI dies mid-way, two new AIs race, a wrong name or key, a full backlog) end as documented. A link
/// drop is what the Message Director does then: it publishes the AI's post-remove, <c>ParkAiObjects</c>.
/// </summary>
[TestClass]
public sealed class AiTakeOverTests
{
    public TestContext TestContext { get; set; } = null!;

    private const string Game = "Game.BrazierAi";
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Brazier) });
    private static readonly DoId Account = new(0, 0xACC);
    private static readonly Channel Session = Channel.ForSession(new DoId(0, 0x5E5));

    private readonly InProcessRouter router = new();
    private readonly List<IAsyncDisposable> owned = new();
    private StateServer server = null!;
    private StateServerTests.Recorder session = null!;

    [TestInitialize]
    public void Start()
    {
        server = new StateServer(router, Registry, NullLogger.Instance, options: new StateServerOptions { MaxHandOverHeldRequests = 3 });
        server.Start();
        session = new StateServerTests.Recorder("session");
        router.Subscribe(session, Session);
    }

    [TestCleanup]
    public async Task StopAsync()
    {
        foreach (var item in owned)
        {
            await item.DisposeAsync();
        }

        await server.DisposeAsync();
    }

    [TestMethod]
    public async Task TakeOver_GivesTheNewAiEveryObject_WithFieldsOwnersAndLocations_TheOldOneStops_AndNoViewerSeesLeaveOrEnter()
    {
        var old = await StartAiAsync();
        var street = old.Create(new Brazier { Name = "street", Brightness = 3 }, DoId.Empty, 1);
        var door = old.Create(new Brazier { Name = "door", Brightness = 7 }, street.DoId, 4, owner: Account);
        int oldTicks = 0;
        using var timer = old.Every(TimeSpan.FromMilliseconds(5), () => oldTicks++);
        await BarrierAsync(old);
        var viewer = new StateServerTests.Recorder("session");
        router.Subscribe(viewer, Channel.ForLocation(street.DoId, 4));

        var fresh = NewAi();
        var taken = await fresh.TakeOverAsync().WaitAsync(Timeout);
        await old.TakenOver.WaitAsync(Timeout);
        int ticksAtHandOver = oldTicks;

        Assert.HasCount(2, taken);
        var takenDoor = (Brazier)taken.Single(o => o.DoId == door.DoId);
        Assert.AreEqual("door", takenDoor.Name);
        Assert.AreEqual(7, takenDoor.Brightness);
        Assert.AreEqual(Account, takenDoor.Owner, "The owner is kept.");
        Assert.AreEqual((street.DoId, 4u), (takenDoor.Parent, takenDoor.Zone), "The location is kept.");
        Assert.AreEqual(ObjectState.Disabled, door.State, "The old AI's copies are disabled: it serves nothing more.");
        Assert.AreEqual(0, old.ObjectCount);

        // The new AI changes the objects (the State Server lets it: they are its own now) and the viewer sees only that.
        fresh.ResumeRequests();
        await fresh.InvokeAsync(() => takenDoor.Brightness = 9);
        var set = await viewer.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.RelayBroadcast, set.Type);
        Assert.IsFalse(viewer.Received.Any(e => e.Type is InternalMessageType.EnterLocation or InternalMessageType.ObjectDeleted or InternalMessageType.ChangingLocation), "No viewer saw an object leave or enter.");
        Assert.AreEqual(0, server.HandOverCount);

        // Timers restart in the new AI (its game starts them); the old AI's stopped with the hand-over.
        var freshTicks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int ticks = 0;
        using var freshTimer = fresh.Every(TimeSpan.FromMilliseconds(5), () =>
        {
            if (++ticks == 5)
            {
                freshTicks.TrySetResult();
            }
        });
        await freshTicks.Task.WaitAsync(Timeout);
        await old.InvokeAsync(() => { }).WaitAsync(Timeout);
        Assert.AreEqual(ticksAtHandOver, oldTicks, "The old AI's timer stopped: it did not tick while the new AI's ticked five times.");
    }

    [TestMethod]
    public async Task ARequestSentDuringTheHandOver_IsHeld_AndTheNewAiHearsIt_AfterItsGameStarted()
    {
        var old = await StartAiAsync();
        var brazier = old.Create(new Brazier { Name = "hall", Brightness = 1 }, DoId.Empty, 1);
        await BarrierAsync(old);
        var fresh = NewAi();
        await fresh.TakeOverAsync().WaitAsync(Timeout);

        // The objects are the new AI's, but its game has not subscribed yet: what clients send waits.
        var heard = fresh.Of<Brazier>().Updated.Where(c => c.Origin == ChangeOrigin.Remote).FirstAsync().ToTask();
        var called = fresh.Of<Brazier>().Calls.FirstAsync().ToTask();
        SendClientSet(brazier.DoId, 5);
        SendClientCall(brazier.DoId, 30);
        await BarrierAsync(fresh);
        Assert.IsFalse(heard.IsCompleted || called.IsCompleted, "Held until the new AI's game started.");

        fresh.ResumeRequests();
        var change = await heard.WaitAsync(Timeout);
        Assert.AreEqual(1, change.OldValue, "The new AI hears the set as a change from the value it took over.");
        Assert.AreEqual(5, change.NewValue);
        Assert.AreEqual(30, (await called.WaitAsync(Timeout)).Arguments[0], "The call is delivered, not lost.");
        Assert.AreEqual(Account, (await called).Sender);
    }

    [TestMethod]
    public async Task RequestsPastTheBound_AreRefusedToTheirClient380_TheOthersDelivered()
    {
        var old = await StartAiAsync();
        var brazier = old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);
        var fresh = NewAi();
        await fresh.TakeOverAsync().WaitAsync(Timeout);
        var calls = new List<int>();
        using var subscription = fresh.Of<Brazier>().Calls.Subscribe(c => calls.Add((int)c.Arguments[0]!));

        for (int i = 1; i <= 5; i++)
        {
            SendClientCall(brazier.DoId, i);
        }

        var refused = await session.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ClientRequestRefused, refused.Type);
        Assert.AreEqual(brazier.DoId, refused.Subject);
        var reader = new WireReader(refused.Payload.Span);
        Assert.AreEqual((ushort)EjectCode.HandOverBacklogFull, reader.ReadUInt16());
        StringAssert.Contains(reader.ReadString(), "StateServer:MaxHandOverHeldRequests");
        Assert.AreEqual(InternalMessageType.ClientRequestRefused, (await session.NextAsync(TestContext)).Type, "Both requests past the bound of 3 are refused.");

        fresh.ResumeRequests();
        await BarrierAsync(fresh);
        await fresh.InvokeAsync(() => { });
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, calls, "The held ones arrive in order; none is lost silently.");
    }

    [TestMethod]
    public async Task TheOldAiDiesMidHandOver_TheNewAiGetsItsObjectsAtOnce()
    {
        // A stand-in old AI that never answers HandOverAi (hung), then its link drops.
        var deadAi = Channel.ForParticipant(DoId.NewId());
        var hung = new StateServerTests.Recorder("session");
        router.Subscribe(hung, deadAi);
        var brazier = new Brazier { DoId = DoId.NewId(), Name = "cellar", Brightness = 2 };
        router.Publish(InternalMessages.CreateObject(brazier, DoId.Empty, 1, Account, deadAi), Channel.StateServer);
        router.Publish(InternalMessages.ClaimAiObjects(1, Game, deadAi), Channel.StateServer);
        Assert.AreEqual(InternalMessageType.QueryDone, (await hung.NextAsync(TestContext)).Type);

        var fresh = NewAi();
        var taking = fresh.TakeOverAsync();
        Assert.AreEqual(InternalMessageType.HandOverAi, (await hung.NextAsync(TestContext)).Type);
        Assert.IsFalse(taking.IsCompleted, "The new AI waits for the old one to stop.");

        router.Publish(InternalMessages.ParkAiObjects(deadAi, Game), Channel.StateServer);
        var taken = await taking.WaitAsync(Timeout);

        Assert.AreEqual(brazier.DoId, taken.Single().DoId, "The dead AI's object went to the new AI, not to the parking.");
        Assert.AreEqual(2, ((Brazier)taken[0]).Brightness);
        fresh.ResumeRequests();
        await BarrierAsync(fresh);
        Assert.AreEqual(0, server.ParkedAiCount);
        Assert.AreEqual(0, server.HandOverCount);
    }

    [TestMethod]
    public async Task TwoNewAisRace_TheFirstTakesOver_TheSecondIsRefused383()
    {
        var old = await StartAiAsync();
        old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);

        var first = NewAi();
        var second = NewAi();
        var firstTaking = first.TakeOverAsync();
        var secondTaking = second.TakeOverAsync();

        var refusal = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => secondTaking.WaitAsync(Timeout));
        Assert.AreEqual(EjectCode.HandOverUnderWay, refusal.Code);
        StringAssert.Contains(refusal.Reason, "under way");
        Assert.HasCount(1, await firstTaking.WaitAsync(Timeout));
        Assert.AreEqual(0, second.ObjectCount);
    }

    [TestMethod]
    public async Task AWrongApplicationName_IsRefused382_NamingTheName()
    {
        var old = await StartAiAsync();
        old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);

        var stranger = NewAi("Game.Typo");
        var refusal = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => stranger.TakeOverAsync().WaitAsync(Timeout));

        Assert.AreEqual(EjectCode.NothingToTakeOver, refusal.Code);
        StringAssert.Contains(refusal.Reason, "'Game.Typo'");
        Assert.AreEqual(1, old.ObjectCount, "The running AI keeps its objects.");
    }

    [TestMethod]
    public async Task AnotherApplicationKey_IsRefused384_ForATakeOverAndForAClaimOfParkedObjects()
    {
        var old = await StartAiAsync(key: "the tavern's own");
        old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);

        var thief = NewAi(key: "guessed");
        var refusal = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => thief.TakeOverAsync().WaitAsync(Timeout));
        Assert.AreEqual(EjectCode.ApplicationKeyMismatch, refusal.Code);
        Assert.AreEqual($"the objects of application '{Game}' belong to AIs with another Ai:ApplicationKey; give this AI the key the application's first AI gave", refusal.Reason, "the refusal says what to fix, and never the key");

        // The old AI dies: its objects are parked under the name, and still only the key takes them back.
        router.Publish(InternalMessages.ParkAiObjects(old.Channel, Game), Channel.StateServer);
        await BarrierAsync(thief);
        Assert.AreEqual(1, server.ParkedAiCount);
        var claim = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => thief.TakeBackAsync().WaitAsync(Timeout));
        Assert.AreEqual(EjectCode.ApplicationKeyMismatch, claim.Code);
        Assert.AreEqual(1, server.ParkedAiCount, "Nothing was given to the thief.");

        var heir = NewAi(key: "the tavern's own");
        Assert.HasCount(1, await heir.TakeBackAsync().WaitAsync(Timeout));
    }

    [TestMethod]
    public async Task WhereLinksUseASecret_AParticipantWithoutAKey_IsRefused396_APrivilegedOneAndAKeyedOneAreNot()
    {
        // The OTP sets this when its Message Director has a secret (OtpServer).
        await server.DisposeAsync();
        server = new StateServer(router, Registry, NullLogger.Instance, options: new StateServerOptions { MaxHandOverHeldRequests = 3 }) { RequireApplicationKey = true };
        server.Start();

        var thief = NewAi();
        Restrict(thief.Channel);
        var refused = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => thief.TakeBackAsync().WaitAsync(Timeout));
        Assert.AreEqual(EjectCode.ApplicationKeyRequired, refused.Code);
        StringAssert.Contains(refused.Reason, "set Ai:ApplicationKey");
        var takeOver = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => thief.TakeOverAsync().WaitAsync(Timeout));
        Assert.AreEqual(EjectCode.ApplicationKeyRequired, takeOver.Code);

        // A privileged link (or an AI in the OTP's process) may change any object anyway: no key needed.
        var privileged = NewAi(application: "Other.Game");
        Assert.IsEmpty(await privileged.TakeBackAsync().WaitAsync(Timeout));

        var keyed = NewAi(key: "the tavern's own");
        Restrict(keyed.Channel);
        Assert.IsEmpty(await keyed.TakeBackAsync().WaitAsync(Timeout));
    }

    [TestMethod]
    public async Task WhereLinksUseASecret_AParticipantWithoutAKey_IsGivenNoneOfTheParkedObjects()
    {
        await server.DisposeAsync();
        server = new StateServer(router, Registry, NullLogger.Instance) { RequireApplicationKey = true };
        server.Start();
        var old = await StartAiAsync(key: "the tavern's own");
        old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);
        router.Publish(InternalMessages.ParkAiObjects(old.Channel, Game), Channel.StateServer);
        var thief = NewAi();
        Restrict(thief.Channel);
        await BarrierAsync(thief);
        Assert.AreEqual(1, server.ParkedAiCount);

        var refused = await Assert.ThrowsExactlyAsync<AiTakeOverRefusedException>(() => thief.TakeBackAsync().WaitAsync(Timeout));
        await BarrierAsync(thief);

        Assert.AreEqual(EjectCode.ApplicationKeyRequired, refused.Code);
        Assert.AreEqual(1, server.ParkedAiCount, "the refusal ends the claim: the parked objects wait for an AI with the key");
        Assert.AreEqual(0, thief.ObjectCount);
    }

    /// <summary>What the Message Director tells the State Server about a participant link that is not privileged.</summary>
    private void Restrict(Channel participant)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>(Channel.EncodedSize);
        participant.Write(writer);
        router.Publish(new Envelope(InternalMessageType.LinkParticipantRestricted, default, DoId.Empty, writer.WrittenMemory), Channel.StateServer);
    }

    [TestMethod]
    public async Task TheNewAiGoesAwayBeforeTheSwitch_TheOldOneCarriesOn_WithItsTimers_AndGetsTheHeldRequests()
    {
        // A stand-in new AI that asks for the take-over and then its link drops before the old one answered.
        var old = await StartAiAsync();
        var brazier = old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);
        var called = old.Of<Brazier>().Calls.FirstAsync().ToTask();
        var ticked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var timer = old.Every(TimeSpan.FromMilliseconds(5), () => ticked.TrySetResult());

        // The old AI's logic loop is kept busy by this test, so it cannot answer before the new AI goes away.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.Post(() => gate.Task.Wait(Timeout));
        var newAi = Channel.ForParticipant(DoId.NewId());
        var quitter = new StateServerTests.Recorder("session");
        router.Subscribe(quitter, newAi);
        router.Publish(InternalMessages.TakeOverAi(7, Game, string.Empty, newAi), Channel.StateServer);
        SendClientCall(brazier.DoId, 12);
        router.Publish(InternalMessages.ParkAiObjects(newAi, Game), Channel.StateServer);
        await ServerBarrierAsync();
        ticked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();

        Assert.AreEqual(12, (await called.WaitAsync(Timeout)).Arguments[0], "The held call goes to the old AI, which kept its objects.");
        await ticked.Task.WaitAsync(Timeout);
        Assert.AreEqual(1, old.ObjectCount);
        Assert.IsFalse(old.TakenOver.IsCompleted);
        Assert.IsEmpty(quitter.Received.Where(e => e.Type == InternalMessageType.ClaimedAiObject).ToList(), "Nothing was given to the AI that went away.");
    }

    [TestMethod]
    public async Task ACallOnAParkedObject_IsRefusedToItsClient381_NotLost()
    {
        var old = await StartAiAsync();
        var brazier = old.Create(new Brazier { Name = "hall" }, DoId.Empty, 1);
        await BarrierAsync(old);
        router.Publish(InternalMessages.ParkAiObjects(old.Channel, Game), Channel.StateServer);

        SendClientCall(brazier.DoId, 1);

        var refused = await session.NextAsync(TestContext);
        Assert.AreEqual(InternalMessageType.ClientRequestRefused, refused.Type);
        Assert.AreEqual((ushort)EjectCode.NoAiServesObject, new WireReader(refused.Payload.Span).ReadUInt16());
    }

    private async Task<AiRepository> StartAiAsync(string key = "")
    {
        var ai = NewAi(key: key);

        // Its first claim counts it as the running AI of the application (the hosted AI claims when it connects).
        Assert.IsEmpty(await ai.TakeBackAsync().WaitAsync(Timeout));
        return ai;
    }

    private AiRepository NewAi(string application = Game, string key = "")
    {
        var ai = new AiRepository(router, Registry, new AiOptions { Application = application, ApplicationKey = key });
        owned.Add(ai);
        return ai;
    }

    /// <summary>What the Client Agent sends for a client's checked set of <see cref="Brazier.Brightness"/>.</summary>
    private void SendClientSet(DoId brazier, int brightness)
    {
        var field = (FieldDescriptor<int>)Registry.GetModel<Brazier>().GetField(nameof(Brazier.Brightness));
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(Account);
        writer.WriteUInt16(1);
        writer.WriteUInt16(field.WireId);
        writer.WriteInt32(brightness);
        router.Publish(new Envelope(InternalMessageType.ClientSetField, Session, brazier, writer.WrittenSpan.ToArray()), Channel.StateServer);
    }

    /// <summary>What the Client Agent sends for a client's checked call of <see cref="Brazier.Light"/>.</summary>
    private void SendClientCall(DoId brazier, int seconds)
    {
        var method = Registry.GetModel<Brazier>().Methods.Single(m => m.Name == nameof(Brazier.Light));
        using var writer = new PooledBufferWriter(64);
        writer.WriteDoId(Account);
        writer.WriteUInt16(method.WireId);
        method.EncodeArguments(writer, new object?[] { seconds });
        router.Publish(new Envelope(InternalMessageType.ClientCallMethod, Session, brazier, writer.WrittenSpan.ToArray()), Channel.StateServer);
    }

    /// <summary>Waits until the State Server has handled everything sent before, and the AI's logic loop has run what that queued.</summary>
    private async Task BarrierAsync(AiRepository ai)
    {
        await ServerBarrierAsync();
        await ai.InvokeAsync(() => { }).WaitAsync(Timeout);
    }

    /// <summary>Waits until the State Server has handled everything sent before.</summary>
    private async Task ServerBarrierAsync()
    {
        var probe = new StateServerTests.Recorder("session");
        var channel = Channel.ForParticipant(DoId.NewId());
        router.Subscribe(probe, channel);
        router.Publish(new Envelope(InternalMessageType.QueryZones, channel, DoId.Empty, BarrierQuery()), Channel.StateServer);
        await probe.NextAsync(TestContext);
        router.UnsubscribeAll(probe);
    }

    private static byte[] BarrierQuery()
    {
        using var writer = new PooledBufferWriter(32);
        writer.WriteUInt32(1);
        writer.WriteDoId(new DoId(0, 0xBA));
        writer.WriteVarUInt32(0);
        return writer.WrittenSpan.ToArray();
    }
}
