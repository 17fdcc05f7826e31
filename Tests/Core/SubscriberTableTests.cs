using Pastry.Messaging;

namespace Pastry.Tests.Core;

/// <summary>
/// The table both routers match publishes against. Its "first" and "last" answers are what a backplane subscribes and
/// unsubscribes a broker subject on, so a wrong one leaks a subject (or drops one still in use).
/// </summary>
[TestClass]
public sealed class SubscriberTableTests
{
    private static readonly DoId Parent = new(1, 2);
    private static readonly Channel Room = Channel.ForObject(new DoId(7, 7));
    private static readonly Channel Hall = Channel.ForObject(new DoId(8, 8));

    [TestMethod]
    public void Add_SaysFirstOnlyForTheChannelsFirstSubscriber_AndFalseForADuplicate()
    {
        var table = new SubscriberTable();
        var a = new Participant("a");
        var b = new Participant("b");

        Assert.IsTrue(table.Add(a, Room, out bool first));
        Assert.IsTrue(first);
        Assert.IsTrue(table.Add(b, Room, out first));
        Assert.IsFalse(first, "a second subscriber is not the first");
        Assert.IsFalse(table.Add(a, Room, out first), "already subscribed");
        Assert.IsFalse(first);
        Assert.IsTrue(table.TryGetSubscribers(Room, out var subscribers));
        CollectionAssert.AreEqual(new IParticipant[] { a, b }, subscribers);
        Assert.AreEqual(1, table.ChannelCount);
    }

    [TestMethod]
    public void Remove_SaysLastOnlyWhenNoSubscriberIsLeft_AndFalseWhenItWasNotSubscribed()
    {
        var table = new SubscriberTable();
        var a = new Participant("a");
        var b = new Participant("b");
        table.Add(a, Room, out _);
        table.Add(b, Room, out _);

        Assert.IsFalse(table.Remove(a, Hall, out bool last), "never subscribed to that channel");
        Assert.IsFalse(last);
        Assert.IsTrue(table.Remove(a, Room, out last));
        Assert.IsFalse(last, "b is still there");
        Assert.IsFalse(table.Remove(a, Room, out last), "already removed");
        Assert.IsFalse(last);
        Assert.IsTrue(table.Matches(b, Room));
        Assert.IsFalse(table.Matches(a, Room));
        Assert.IsTrue(table.Remove(b, Room, out last));
        Assert.IsTrue(last);
        Assert.IsFalse(table.TryGetSubscribers(Room, out _));
        Assert.AreEqual(0, table.ChannelCount);

        Assert.IsTrue(table.Add(a, Room, out bool first), "a channel emptied is new again");
        Assert.IsTrue(first);
    }

    [TestMethod]
    public void RemoveAll_ReportsTheChannelsItEmptied_AndTheParentsWhoseRangesChanged_AndForgetsTheParticipant()
    {
        var table = new SubscriberTable();
        var a = new Participant("a");
        var b = new Participant("b");
        var otherParent = new DoId(3, 4);
        table.Add(a, Room, out _);
        table.Add(a, Hall, out _);
        table.Add(b, Hall, out _);
        table.AddRange(a, Parent, 10, 20);
        table.AddRange(a, Parent, 30, 40);
        table.AddRange(b, otherParent, 0, 5);

        var emptied = new List<Channel>();
        var parents = new List<DoId>();
        table.RemoveAll(a, emptied, parents);

        CollectionAssert.AreEqual(new[] { Room }, emptied, "Hall keeps b");
        CollectionAssert.AreEqual(new[] { Parent }, parents, "once, though two of its ranges went");
        Assert.IsFalse(table.TryGetRanges(Parent, out _));
        Assert.IsTrue(table.TryGetRanges(otherParent, out var left));
        Assert.AreSame(b, left.Single().Participant);
        Assert.IsFalse(table.Matches(a, Hall));
        Assert.IsTrue(table.Matches(b, Hall));

        // Removing a participant with nothing left reports nothing.
        emptied.Clear();
        parents.Clear();
        table.RemoveAll(a, emptied, parents);
        Assert.IsEmpty(emptied);
        Assert.IsEmpty(parents);

        // A participant's later subscription starts a fresh set: a second RemoveAll still empties it.
        table.Add(a, Room, out _);
        table.RemoveAll(a, emptied);
        CollectionAssert.AreEqual(new[] { Room }, emptied);
        Assert.IsTrue(table.HasRanges);
    }

