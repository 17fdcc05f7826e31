using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Reflection;
using System.Text.RegularExpressions;
using Pastry.Client;
using Pastry.Messaging;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Schema;

/// <summary>
/// Older clients on an in-process server (what <see cref="OlderClientsTests"/> shows against a real process, here so
/// that the Client Agent's <c>SchemaHistory</c> and <c>SessionSchema</c> can be mutation-tested in process): the V2
/// build's lock holds V0 and V1; a V1 client is served in its own schema (no class, field or argument it does not
/// know reaches it), a V2 client in the current one, and a V0 client is refused with 125 naming the breaking change.
/// </summary>
[TestClass]
public sealed class OlderClientsOnOneServerTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task AV1Client_IsServedInItsSchema_AV2ClientInTheCurrentOne_AndAV0ClientGets125NamingTheBreakingChange()
    {
        var lock0 = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V0)), previous: null);
        var lock1 = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1)), lock0);
        var lock2 = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V2)), lock1);
        var v0 = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V0, lock0.ToJson()));
        var v1 = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1, lock1.ToJson()));
        var v2 = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V2, lock2.ToJson()));
        var logs = new LogCapture();
        await using var server = InProcessOtp.Start(registry: v2, logs: logs);
        await logs.WaitForLineAsync(new Regex("also serves 1 earlier compatible schema version")).WaitAsync(Timeout);

        var ai = new TestAi(server.Router);
        var hero = New(v2, "Hero", ("Level", 7), ("Name", "Arthur"), ("Coins", 12), ("Motto", "onward"));
        ai.Create(hero, DoId.Empty, 0);
        ai.Create(New(v2, "Pet", ("Kind", "cat")), DoId.Empty, 0);
        await ai.SyncAsync();

        await using var oldClient = await LoggedInAsync(server, v1, "old", "0.9.0");
        await using var newClient = await LoggedInAsync(server, v2, "new", "1.0.0");
        await oldClient.AddInterestAsync(DoId.Empty, 0).WaitAsync(Timeout);
        await newClient.AddInterestAsync(DoId.Empty, 0).WaitAsync(Timeout);
        await logs.WaitForLineAsync(new Regex("earlier compatible version; served in that schema")).WaitAsync(Timeout);

        // The old build has no Pet and no Level; it is not sent the [Ai] Coins (its Gold) nor the owner's Motto.
        var oldHero = oldClient.Objects.Single();
        Assert.AreEqual("Hero", oldHero.Model.Name);
        Assert.AreEqual("Arthur", Value(oldHero, "Name"));
        Assert.AreEqual(0, Value(oldHero, "Gold"));
        CollectionAssert.AreEquivalent(new[] { "Hero", "Pet" }, newClient.Objects.Select(o => o.Model.Name).ToList());
        var newHero = newClient.Objects.Single(o => o.Model.Name == "Hero");
        Assert.AreEqual(7, Value(newHero, "Level"));

        // A Level update goes to the new client only; the old one is still served afterwards (an unknown field would close it).
        var oldSeesName = oldHero.Changes.FirstAsync(c => c.Field.Name == "Name").ToTask();
        var newSeesLevel = newHero.Changes.FirstAsync(c => c.Field.Name == "Level").ToTask();
        hero.Model.GetField("Level").SetBoxed(hero, 8);
        ai.Set(hero, "Level");
        hero.Model.GetField("Name").SetBoxed(hero, "Arthur II");
        ai.Set(hero, "Name");
        Assert.AreEqual(8, (await newSeesLevel.WaitAsync(Timeout)).NewValue);
        Assert.AreEqual("Arthur II", (await oldSeesName.WaitAsync(Timeout)).NewValue);

        // The AI waves with two arguments: the old client gets the one it knows, the new one both.
        var oldHears = Calls(oldClient, oldHero.Model).FirstAsync().ToTask();
        var newHears = Calls(newClient, newHero.Model).FirstAsync().ToTask();
        ai.Call(hero, "Wave", "back", 2);
        CollectionAssert.AreEqual(new object[] { "back" }, (await oldHears.WaitAsync(Timeout)).Arguments.ToArray());
        CollectionAssert.AreEqual(new object[] { "back", 2 }, (await newHears.WaitAsync(Timeout)).Arguments.ToArray());

        // The old client calls with the one argument it knows; the AI hears it in the current layout.
        oldClient.Call(oldHero, oldHero.Model.GetMethod("Wave"), "hi");
        var heard = await ai.ExpectAsync(InternalMessageType.ClientCallMethod).WaitAsync(Timeout);
        Assert.AreEqual(hero.DoId, heard.Subject);

        // A V0 build reads Badge, which V1 removed: 125, naming the rule it breaks.
        await using var ancient = await RawClient.ConnectAsync(server.ClientEndPoint);
        await ancient.HelloAsync(v0.SchemaHash, "0.8.0");
        StringAssert.Contains(await ancient.ExpectEjectAsync(EjectCode.BadSchemaHash), "remove-field Hero.Badge (field 3)");
    }

    private static DistributedObject New(ModelRegistry registry, string model, params (string Field, object Value)[] values)
    {
        var info = registry.Models.Single(m => m.Name == model);
        var obj = (DistributedObject)Activator.CreateInstance(info.ClrType)!;
        foreach (var (field, value) in values)
        {
            info.GetField(field).SetBoxed(obj, value);
        }

        return obj;
    }

    private static async Task<PastryClient> LoggedInAsync(Pastry.Otp.OtpServer server, ModelRegistry registry, string user, string version)
    {
        var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, registry, new ClientOptions { AppVersion = version }).WaitAsync(Timeout);
        await client.CreateAccountAsync(user, "a fine password").WaitAsync(Timeout);
        await client.LoginAsync(user, "a fine password").WaitAsync(Timeout);
        return client;
    }

    private static object? Value(DistributedObject target, string field) => target.Model.GetField(field).GetBoxed(target);

    /// <summary>The client's RPC stream of a model known only at run time (<c>client.Of&lt;T&gt;().Calls</c>).</summary>
    private static IObservable<RpcCall> Calls(PastryClient client, ModelInfo model)
    {
        var events = typeof(PastryClient).GetMethod(nameof(PastryClient.Of))!.MakeGenericMethod(model.ClrType).Invoke(client, null)!;
        return (IObservable<RpcCall>)events.GetType().GetProperty("Calls", BindingFlags.Instance | BindingFlags.Public)!.GetValue(events)!;
    }
}
