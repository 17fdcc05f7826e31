using System.Reflection;
using System.Runtime.Loader;
using System.Runtime.Versioning;
using Pastry.Ai;
using Pastry.Client;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The client as Unity and Godot get it: the netstandard2.1 builds of Pastry.Client and Pastry.Core, loaded with their
/// dependencies into a load context of their own, drive a real server on loopback through login, interest, an update
/// and an RPC, with events pumped on a game thread (Tests.NetStandard/StandardClientScenario.cs).
/// </summary>
[TestClass]
public sealed class NetStandardClientTests
{
    [TestMethod]
    public async Task TheNetStandardClient_LogsIn_OpensInterest_SeesAnUpdate_AndAnRpc_WithEveryEventOnTheGameThread()
    {
        await using var server = InProcessOtp.Start();
        await using var ai = new AiRepository(server.Router, server.Registry);
        await new KnightAiApp().StartAsync(ai, CancellationToken.None);

        var context = new FolderLoadContext(NetStandardClientDirectory());
        try
        {
            var scenario = context.LoadFromAssemblyName(new AssemblyName("Tests.NetStandard")).GetType("Pastry.Tests.NetStandard.StandardClientScenario", throwOnError: true)!;
            var clientAssembly = context.LoadFromAssemblyName(new AssemblyName("Pastry.Client"));
            Assert.AreEqual(".NETStandard,Version=v2.1", clientAssembly.GetCustomAttribute<TargetFrameworkAttribute>()?.FrameworkName);
            Assert.AreNotSame(typeof(PastryClient).Assembly, clientAssembly, "The scenario must run on the netstandard2.1 build, not the one the tests reference.");

            var run = (Task<string>)scenario.GetMethod("RunAsync")!.Invoke(null, new object[]
            {
                "127.0.0.1", server.ClientEndPoint.Port, $"ns{Guid.NewGuid():N}"[..12], KnightAiApp.RealmId.ToString(), KnightAiApp.Grid.ZoneOf(0, 0),
            })!;
            string transcript = await run.WaitAsync(TimeSpan.FromSeconds(60));

            Assert.AreEqual(
                string.Join("\n", new[]
                {
                    "client assembly: .NETStandard,Version=v2.1",
                    "core assembly: .NETStandard,Version=v2.1",
                    "logged in",
                    "realm in view: Camelot",
                    "knight in view: Lancelot at x=5",
                    "bob saw x=7",
                    "ann heard: echo hi",
                    "bob heard: echo hi",
                    "every event ran on the game thread",
                }),
                transcript);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>Tests.NetStandard's output folder, built before the tests (Tests.csproj references it without its assembly).</summary>
    private static string NetStandardClientDirectory()
    {
        string folder = typeof(NetStandardClientTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "NetStandardClientDirectory").Value!;
        Assert.IsTrue(File.Exists(Path.Combine(folder, "Pastry.Client.dll")), $"The netstandard2.1 client was not built into {folder}.");
        return folder;
    }

    /// <summary>Loads every assembly the folder has from the folder (as a Unity project's Plugins folder would), the rest from the runtime.</summary>
    private sealed class FolderLoadContext(string folder) : AssemblyLoadContext("netstandard2.1 client", isCollectible: true)
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            string path = Path.Combine(folder, assemblyName.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
