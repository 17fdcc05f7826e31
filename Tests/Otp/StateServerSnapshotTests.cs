using System.ComponentModel.DataAnnotations;
using Pastry.Messaging;
using Pastry.Otp.StateServer;

namespace Pastry.Tests.Otp;

/// <summary>A model for the snapshot tests: a label (its first string field), a count, and a world position.</summary>
public sealed class Signpost : DistributedObject<Signpost>
{
    [Ram, Broadcast]
    public int Count { get => Get<int>(); set => Set(value); }

    [Required, Ram, Broadcast]
    public string Label { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast]
    public string Note { get => Get<string>(); set => Set(value); }

    [Ram, Broadcast]
    public float[] Where { get => Get<float[]>(); set => Set(value); }
}

/// <summary>
/// The admin dashboard's picture of the State Server (<see cref="StateServer.SnapshotAsync"/>), in process: counts,
/// the fullest locations first and capped, objects per AI, the map with its positions and rooms, and the parents'
/// chains; each cap (<see cref="StateQuery.MaxZones"/>, <see cref="StateQuery.MaxMapObjects"/>) is what bounds the page.
/// </summary>
[TestClass]
public sealed class StateServerSnapshotTests
{
    private static readonly ModelRegistry Registry = ModelRegistry.FromTypes(new[] { typeof(Signpost) });
    private static readonly Channel AiOne = Channel.ForParticipant(new DoId(0, 0xA1));
    private static readonly Channel AiTwo = Channel.ForParticipant(new DoId(0, 0xA2));

    private StateServerRig rig = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Start() => rig = new StateServerRig(TestContext, Registry);

    [TestCleanup]
    public async Task StopAsync() => await rig.DisposeAsync();

