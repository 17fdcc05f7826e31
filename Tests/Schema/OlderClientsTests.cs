using System.Net;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Reflection;
using System.Text.RegularExpressions;
using Pastry.Client;
using Pastry.Tests.EndToEnd;
using Pastry.Wire;

namespace Pastry.Tests.Schema;

/// <summary>
/// Older clients keep working: one real server process runs the V2 build of a game, whose schema lock holds V0 and
/// V1 in its history; a V1 client and a V2 client play on it at once, each in its own schema, and a V0 client (V2
/// removed a field it reads) is refused with 125 naming that change.
/// </summary>
[TestClass]
public sealed class OlderClientsTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));
    private string directory = null!;

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("pastry-old-clients").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    [TestMethod]
    public async Task AnOldAndANewClient_OnOneServer_EachSeeWhatItKnows_AndAnIncompatibleOneGets125NamingTheBreakingChange()
    {
        // The lock's history, as `pastry schema --lock` writes it release after release.
        var lock0 = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V0)), previous: null);
        var lock1 = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1)), lock0);
        var lock2 = SchemaLock.Update(ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V2)), lock1);
        string server = ModelAssembly.Build(Path.Combine(directory, "GameV2.dll"), HeroVersions.V2 + HeroVersions.V2Ai, lock2.ToJson());
        var v0 = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V0, lock0.ToJson()));
        var v1 = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V1, lock1.ToJson()));
        var v2 = ModelRegistry.FromAssemblies(ModelAssembly.Load(HeroVersions.V2, lock2.ToJson()));
        Assert.AreEqual(lock2.Hash, v2.SchemaHashText);

        await using var game = PastryProcess.Start(
            "serve", "--role", "all", "--app", server, "--ClientAgent:Port", "0", "--MessageDirector:Port", "0", "--Admin:Port", "0",
            "--Accounts:Pbkdf2Iterations", "1000", "--Ai:Application", "HeroAi", "--Database:Path", string.Empty);
        var clients = IPEndPoint.Parse((await game.WaitForLineAsync(new Regex("Client Agent listening on (\\S+:\\d+)"))).Groups[1].Value);
        await game.WaitForLineAsync(new Regex("AI application HeroAi started"));
        StringAssert.Contains(game.Output, "also serves 1 earlier compatible schema version");

        // Both builds connect at once; the old one says an older app version too.
        await using var oldClient = await LoggedInAsync(clients, v1, "old", "0.9.0");
        await using var newClient = await LoggedInAsync(clients, v2, "new", "1.0.0");
        await oldClient.AddInterestAsync(DoId.Empty, 0);
        await newClient.AddInterestAsync(DoId.Empty, 0);

        // Each sees what it knows: the old build has no Pet and no Level, and reads Coins as Gold (same wire id).
        var oldArthur = oldClient.Objects.Single();
        Assert.AreEqual("Hero", oldArthur.Model.Name);
        Assert.AreEqual("Arthur", Value(oldArthur, "Name"));
        Assert.AreEqual(0, Value(oldArthur, "Gold"), "Gold is [Ai] and not broadcast: a non-owner is not sent it.");
        CollectionAssert.AreEquivalent(new[] { "Hero", "Pet" }, newClient.Objects.Select(o => o.Model.Name).ToList());
        var newArthur = newClient.Objects.Single(o => o.Model.Name == "Hero");
        Assert.AreEqual(7, Value(newArthur, "Level"));

        // The old client waves with the one argument it knows; the AI gets the new optional one's default, raises
        // Level (sent only to the new client) and waves back with two arguments (the old client gets the first).
        var oldHears = Calls(oldClient, oldArthur.Model).FirstAsync().ToTask();
        var newHears = Calls(newClient, newArthur.Model).FirstAsync().ToTask();
        var newSeesLevel = newArthur.Changes.FirstAsync(c => c.Field.Name == "Level").ToTask();
        oldClient.Call(oldArthur, oldArthur.Model.GetMethod("Wave"), "hi");
        var oldCall = await Within(oldHears, game);
        CollectionAssert.AreEqual(new object[] { "back:hi:1" }, oldCall.Arguments.ToArray());
        CollectionAssert.AreEqual(new object[] { "back:hi:1", 2 }, (await newHears.WaitAsync(Timeout)).Arguments.ToArray());
        Assert.AreEqual(8, (await newSeesLevel.WaitAsync(Timeout)).NewValue);

        // The old client is still there after the Level update it was never sent (an unknown field would have closed it).
        var again = Calls(oldClient, oldArthur.Model).FirstAsync().ToTask();
        oldClient.Call(oldArthur, oldArthur.Model.GetMethod("Wave"), "again");
        CollectionAssert.AreEqual(new object[] { "back:again:1" }, (await again.WaitAsync(Timeout)).Arguments.ToArray());

        // A V0 build reads Badge, which V1 removed: 125, naming the rule it breaks.
        await using var ancient = await RawClient.ConnectAsync(clients);
        await ancient.HelloAsync(v0.SchemaHash, "0.8.0");
        string reason = await ancient.ExpectEjectAsync(EjectCode.BadSchemaHash);
        StringAssert.Contains(reason, "remove-field Hero.Badge (field 3)");
        await game.WaitForLineAsync(new Regex("earlier compatible version; served in that schema"));
    }

    private static async Task<PastryClient> LoggedInAsync(IPEndPoint clients, ModelRegistry registry, string user, string version)
    {
        var client = await PastryClient.ConnectAsync(clients.Address.ToString(), clients.Port, registry, new ClientOptions { AppVersion = version });
        await client.CreateAccountAsync(user, "a fine password");
        await client.LoginAsync(user, "a fine password");
        return client;
    }

    /// <summary>Awaits <paramref name="task"/>; on a timeout the failure shows the server's log.</summary>
    private static async Task<T> Within<T>(Task<T> task, PastryProcess server)
    {
        try
        {
            return await task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new AssertFailedException("timed out; the server said:" + Environment.NewLine + server.Output);
        }
    }

    private static object? Value(DistributedObject target, string field) => target.Model.GetField(field).GetBoxed(target);

    /// <summary>The client's RPC stream of a model known only at run time (<c>client.Of&lt;T&gt;().Calls</c>).</summary>
    private static IObservable<RpcCall> Calls(PastryClient client, ModelInfo model)
    {
        var events = typeof(PastryClient).GetMethod(nameof(PastryClient.Of))!.MakeGenericMethod(model.ClrType).Invoke(client, null)!;
        return (IObservable<RpcCall>)events.GetType().GetProperty("Calls", BindingFlags.Instance | BindingFlags.Public)!.GetValue(events)!;
    }
}
