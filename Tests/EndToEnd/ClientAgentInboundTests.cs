using System.Text.RegularExpressions;
using Pastry.Otp.ClientAgent;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// Frames a client sends that reach the Client Agent's rarer branches, against an in-process OTP over real loopback
/// sockets: a frame too short for its type (109), a refused interest naming many zones, an interest asked again, the
/// interest-change rate on RemoveInterest (347), an unknown context removed (ignored and logged), and an UberDOG call
/// whose arguments break their constraints (127). Written from mutation testing (TESTING.md): each reason and effect
/// is asserted exactly, so a dropped statement or emptied message fails here.
/// </summary>
[TestClass]
public sealed class ClientAgentInboundTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(15));

    [TestMethod]
    public async Task AFrameTooShortForItsMessageType_Ejects109_NamingItsLength()
    {
        await using var world = OtpWorld.Start();
        await using var client = await world.ConnectAsync();

        // A 4-byte length of 1: one byte cannot hold the 2-byte message type.
        await client.SendRawAsync([1, 0, 0, 0, 5]);

        Assert.AreEqual("frame length 1 is too small to hold a message type", await client.ExpectEjectAsync(EjectCode.TruncatedFrame));
    }

    [TestMethod]
    public async Task ARefusedInterest_InMoreThanEightZones_ShowsTheFirstEight_AndTheCount()
    {
        await using var world = OtpWorld.Start(policy: new RefuseAll());
        var client = await world.ClientAsync();

        await client.AddInterestAsync(1, world.Realm.DoId, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);

        Assert.AreEqual(
            $"interest in parent {world.Realm.DoId} zones [1, 2, 3, 4, 5, 6, 7, 8, ... (10 zones)] is not allowed for this account",
            await client.ExpectEjectAsync(EjectCode.ForbiddenInterest));
    }

    [TestMethod]
    public async Task AnInterestAskedAgain_WithNothingNew_IsDoneAtOnce_AndTheSessionGoesOn()
    {
        await using var world = OtpWorld.Start();
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        Assert.AreEqual(knight.DoId, (await world.InterestAsync(client, 1, 1)).Single().Id);

        var again = await world.InterestAsync(client, 1, 1);

        Assert.AreEqual(0, again.Count, "Nothing new entered the view.");
    }

    [TestMethod]
    public async Task RemovingInterests_BeyondTheirRate_Ejects347()
    {
        // The bucket holds twice the rate: two adds pass, the remove after them is the third change of the burst.
        await using var world = OtpWorld.Start(o => o.ClientAgent.MaxInterestChangesPerSecond = 1);
        var client = await world.ClientAsync();

        await client.SendAsync(w =>
        {
            ClientFrames.WriteAddInterest(w, 1, world.Realm.DoId, [1]);
            ClientFrames.WriteAddInterest(w, 2, world.Realm.DoId, [2]);
            ClientFrames.WriteContext(w, MessageType.RemoveInterest, 1);
        });

        var frame = await client.NextAsync();
        while (frame.Type == MessageType.InterestDone)
        {
            frame = await client.NextAsync();
        }

        Assert.AreEqual(MessageType.Eject, frame.Type);
        var eject = frame.Reader();
        Assert.AreEqual(EjectCode.RateLimited, (EjectCode)eject.ReadUInt16());
        Assert.AreEqual("more than 1 interest changes per second", eject.ReadString());
    }

    [TestMethod]
    public async Task RemovingAnUnknownContext_IsIgnored_AndLogged_TheSessionGoesOn()
    {
        var logs = new LogCapture(Microsoft.Extensions.Logging.LogLevel.Debug);
        await using var world = OtpWorld.Start(logs: logs);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();

        await client.RemoveInterestAsync(42);

        StringAssert.Matches(await logs.WaitForLineAsync(new Regex("RemoveInterest of unknown context")).WaitAsync(Timeout), new Regex(@"^session .*: RemoveInterest of unknown context 42 ignored$"));
        Assert.AreEqual(knight.DoId, (await world.InterestAsync(client, 1, 1)).Single().Id, "The session still serves interests.");
    }

    [TestMethod]
    public async Task AnUberDogCall_WithAnOverlongArgument_Ejects127_NamingTheMethodAndTheArgument()
    {
        await using var world = OtpWorld.Start();
        await using var client = await world.ConnectAsync();
        await client.HelloAsync(world.Registry.SchemaHash);
        await client.ExpectAsync(MessageType.HelloResp);

        await client.CallLoginAsync(world.Registry, nameof(LoginManager.Login), new string('n', 65), new string('p', 257));

        Assert.AreEqual(
            "LoginManager.Login: username: The field username must be a string or array type with a maximum length of '64'.; password: The field password must be a string or array type with a maximum length of '256'.",
            await client.ExpectEjectAsync(EjectCode.FieldConstraintViolated));
    }

    private sealed class RefuseAll : IInterestPolicy
    {
        public InterestVerdict Decide(InterestRequest request) => InterestVerdict.Refused;
    }
}
