using Pastry.Objects;

namespace Pastry.Tests.Core;

/// <summary>
/// The object table behind the AI's and the client's repositories: which class stream hears an object leave (deleted
/// or disabled), that its own changes reach its class, and that closing completes every class stream, even one asked
/// for later.
/// </summary>
[TestClass]
public sealed class ObjectTableTests
{
    private static Goblin NewGoblin() => new() { Species = "goblin", Level = 1, Gold = 0 };

    [TestMethod]
    public void Track_MakesTheObjectLive_AndItsChangesReachItsClass()
    {
        var table = new ObjectTable();
        var goblin = NewGoblin();
        var streams = table.Track(goblin, new Binding());
        var updated = new List<FieldChange>();
        using var subscription = streams.Updated.Subscribe(updated.Add);

        goblin.Gold = 5;

        Assert.AreEqual(ObjectState.Live, goblin.State);
        Assert.AreEqual(1, table.Count);
        Assert.IsTrue(table.TryGet(goblin.DoId, out var found));
        Assert.AreSame(goblin, found);
        Assert.AreSame(goblin, table.Snapshot().Single());
        Assert.AreEqual(5, updated.Single().NewValue);
        Assert.AreSame(streams, table.StreamsOf(goblin.Model), "one set of streams per class");
    }

    [TestMethod]
    [DataRow(ObjectState.Deleted)]
    [DataRow(ObjectState.Disabled)]
    public void Remove_TellsOnlyTheMatchingClassStream_AndEndsTheObjectsOwnStream(ObjectState state)
    {
        var table = new ObjectTable();
        var goblin = NewGoblin();
        var streams = table.Track(goblin, new Binding());
        var deleted = new List<DistributedObject>();
        var disabled = new List<DistributedObject>();
        bool changesEnded = false;
        using var a = streams.Deleted.Subscribe(deleted.Add);
        using var b = streams.Disabled.Subscribe(disabled.Add);
        using var c = goblin.Changes.Subscribe(_ => { }, () => changesEnded = true);

        Assert.IsTrue(table.Remove(goblin.DoId, state, out var removed));

        Assert.AreSame(goblin, removed);
        Assert.AreEqual(state, goblin.State);
        Assert.AreEqual(state == ObjectState.Deleted ? 1 : 0, deleted.Count);
        Assert.AreEqual(state == ObjectState.Disabled ? 1 : 0, disabled.Count);
        Assert.IsTrue(changesEnded, "the object's own change stream completes when it leaves");
        Assert.AreEqual(0, table.Count);
        Assert.IsFalse(table.TryGet(goblin.DoId, out _));
        Assert.IsFalse(table.Remove(goblin.DoId, state, out var again), "already gone");
        Assert.IsNull(again);
    }

    [TestMethod]
    public void Close_LeavesTheRemainingObjectsInTheGivenState_AndCompletesEveryClassStream_EvenOnesAskedForLater()
    {
        var table = new ObjectTable();
        var goblin = NewGoblin();
        var streams = table.Track(goblin, new Binding());
        var completed = new List<string>();
        using var s1 = streams.Created.Subscribe(_ => { }, () => completed.Add("Created"));
        using var s2 = streams.Updated.Subscribe(_ => { }, () => completed.Add("Updated"));
        using var s3 = streams.Moved.Subscribe(_ => { }, () => completed.Add("Moved"));
        using var s4 = streams.Disabled.Subscribe(_ => { }, () => completed.Add("Disabled"));
        using var s5 = streams.Deleted.Subscribe(_ => { }, () => completed.Add("Deleted"));
        using var s6 = streams.Calls.Subscribe(_ => { }, () => completed.Add("Calls"));

        table.Close(ObjectState.Disabled);

        Assert.AreEqual(ObjectState.Disabled, goblin.State);
        Assert.AreEqual(0, table.Count);
        CollectionAssert.AreEquivalent(new[] { "Created", "Updated", "Moved", "Disabled", "Deleted", "Calls" }, completed);

        bool lateCompleted = false;
        using var late = table.StreamsOf(ModelInfo.For<Gatekeeper>()).Deleted.Subscribe(_ => { }, () => lateCompleted = true);
        Assert.IsTrue(lateCompleted, "a class first asked for after the close is born completed");

        table.Close(ObjectState.Deleted);
        Assert.AreEqual(ObjectState.Disabled, goblin.State, "a second close does nothing");
    }

    [TestMethod]
    public void Close_WithoutAState_LeavesTheObjectsAsTheyAre()
    {
        var table = new ObjectTable();
        var goblin = NewGoblin();
        table.Track(goblin, new Binding());

        table.Close(remaining: null);

        Assert.AreEqual(ObjectState.Live, goblin.State);
        Assert.AreEqual(0, table.Count);
    }

    private sealed class Binding : IObjectBinding
    {
        public void CheckLocalSet(DistributedObject target, FieldDescriptor field)
        {
        }

        public void OnLocalSet(DistributedObject target, FieldDescriptor field)
        {
        }
    }
}