    [TestMethod]
    public void Remove_ForgetsTheChannelForRemoveAll()
    {
        var table = new SubscriberTable();
        var a = new Participant("a");
        var b = new Participant("b");
        table.Add(a, Room, out _);
        table.Remove(a, Room, out _);
        table.Add(b, Room, out _);

        var emptied = new List<Channel>();
        table.RemoveAll(a, emptied);

        Assert.IsEmpty(emptied, "a left Room before; b's subscription is not a's to empty");
        Assert.IsTrue(table.Matches(b, Room));
    }

    [TestMethod]
    public void Ranges_MatchTheirZonesInclusive_OnlyForLocationsUnderTheirParent_AndAreRemovedOneAddAtATime()
    {
        var table = new SubscriberTable();
        var a = new Participant("a");
        var b = new Participant("b");
        Assert.IsFalse(table.HasRanges);
        table.AddRange(a, Parent, 10, 20);
        table.AddRange(a, Parent, 10, 20);
        Assert.IsTrue(table.HasRanges);

        Assert.IsTrue(table.Matches(a, Channel.ForLocation(Parent, 10)));
        Assert.IsTrue(table.Matches(a, Channel.ForLocation(Parent, 20)));
        Assert.IsFalse(table.Matches(a, Channel.ForLocation(Parent, 9)));
        Assert.IsFalse(table.Matches(a, Channel.ForLocation(Parent, 21)));
        Assert.IsFalse(table.Matches(b, Channel.ForLocation(Parent, 15)), "another participant's range");
        Assert.IsFalse(table.Matches(a, Channel.ForLocation(new DoId(9, 9), 15)), "another parent");
        Assert.IsFalse(table.Matches(a, Channel.ForObject(Parent)), "the parent object itself is not a location");

        Assert.IsFalse(table.RemoveRange(b, Parent, 10, 20), "not b's");
        Assert.IsFalse(table.RemoveRange(a, Parent, 10, 21), "other bounds");
        Assert.IsFalse(table.RemoveRange(a, new DoId(9, 9), 10, 20), "no ranges under that parent");
        Assert.IsTrue(table.RemoveRange(a, Parent, 10, 20));
        Assert.IsTrue(table.Matches(a, Channel.ForLocation(Parent, 15)), "each add is removed by one remove");
        Assert.IsTrue(table.RemoveRange(a, Parent, 10, 20));
        Assert.IsFalse(table.Matches(a, Channel.ForLocation(Parent, 15)));
        Assert.IsFalse(table.HasRanges);
    }

    [TestMethod]
    public void AnEmptyRange_IsRefused_NamingItsBounds()
    {
        var table = new SubscriberTable();
        var problem = Assert.ThrowsExactly<ArgumentException>(() => table.AddRange(new Participant("a"), Parent, 5, 4));
        StringAssert.StartsWith(problem.Message, "Zone range [5, 4] is empty: low must not exceed high.");
        Assert.AreEqual("low", problem.ParamName);
        table.AddRange(new Participant("a"), Parent, 4, 4);
        Assert.IsTrue(table.HasRanges, "a one-zone range is fine");
    }

    [TestMethod]
    public void HeldEarlier_IsTrueOnlyForAnEarlierRangeOfTheSameParticipantHoldingTheZone()
    {
        var a = new Participant("a");
        var b = new Participant("b");
        var ranges = new[] { new ZoneRange(0, 10, b), new ZoneRange(5, 15, a), new ZoneRange(12, 20, a), new ZoneRange(0, 30, a) };

        Assert.IsFalse(SubscriberTable.HeldEarlier(ranges, 1, 7), "only b's range is before it");
        Assert.IsFalse(SubscriberTable.HeldEarlier(ranges, 2, 16), "a's earlier range ends at 15");
        Assert.IsTrue(SubscriberTable.HeldEarlier(ranges, 2, 13));
        Assert.IsTrue(SubscriberTable.HeldEarlier(ranges, 3, 5));
        Assert.IsFalse(SubscriberTable.HeldEarlier(ranges, 3, 25));
        Assert.IsFalse(SubscriberTable.HeldEarlier(ranges, 0, 5), "nothing is before the first");
    }

    private sealed class Participant(string name) : IParticipant
    {
        public string Name => name;

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
        }
    }
}