    [TestMethod]
    public async Task AnEmptyServer_HasAnEmptySnapshot()
    {
        var snapshot = await rig.Server.SnapshotAsync(new StateQuery(DoId.Empty, null)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.AreEqual(0, snapshot.Objects);
        Assert.AreEqual(0, snapshot.Zones);
        Assert.IsEmpty(snapshot.Locations);
        Assert.IsEmpty(snapshot.Parents);
        Assert.IsEmpty(snapshot.Ais);
        Assert.IsEmpty(snapshot.Map);
        Assert.IsEmpty(snapshot.Rooms);
    }

    [TestMethod]
    public async Task Counts_LocationsFullestFirst_CappedAtMaxZones_AndObjectsPerAi_MostFirst()
    {
        var world = await CreateAsync("world", DoId.Empty, 0, AiOne);
        for (int i = 0; i < 3; i++)
        {
            await CreateAsync($"a{i}", world, 1, AiTwo);
        }

        await CreateAsync("b0", world, 2, AiOne);
        await CreateAsync("b1", world, 2, AiTwo);

        var snapshot = await SnapshotAsync(new StateQuery(DoId.Empty, null, MaxZones: 2));

        Assert.AreEqual(6, snapshot.Objects);
        Assert.AreEqual(3, snapshot.Zones, "(root, 0), (world, 1), (world, 2)");
        Assert.HasCount(2, snapshot.Locations, "capped at MaxZones");
        Assert.AreEqual(new SnapshotZone(world, 1, 3), snapshot.Locations[0]);
        Assert.AreEqual(new SnapshotZone(world, 2, 2), snapshot.Locations[1]);
        CollectionAssert.AreEqual(new[] { new SnapshotAi(AiTwo.Id, 4), new SnapshotAi(AiOne.Id, 2) }, snapshot.Ais.ToArray());
        Assert.IsEmpty(snapshot.Map, "no map parent asked for");
        Assert.HasCount(1, snapshot.Parents, "the listed locations' parent, once: the world (the root has no label)");
        Assert.AreEqual(world, snapshot.Parents[0].Id);
        Assert.AreEqual("world", snapshot.Parents[0].Label);
    }

    [TestMethod]
    public async Task TheMap_ListsTheMapParentsObjects_CappedAtMaxMapObjects_WithLabelAndPosition()
    {
        var world = await CreateAsync("world", DoId.Empty, 0, AiOne);
        var placed = await CreateAsync("placed", world, 1, AiOne, where: new[] { 1.5f, 2.5f });
        await CreateAsync("flat", world, 1, AiOne, where: new[] { 9f });
        await CreateAsync("nowhere", world, 2, AiOne);
        await CreateAsync("elsewhere", DoId.Empty, 3, AiOne);

        var all = await SnapshotAsync(new StateQuery(world, nameof(Signpost.Where)));
        var capped = await SnapshotAsync(new StateQuery(world, nameof(Signpost.Where), MaxMapObjects: 2));
        var noPosition = await SnapshotAsync(new StateQuery(world, null));

        CollectionAssert.AreEquivalent(new[] { "placed", "flat", "nowhere" }, all.Map.Select(o => o.Label).ToArray(), "only the map parent's objects");
        var drawn = all.Map.Single(o => o.Id == placed);
        Assert.AreEqual(nameof(Signpost), drawn.Class);
        Assert.AreEqual(world, drawn.Parent);
        Assert.AreEqual(1u, drawn.Zone);
        Assert.AreEqual(AiOne.Id, drawn.Ai);
        CollectionAssert.AreEqual(new[] { 1.5f, 2.5f }, drawn.Position);
        Assert.IsNull(all.Map.Single(o => o.Label == "flat").Position, "a position needs x and y");
        Assert.IsNull(all.Map.Single(o => o.Label == "nowhere").Position);
        Assert.HasCount(2, capped.Map);
        Assert.IsTrue(noPosition.Map.All(o => o.Position is null), "no position field asked for");
    }

    [TestMethod]
    public async Task TheLabel_IsTheFirstStringFieldThatHasAValue()
    {
        var world = await CreateAsync("world", DoId.Empty, 0, AiOne);
        var sign = new Signpost { Label = "label", Note = "note" };
        await rig.CreateAsync(sign, world, 1, AiOne);

        var snapshot = await SnapshotAsync(new StateQuery(world, null));

        Assert.AreEqual("label", snapshot.Map.Single().Label);
    }

    [TestMethod]
    public async Task TheMapsObjectsThatHoldZones_ListWhatIsInside_AsRooms_CappedAtMaxMapObjects()
    {
        var world = await CreateAsync("world", DoId.Empty, 0, AiOne);
        var tavern = await CreateAsync("tavern", world, 1, AiOne);
        await CreateAsync("shed", world, 1, AiOne);
        for (int i = 0; i < 3; i++)
        {
            await CreateAsync($"guest{i}", tavern, (uint)(10 + i), AiTwo, owner: new DoId(0, 0xACC));
        }

        var snapshot = await SnapshotAsync(new StateQuery(world, null));
        var capped = await SnapshotAsync(new StateQuery(world, null, MaxMapObjects: 2));

        CollectionAssert.AreEquivalent(new[] { "guest0", "guest1", "guest2" }, snapshot.Rooms.Select(r => r.Label).ToArray());
        Assert.IsTrue(snapshot.Rooms.All(r => r.Parent == tavern && r.Owner == new DoId(0, 0xACC) && r.Ai == AiTwo.Id));
        CollectionAssert.AreEquivalent(new uint[] { 10, 11, 12 }, snapshot.Rooms.Select(r => r.Zone).ToArray());
        Assert.HasCount(2, capped.Rooms);
    }

    [TestMethod]
    public async Task TheParents_AreEachListedLocationsAncestors_UpToTheRoot_EachOnce()
    {
        var world = await CreateAsync("world", DoId.Empty, 0, AiOne);
        var town = await CreateAsync("town", world, 1, AiOne);
        var house = await CreateAsync("house", town, 2, AiOne);
        await CreateAsync("chair", house, 3, AiOne);
        await CreateAsync("table", house, 3, AiOne);
        await CreateAsync("well", town, 4, AiOne);

        var snapshot = await SnapshotAsync(new StateQuery(town, null));
        var onlyFullest = await SnapshotAsync(new StateQuery(DoId.Empty, null, MaxZones: 1));

        CollectionAssert.AreEquivalent(new[] { world, town, house }, snapshot.Parents.Select(p => p.Id).ToArray());
        Assert.AreEqual(new SnapshotZone(house, 3, 2), onlyFullest.Locations.Single());
        CollectionAssert.AreEqual(new[] { house, town, world }, onlyFullest.Parents.Select(p => p.Id).ToArray(), "the chain from the listed location up");
    }

    [TestMethod]
    public async Task ASnapshot_AskedOfAStoppedServer_FailsInsteadOfHanging()
    {
        await rig.Server.DisposeAsync();

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => rig.Server.SnapshotAsync(new StateQuery(DoId.Empty, null)).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private async Task<StateSnapshot> SnapshotAsync(StateQuery query) =>
        await rig.Server.SnapshotAsync(query, TestContext.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10));

    private async Task<DoId> CreateAsync(string label, DoId parent, uint zone, Channel ai, float[]? where = null, DoId owner = default)
    {
        var sign = new Signpost { Label = label };
        if (where is not null)
        {
            sign.Where = where;
        }

        await rig.CreateAsync(sign, parent, zone, ai, owner);
        return sign.DoId;
    }
}
