using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;
using static Pastry.Tests.Otp.StateServerRig;

namespace Pastry.Tests.Otp;

/// <summary>
/// Served districts and the per-object handover at the State Server (StateServer.Handover.cs), in process with raw
/// messages: the refusals of a district list (who names the AI, too many ranges, a range that ends before it starts),
/// how a newer AI's range splits an older one's (seen by which AI adopts an object created in each zone), a hand-over
/// of no object, by a stranger or to the same AI, an activation of a live object that would make a cycle, and that a
/// deleted object forgets who released it.
/// </summary>
[TestClass]
public sealed class StateServerDistrictTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Waymark), typeof(OilLamp) });
    private static readonly Channel West = Channel.ForParticipant(new DoId(0, 0xB1));
    private static readonly Channel East = Channel.ForParticipant(new DoId(0, 0xB2));
    private static readonly Channel Third = Channel.ForParticipant(new DoId(0, 0xB3));

    private readonly RecordingLogger logger = new();
    private StateServerRig rig = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start() => rig = new StateServerRig(TestContext, Registry, logger: logger);

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public async Task ARestrictedLink_MayNotServeDistrictsForAnotherAi()
    {
        rig.Restrict(West);
        var west = rig.Listen(West);

        rig.Send(Named(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 1u, 2u) }), West));
        await rig.BarrierAsync();

        Assert.AreEqual($"ServeDistricts naming {East} as the AI: {West} is a participant link and may act only as itself", Text(west.Received.Single()));
        Assert.AreEqual(0, rig.Server.DistrictCount);
    }

    [TestMethod]
    public async Task MoreThan256Ranges_AreRefused_And256AreServed()
    {
        var west = rig.Listen(West);
        var many = Enumerable.Range(0, 257).Select(i => (DoId.Empty, (uint)i, (uint)i)).ToList();

        rig.Send(InternalMessages.ServeDistricts(West, many));
        await rig.BarrierAsync();
        Assert.AreEqual("serve districts: 257 ranges is more than 256; name fewer, wider ranges", Text(west.Received.Single()));
        Assert.AreEqual(0, rig.Server.DistrictCount);

        rig.Send(InternalMessages.ServeDistricts(West, many.Take(StateServer.MaxDistrictsPerAi).ToList()));
        await rig.BarrierAsync();
        Assert.AreEqual(256, rig.Server.DistrictCount);
        Assert.HasCount(1, west.Received, "no second refusal");
    }

    [TestMethod]
    public async Task ARangeThatEndsBeforeItStarts_IsRefused_AndTheDistrictsServedBeforeAreKept()
    {
        var west = rig.Listen(West);
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 1u, 10u) }));
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 20u, 30u), (DoId.Empty, 5u, 3u) }));
        await rig.BarrierAsync();

        Assert.AreEqual($"serve districts: zone range 5-3 under {DoId.Empty} ends before it starts", Text(west.Received.Single()));
        Assert.AreEqual(1, rig.Server.DistrictCount, "the earlier list stays whole");
        Assert.AreEqual(West, await AdopterAsync(zone: 10));
        Assert.IsNull(await AdopterAsync(zone: 20), "nothing of the refused list is served");

        // A range of one zone (first == last) is fine.
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 7u, 7u) }));
        await rig.BarrierAsync();
        Assert.AreEqual(1, west.Received.Count(e => e.Type == InternalMessageType.Error), "no second refusal");
        Assert.AreEqual(1, rig.Server.DistrictCount);
        Assert.AreEqual(West, await AdopterAsync(zone: 7));
        Assert.IsNull(await AdopterAsync(zone: 8), "the new list replaced the old");
    }

    [TestMethod]
    public async Task ANewerRangeInsideAnOlderOne_SplitsIt_TheOverlapIsTheNewerAis_AndItIsLogged()
    {
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 1u, 10u) }));
        rig.Send(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 4u, 6u) }));
        await rig.BarrierAsync();

        Assert.AreEqual(3, rig.Server.DistrictCount, "West 1-3 and 7-10, East 4-6");
        CollectionAssert.Contains(logger.At(LogLevel.Warning), $"AI {East} now serves zones 4-6 under {DoId.Empty}, which AI {West} served (1-10); the overlap is {East}'s from now on");
        Assert.AreEqual(West, await AdopterAsync(zone: 1));
        Assert.AreEqual(West, await AdopterAsync(zone: 3));
        Assert.AreEqual(East, await AdopterAsync(zone: 4));
        Assert.AreEqual(East, await AdopterAsync(zone: 6));
        Assert.AreEqual(West, await AdopterAsync(zone: 7));
        Assert.AreEqual(West, await AdopterAsync(zone: 10));
        Assert.IsNull(await AdopterAsync(zone: 11));
    }

    [TestMethod]
    public async Task RangesThatShareOneEdgeZone_ThatZoneGoesToTheNewer_AndRangesThatOnlyTouch_AreBothKeptWhole()
    {
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 5u, 9u) }));
        rig.Send(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 0u, 5u) }));
        await rig.BarrierAsync();
        Assert.AreEqual(2, rig.Server.DistrictCount, "West 6-9, East 0-5");
        Assert.AreEqual(East, await AdopterAsync(zone: 5));
        Assert.AreEqual(West, await AdopterAsync(zone: 6));
        Assert.AreEqual(West, await AdopterAsync(zone: 9));

        int warnings = logger.At(LogLevel.Warning).Count;
        rig.Send(InternalMessages.ServeDistricts(Third, new[] { (DoId.Empty, 10u, 11u) }));
        await rig.BarrierAsync();
        Assert.AreEqual(3, rig.Server.DistrictCount, "10-11 only touches West's 6-9");
        Assert.HasCount(warnings, logger.At(LogLevel.Warning), "no overlap logged");
        Assert.AreEqual(West, await AdopterAsync(zone: 9, creator: Third));
        Assert.AreEqual(Third, await AdopterAsync(zone: 10, creator: West));
    }

    [TestMethod]
    public async Task ANewerRangeThatSharesAnEndOfAnOlderOne_TakesThatEnd_AndLeavesNoEmptyPiece()
    {
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 1u, 10u) }));
        rig.Send(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 1u, 3u) }));
        await rig.BarrierAsync();
        Assert.AreEqual(2, rig.Server.DistrictCount, "West 4-10, East 1-3: no piece of West before 1");

        rig.Send(InternalMessages.ServeDistricts(Third, new[] { (DoId.Empty, 8u, 10u) }));
        await rig.BarrierAsync();
        Assert.AreEqual(3, rig.Server.DistrictCount, "West 4-7, East 1-3, Third 8-10: no piece of West after 10");
        Assert.AreEqual(East, await AdopterAsync(zone: 1, creator: West));
        Assert.AreEqual(East, await AdopterAsync(zone: 3, creator: West));
        Assert.AreEqual(West, await AdopterAsync(zone: 4, creator: East));
        Assert.AreEqual(West, await AdopterAsync(zone: 7, creator: East));
        Assert.AreEqual(Third, await AdopterAsync(zone: 8, creator: West));
        Assert.AreEqual(Third, await AdopterAsync(zone: 10, creator: West));
    }

    [TestMethod]
    public async Task ANewerRangeThatStartsOnAnOlderOnesLastZone_TakesThatZone()
    {
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 1u, 5u) }));
        rig.Send(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 5u, 9u) }));
        await rig.BarrierAsync();

        Assert.AreEqual(2, rig.Server.DistrictCount);
        Assert.AreEqual(West, await AdopterAsync(zone: 4, creator: Third));
        Assert.AreEqual(East, await AdopterAsync(zone: 5, creator: Third));
    }

    [TestMethod]
    public async Task DistrictsServedUnderAnotherParent_ReplaceTheOldOnes()
    {
        var north = new DoId(0, 0xD1);
        var south = new DoId(0, 0xD2);
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (north, 1u, 2u) }));
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (south, 1u, 2u) }));
        await rig.BarrierAsync();

        Assert.AreEqual(1, rig.Server.DistrictCount);
        CollectionAssert.Contains(logger.At(LogLevel.Information), $"AI {West} serves 1 district(s): {south}:1-2");
    }

    [TestMethod]
    public async Task HandOverObject_OfNoObject_IsRefused_ByAStranger_IsRefused_AndToItsOwnAi_DoesNothing()
    {
        rig.Send(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 50u, 60u) }));
        var post = new Waymark { Text = "mine" };
        await rig.CreateAsync(post, DoId.Empty, 1, West);
        rig.Restrict(Third);
        var west = rig.Listen(West);
        var east = rig.Listen(East);
        var third = rig.Listen(Third);
        var missing = new DoId(0, 0xF0F);

        rig.Send(InternalMessages.HandOverObject(missing, East, West));
        rig.Send(InternalMessages.HandOverObject(post.DoId, East, Third));
        rig.Send(InternalMessages.HandOverObject(post.DoId, West, West));
        await rig.BarrierAsync();

        Assert.AreEqual($"hand over: no object {missing}", Text(west.Received.Single()));
        StringAssert.StartsWith(Text(third.Received.Single()), $"HandOverObject on Waymark {post.DoId}: {Third} is a participant link that neither created nor was given this object");
        Assert.IsEmpty(east.Received, "nothing was handed over");

        // The object is still West's: handing it over now works.
        rig.Send(InternalMessages.HandOverObject(post.DoId, East, West));
        await rig.BarrierAsync();
        Assert.AreEqual(InternalMessageType.AdoptedAiObject, east.Received.Single().Type);
        Assert.AreEqual(InternalMessageType.ReleasedAiObject, west.Received.Last().Type);
    }

    [TestMethod]
    public async Task ADeletedObject_ForgetsWhoReleasedIt_SoThatAnObjectMadeAgainWithItsIdTakesThatAisSets()
    {
        rig.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 1u, 9u) }));
        rig.Send(InternalMessages.ServeDistricts(East, new[] { (DoId.Empty, 10u, 19u) }));
        var post = new Waymark { Text = "walker" };
        await rig.CreateAsync(post, DoId.Empty, 1, West);
        rig.Send(InternalMessages.HandOverObject(post.DoId, East, West));
        rig.Send(InternalMessages.DeleteObject(post.DoId, East));
        await rig.BarrierAsync();
        Assert.AreEqual(0, rig.Server.ObjectCount);

        var again = new Waymark { DoId = post.DoId, Text = "again" };
        await rig.CreateAsync(again, DoId.Empty, 50, Third);
        var west = rig.Listen(West);
        var location = rig.Listen(Channel.ForLocation(DoId.Empty, 50));
        again.A = 4;
        rig.Send(InternalMessages.SetField(again, again.Model.GetField(nameof(Waymark.A)), West));
        await rig.BarrierAsync();

        Assert.IsEmpty(west.Received, "not refused as a set that crossed a handover: that object is gone");
        Assert.AreEqual(InternalMessageType.RelayBroadcast, location.Received.Single().Type);
    }

    [TestMethod]
    public async Task ActivatingALiveObjectUnderItsOwnChild_IsRefusedAsACycle_AndAnsweredAlreadyActive()
    {
        await using var withDatabase = new StateServerRig(TestContext, Registry, logger: logger, databaseEnabled: true);
        var lamp = new OilLamp { Name = "wanderer" };
        await withDatabase.CreateAsync(lamp, DoId.Empty, 1, West);
        var house = new Waymark { Text = "house" };
        await withDatabase.CreateAsync(house, lamp.DoId, 2, West);
        withDatabase.Send(InternalMessages.ServeDistricts(West, new[] { (DoId.Empty, 1u, 1u) }));
        withDatabase.Send(InternalMessages.ServeDistricts(East, new[] { (house.DoId, 0u, 9u) }));
        var east = withDatabase.Listen(East);
        var model = Registry.GetModel<OilLamp>();

        withDatabase.Send(DatabaseMessages.ActivateObject(21, model, lamp.DoId, house.DoId, 3, DoId.Empty, East, (model.GetField(nameof(OilLamp.Name)), "wanderer")));
        await withDatabase.BarrierAsync();

        var received = east.Received;
        Assert.HasCount(2, received);
        Assert.AreEqual(InternalMessageType.Error, received[0].Type);
        Assert.AreEqual($"Moving {lamp.DoId} under {house.DoId} would make a cycle: {house.DoId} is inside {lamp.DoId}. (Parameter 'parent')", Text(received[0]));
        Assert.AreEqual(InternalMessageType.ActivateObjectResp, received[1].Type);
        var reply = DatabaseMessages.ReadReply(received[1]);
        Assert.AreEqual(21u, reply.Context);
        Assert.AreEqual(DatabaseStatus.AlreadyExists, reply.Status);
        Assert.AreEqual($"activate OilLamp {lamp.DoId}: it is already active", reply.Reason);
        Assert.AreEqual(2, withDatabase.Server.ObjectCount);
    }

    /// <summary>Creates a waymark at the root in <paramref name="zone"/> for <paramref name="creator"/> (Third by default) and returns the AI it was handed to at once, or null.</summary>
    private async Task<Channel?> AdopterAsync(uint zone, Channel? creator = null)
    {
        var adopted = new List<(Channel Ai, StateServerTests.Recorder Recorder)>();
        foreach (var ai in new[] { West, East, Third })
        {
            adopted.Add((ai, rig.Listen(ai)));
        }

        var post = new Waymark { Text = $"zone {zone}" };
        await rig.CreateAsync(post, DoId.Empty, zone, creator ?? Third);
        foreach (var (_, recorder) in adopted)
        {
            rig.Router.UnsubscribeAll(recorder);
        }

        var adopters = adopted.Where(a => a.Recorder.Received.Any(e => e.Type == InternalMessageType.AdoptedAiObject && e.Subject == post.DoId)).Select(a => a.Ai).ToList();
        Assert.IsLessThanOrEqualTo(1, adopters.Count);
        return adopters.Count == 0 ? null : adopters[0];
    }

    private static Envelope Named(Envelope envelope, Channel sender) => new(envelope.Type, sender, envelope.Subject, envelope.Payload);
}
