using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>Every applied set appears once on the object's Changes stream, in the order the sets were applied.</summary>
[TestClass]
public sealed class ChangeStreamTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(60));

    private static Goblin NewGoblin() => new() { Species = "goblin", Level = 1, Gold = 0 };

    [TestMethod]
    public void Changes_ArriveInTheOrderOfTheSets_WithFieldOldNewAndOrigin()
    {
        var goblin = NewGoblin();
        var changes = new List<FieldChange>();
        using var subscription = goblin.Changes.Subscribe(changes.Add);

        goblin.Gold = 10;
        goblin.Level = 2;
        goblin.Gold = 25;
        goblin.Species = "hobgoblin";

        Assert.HasCount(4, changes);
        CollectionAssert.AreEqual(new[] { "Gold", "Level", "Gold", "Species" }, changes.Select(c => c.Field.Name).ToArray());
        CollectionAssert.AreEqual(new object[] { 0, 1, 10, "goblin" }, changes.Select(c => c.OldValue).ToArray());
        CollectionAssert.AreEqual(new object[] { 10, 2, 25, "hobgoblin" }, changes.Select(c => c.NewValue).ToArray());
        Assert.IsTrue(changes.All(c => c.Origin == ChangeOrigin.Local && ReferenceEquals(c.Target, goblin)));
        Assert.AreSame(goblin.Model.GetField("Gold"), changes[0].Field);
        Assert.AreEqual("Goblin.Gold: 0 -> 10 (Local)", changes[0].ToString());
    }

    [TestMethod]
    public void Changes_FromTheWire_HaveOriginRemote()
    {
        var goblin = NewGoblin();
        var changes = new List<FieldChange>();
        using var subscription = goblin.Changes.Subscribe(changes.Add);
        using var writer = new PooledBufferWriter();
        writer.WriteInt32(77);
        var reader = new WireReader(writer.WrittenSpan);

        goblin.Model.GetField("Gold").DecodeAndApply(goblin, ref reader, ChangeOrigin.Remote, validate: true);

        Assert.AreEqual(ChangeOrigin.Remote, changes.Single().Origin);
        Assert.AreEqual(77, changes.Single().NewValue);
        Assert.AreEqual(77, goblin.Gold);
    }

    [TestMethod]
    public void Observe_GivesATypedStreamOfOneFieldsNewValues()
    {
        var goblin = NewGoblin();
        var gold = new List<int>();
        using var subscription = goblin.Observe(g => g.Gold).Subscribe(gold.Add);

        goblin.Gold = 5;
        goblin.Level = 9;
        goblin.Gold = 6;
        goblin.Gold = 6;

        CollectionAssert.AreEqual(new[] { 5, 6 }, gold);
    }

    [TestMethod]
    public void Observe_OfSomethingOtherThanAProperty_IsRejected()
    {
        var goblin = NewGoblin();

        Assert.ThrowsExactly<ArgumentException>(() => goblin.Observe(g => g.Gold + 1));
    }

    [TestMethod]
    public void Set_ToTheSameValue_PublishesNothing()
    {
        var goblin = NewGoblin();
        goblin.Position = new[] { 1f, 2f };
        var changes = new List<FieldChange>();
        using var subscription = goblin.Changes.Subscribe(changes.Add);

        goblin.Gold = 0;
        goblin.Species = "goblin";
        goblin.Position = new[] { 1f, 2f };

        Assert.IsEmpty(changes, "Equal values (arrays by content) are not changes.");
    }

    [TestMethod]
    public void Changes_AfterUnsubscribing_AreNotDelivered()
    {
        var goblin = NewGoblin();
        var changes = new List<FieldChange>();
        var subscription = goblin.Changes.Subscribe(changes.Add);
        goblin.Gold = 1;

        subscription.Dispose();
        goblin.Gold = 2;

        Assert.HasCount(1, changes);
    }

    [TestMethod]
    public void Changes_Complete_WhenTheObjectIsDisabled()
    {
        var goblin = NewGoblin();
        bool completed = false;
        using var subscription = goblin.Changes.Subscribe(_ => { }, () => completed = true);

        goblin.SetState(ObjectState.Disabled);

        Assert.IsTrue(completed);
        Assert.ThrowsExactly<ObjectDisabledException>(() => goblin.Gold = 3);
    }

    [TestMethod]
    public async Task ConcurrentSets_OfDifferentObjects_AllApply()
    {
        const int objects = 16;
        const int setsEach = 2_000;
        var goblins = Enumerable.Range(0, objects).Select(_ => NewGoblin()).ToArray();
        var counts = new int[objects];
        var subscriptions = goblins.Select((g, i) => g.Changes.Subscribe(_ => Interlocked.Increment(ref counts[i]))).ToList();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var workers = goblins.Select((goblin, i) => Task.Run(async () =>
        {
            await start.Task;
            for (int n = 1; n <= setsEach; n++)
            {
                goblin.Gold = n;
                goblin.Mood = -n;
            }
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(workers).WaitAsync(Timeout);

        subscriptions.ForEach(s => s.Dispose());
        Assert.IsTrue(goblins.All(g => g.Gold == setsEach && g.Mood == -setsEach));
        CollectionAssert.AreEqual(Enumerable.Repeat(2 * setsEach, objects).ToArray(), counts);
    }

    [TestMethod]
    public async Task ConcurrentSets_OfOneObject_AreAppliedOneAtATime_AndPublishedInOrder()
    {
        const int writers = 8;
        const int setsEach = 1_000;
        var goblin = NewGoblin();
        var events = new List<FieldChange>();
        using var subscription = goblin.Changes.Subscribe(events.Add);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Writer w sets w*setsEach+1 .. (w+1)*setsEach: every value is distinct, so no set is a no-op.
        var workers = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await start.Task;
            for (int n = 1; n <= setsEach; n++)
            {
                goblin.Gold = (w * setsEach) + n;
            }
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(workers).WaitAsync(Timeout);

        // Subscribers run under the object's lock, so the list was appended to one set at a time.
        Assert.HasCount(writers * setsEach, events);
        CollectionAssert.AreEquivalent(Enumerable.Range(1, writers * setsEach).ToArray(), events.Select(e => (int)e.NewValue!).ToArray(), "Every set is applied exactly once.");
        Assert.AreEqual(0, events[0].OldValue);
        for (int i = 1; i < events.Count; i++)
        {
            Assert.AreEqual(events[i - 1].NewValue, events[i].OldValue, $"Event {i} must start from the value event {i - 1} left.");
        }

        Assert.AreEqual(events[^1].NewValue, goblin.Gold, "The last published change is the final value.");
        for (int w = 0; w < writers; w++)
        {
            int low = w * setsEach;
            var own = events.Select(e => (int)e.NewValue!).Where(v => v > low && v <= low + setsEach).ToArray();
            CollectionAssert.AreEqual(Enumerable.Range(low + 1, setsEach).ToArray(), own, $"Writer {w}'s sets are applied in its program order.");
        }
    }

    [TestMethod]
    public async Task ConcurrentSets_OfOneObject_WithRepeatedValues_PublishOnlyRealChanges()
    {
        const int writers = 8;
        const int setsEach = 1_000;
        var goblin = NewGoblin();
        var events = new List<FieldChange>();
        using var subscription = goblin.Changes.Subscribe(events.Add);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var workers = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await start.Task;
            for (int n = 0; n < setsEach; n++)
            {
                goblin.Gold = n % 3;
            }
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(workers).WaitAsync(Timeout);

        Assert.IsLessThanOrEqualTo(writers * setsEach, events.Count);
        Assert.IsTrue(events.All(e => !Equals(e.OldValue, e.NewValue)), "A set to the current value is not a change.");
        for (int i = 1; i < events.Count; i++)
        {
            Assert.AreEqual(events[i - 1].NewValue, events[i].OldValue);
        }

        Assert.AreEqual(events.Count == 0 ? 0 : events[^1].NewValue, goblin.Gold);
    }
}
