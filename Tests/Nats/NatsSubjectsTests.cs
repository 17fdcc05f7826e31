using Pastry.Messaging;
using Pastry.Nats;

namespace Pastry.Tests.Nats;

/// <summary>The backplane's subject scheme and settings, without a server.</summary>
[TestClass]
public sealed class NatsSubjectsTests
{
    private static readonly DoId Parent = DoId.Parse("00000000-0000-0000-0000-00000000c0de");

    [TestMethod]
    public void EveryChannelKind_HasItsSubject_AndLocationsCarryTheirShard()
    {
        var subjects = new NatsSubjects("game");

        Assert.AreEqual("game.r.1", subjects.Of(Channel.StateServer));
        Assert.AreEqual("game.o.000000000000000000000000000000ff", subjects.Of(Channel.ForObject(new DoId(0, 255))));
        Assert.AreEqual("game.l.0000000000000000000000000000c0de.0.7", subjects.Of(Channel.ForLocation(Parent, 7)));
        Assert.AreEqual("game.l.0000000000000000000000000000c0de.3.800", subjects.Of(Channel.ForLocation(Parent, 800)));
        Assert.AreEqual("game.l.0000000000000000000000000000c0de.2.*", subjects.LocationWildcard(Parent, 2));
        Assert.AreEqual("game.l.0000000000000000000000000000c0de.>", subjects.LocationWildcard(Parent, null));
        StringAssert.StartsWith(subjects.Of(Channel.ForSession(Parent)), "game.s.");
        StringAssert.StartsWith(subjects.Of(Channel.ForAccount(Parent)), "game.a.");
        StringAssert.StartsWith(subjects.Of(Channel.ForParticipant(Parent)), "game.p.");
        Assert.AreSame(subjects.Of(Channel.StateServer), subjects.Of(Channel.StateServer), "Cached: no string per publish.");
        Assert.IsTrue(NatsSubjects.TryParseZone("game.l.0000000000000000000000000000c0de.3.800", out uint zone));
        Assert.AreEqual(800u, zone);
        Assert.ThrowsExactly<ArgumentException>(() => subjects.Of(default));
    }

    [TestMethod]
    [DataRow("Url", "", "Nats:Url")]
    [DataRow("SubjectPrefix", "my.game", "Nats:SubjectPrefix")]
    [DataRow("NodeTimeout", "00:00:01", "Nats:NodeTimeout")]
    [DataRow("MaxMessageBytes", "100", "Nats:MaxMessageBytes")]
    public void ABadSetting_IsRefused_NamingItsKey(string property, string value, string key)
    {
        var options = new NatsBackplaneOptions();
        var info = typeof(NatsBackplaneOptions).GetProperty(property)!;
        info.SetValue(options, info.PropertyType == typeof(TimeSpan) ? TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : info.PropertyType == typeof(int) ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : value);

        StringAssert.Contains(options.FindProblem(), key);
        Assert.IsNull(new NatsBackplaneOptions().FindProblem(), "The defaults are valid.");
        Assert.ThrowsExactly<ArgumentException>(() => new NatsMessageRouter(options));
    }
}
