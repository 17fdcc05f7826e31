using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

[TestClass]
public class ClientAgentInterestTests
{
    /// <summary>The transport these tests run over; <see cref="ClientAgentInterestTestsOverWebSocket"/> runs them all again over WebSocket.</summary>
    protected virtual Transport Transport => Transport.Tcp;

    [TestMethod]
    public async Task AddInterest_SendsEnterForEveryObject_ThenDone()
    {
        await using var world = OtpWorld.Start(Transport);
        var a = world.SpawnKnight(1, "Arthur");
        var b = world.SpawnKnight(2, "Bedivere");
        world.SpawnKnight(3, "Elsewhere");
        var client = await world.ClientAsync();

        var entered = await world.InterestAsync(client, 7, 1, 2);

        CollectionAssert.AreEquivalent(new[] { a.DoId, b.DoId }, entered.Select(e => e.Id).ToArray());
        var arthur = entered.Single(e => e.Id == a.DoId);
        Assert.AreEqual("Arthur", arthur.Values["Name"]);
        Assert.AreEqual(5, arthur.Values["X"]);
        Assert.AreEqual(10, arthur.Values["Gold"]);
        Assert.IsFalse(arthur.Values.ContainsKey("Mood"), "A non-broadcast field goes only to the owner.");
        Assert.IsFalse(arthur.Owned);
        Assert.AreEqual(world.Realm.DoId, arthur.Parent);
        Assert.AreEqual(1u, arthur.Zone);
    }

    [TestMethod]
    public async Task Owner_GetsEnterOwnedObject_WithOwnSendFields()
    {
        await using var world = OtpWorld.Start(Transport);
        var client = await world.ClientAsync();
        var mine = world.SpawnKnight(1, "Mine", owner: client.AccountId);

        var entered = await world.InterestAsync(client, 1, 1);

        var info = entered.Single(e => e.Id == mine.DoId);
        Assert.IsTrue(info.Owned);
        Assert.AreEqual(client.AccountId, info.Owner);
        Assert.AreEqual(3, info.Values["Mood"]);
    }

    [TestMethod]
    public async Task AnOwnedObject_StaysInItsOwnersView_WhenItMovesOutOfTheOwnersInterest()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var watcher = await world.ClientAsync();
        var mine = world.SpawnKnight(1, "Mine", owner: owner.AccountId);
        var entered = RawClient.ReadEnter(await owner.ExpectAsync(MessageType.EnterOwnedObject), world.Registry);
        Assert.AreEqual(mine.DoId, entered.Id, "the owner sees what it owns arrive, before it has any interest");
        await world.InterestAsync(owner, 1, 1);
        await world.InterestAsync(watcher, 1, 1);

        world.Ai.Move(mine.DoId, world.Realm.DoId, 2);

        var moved = (await owner.ExpectAsync(MessageType.Location)).Reader();
        Assert.AreEqual(mine.DoId, moved.ReadDoId(), "a Location, not a Leave: the owner still sees it");
        Assert.AreEqual((mine.DoId, LeaveReason.Disabled), RawClient.ReadLeave(await watcher.NextAsync()));
        mine.X = 42;
        world.Ai.Set(mine, nameof(Knight.X));
        Assert.AreEqual((mine.DoId, "X", (object?)42), RawClient.ReadSetField(await owner.NextAsync(), mine.Model), "its updates keep coming");

        await owner.RemoveInterestAsync(1);
        mine.X = 43;
        world.Ai.Set(mine, nameof(Knight.X));
        Assert.AreEqual((mine.DoId, "X", (object?)43), RawClient.ReadSetField(await owner.NextAsync(), mine.Model), "closing an interest does not take away what the session owns");
    }

    [TestMethod]
    public async Task GivingAnObjectToAClient_EntersIt_AndTakingItAway_LeavesIt_OutsideItsInterest()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();

        world.Ai.SetOwner(knight.DoId, client.AccountId);
        var entered = RawClient.ReadEnter(await client.ExpectAsync(MessageType.EnterOwnedObject), world.Registry);
        Assert.AreEqual((knight.DoId, client.AccountId), (entered.Id, entered.Owner));

        world.Ai.SetOwner(knight.DoId, DoId.Empty);
        Assert.AreEqual((knight.DoId, LeaveReason.Disabled), RawClient.ReadLeave(await client.NextAsync()));
    }

    [TestMethod]
    public async Task OverlappingInterests_DoNotDuplicateObjects()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(2);
        var client = await world.ClientAsync();

        Assert.AreEqual(1, (await world.InterestAsync(client, 1, 1, 2)).Count);
        Assert.AreEqual(0, (await world.InterestAsync(client, 2, 2, 3)).Count, "Already in view through interest 1.");

        // Removing one of the two interests keeps the object in view: the next frame is the update, not a leave.
        await client.RemoveInterestAsync(1);
        knight.Gold = 11;
        world.Ai.Set(knight, nameof(Knight.Gold));
        var update = RawClient.ReadSetField(await client.NextAsync(), knight.Model);
        Assert.AreEqual(("Gold", (object?)11), (update.Field, update.Value));
    }

    [TestMethod]
    public async Task BroadcastUpdate_ReachesEveryInterestedClient_ButNotOneWithoutInterest()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var other = world.SpawnKnight(9, "Other");
        var watchers = new List<RawClient>();
        for (int i = 0; i < 3; i++)
        {
            var watcher = await world.ClientAsync();
            await world.InterestAsync(watcher, 1, 1);
            watchers.Add(watcher);
        }

        var outsider = await world.ClientAsync();
        await world.InterestAsync(outsider, 1, 9);

        knight.Gold = 99;
        world.Ai.Set(knight, nameof(Knight.Gold));
        other.Gold = 42;
        world.Ai.Set(other, nameof(Knight.Gold));

        foreach (var watcher in watchers)
        {
            var update = RawClient.ReadSetField(await watcher.NextAsync(), knight.Model);
            Assert.AreEqual((knight.DoId, "Gold", (object?)99), update);
        }

        // The outsider's first frame is the update in its own zone: it never got the first one.
        var seen = RawClient.ReadSetField(await outsider.NextAsync(), knight.Model);
        Assert.AreEqual((other.DoId, "Gold", (object?)42), seen);
    }

    [TestMethod]
    public async Task ClientSet_OfClSendField_ReachesOthersAndTheAi_WithoutEcho()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var mover = await world.ClientAsync();
        var watcher = await world.ClientAsync();
        await world.InterestAsync(mover, 1, 1);
        await world.InterestAsync(watcher, 1, 1);

        await mover.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 42);

        Assert.AreEqual((knight.DoId, "X", (object?)42), RawClient.ReadSetField(await watcher.NextAsync(), knight.Model));
        var heard = TestAi.ReadClientSet(await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientSetField), knight.Model);
        Assert.AreEqual((knight.DoId, mover.AccountId), (heard.Id, heard.Account));
        CollectionAssert.AreEqual(new[] { ("X", (object?)42) }, heard.Values);

        // No echo: the mover's next frame is the AI's later change, not its own set.
        knight.Gold = 1;
        world.Ai.Set(knight, nameof(Knight.Gold));
        Assert.AreEqual("Gold", RawClient.ReadSetField(await mover.NextAsync(), knight.Model).Field);

        // A client that enters later sees the stored value.
        var late = await world.ClientAsync();
        var entered = await world.InterestAsync(late, 1, 1);
        Assert.AreEqual(42, entered.Single(e => e.Id == knight.DoId).Values["X"]);
    }

    [TestMethod]
    public async Task OwnersOwnSets_AreNeverEchoedToIt_WhileTheAiAndTheZoneGetThem()
    {
        await using var world = OtpWorld.Start(Transport);
        var owner = await world.ClientAsync();
        var watcher = await world.ClientAsync();
        await world.InterestAsync(watcher, 1, 1);
        var knight = world.SpawnKnight(1, "Percy", owner.AccountId);

        // The owner sees what it owns without any interest (through its account); the watcher through the zone.
        var owned = RawClient.ReadEnter(await owner.ExpectAsync(MessageType.EnterOwnedObject), world.Registry);
        Assert.AreEqual((knight.DoId, true), (owned.Id, owned.Owned));
        Assert.AreEqual(knight.DoId, RawClient.ReadEnter(await watcher.ExpectAsync(MessageType.EnterObject), world.Registry).Id);

        // An owner-only field and a broadcast one, both set by the owner.
        await owner.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.Mood)), 7);
        await owner.SetFieldAsync(knight.DoId, (FieldDescriptor<int>)knight.Model.GetField(nameof(Knight.X)), 42);

        var mood = TestAi.ReadClientSet(await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientSetField), knight.Model);
        var x = TestAi.ReadClientSet(await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientSetField), knight.Model);
        Assert.AreEqual((knight.DoId, owner.AccountId), (mood.Id, mood.Account));
        CollectionAssert.AreEqual(new[] { ("Mood", (object?)7) }, mood.Values);
        CollectionAssert.AreEqual(new[] { ("X", (object?)42) }, x.Values);
        Assert.AreEqual((knight.DoId, "X", (object?)42), RawClient.ReadSetField(await watcher.NextAsync(), knight.Model), "The zone gets the broadcast field, not Mood.");

        // A later change by the AI is the owner's next frame: neither of its own sets came back before it.
        knight.Gold = 1;
        world.Ai.Set(knight, nameof(Knight.Gold));
        Assert.AreEqual((knight.DoId, "Gold", (object?)1), RawClient.ReadSetField(await owner.NextAsync(), knight.Model));
        Assert.AreEqual((knight.DoId, "Gold", (object?)1), RawClient.ReadSetField(await watcher.NextAsync(), knight.Model));
        Assert.IsFalse(owner.TryTakeNow(out var extra), $"Nothing else reached the owner (got {extra?.Type}).");
    }

    [TestMethod]
    public async Task ZoneMove_GivesLocation_Leave_OrEnter_AsEachClientSees_It()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var both = await world.ClientAsync();
        var fromOnly = await world.ClientAsync();
        var toOnly = await world.ClientAsync();
        await world.InterestAsync(both, 1, 1, 2);
        await world.InterestAsync(fromOnly, 1, 1);
        await world.InterestAsync(toOnly, 1, 2);

        world.Ai.Move(knight.DoId, world.Realm.DoId, 2);

        var location = (await both.ExpectAsync(MessageType.Location)).Reader();
        Assert.AreEqual(knight.DoId, location.ReadDoId());
        Assert.AreEqual(world.Realm.DoId, location.ReadDoId());
        Assert.AreEqual(2u, location.ReadUInt32());
        Assert.AreEqual((knight.DoId, LeaveReason.Disabled), RawClient.ReadLeave(await fromOnly.NextAsync()));
        var enter = RawClient.ReadEnter(await toOnly.ExpectAsync(MessageType.EnterObject), world.Registry);
        Assert.AreEqual((knight.DoId, 2u, "Galahad"), (enter.Id, enter.Zone, enter.Values["Name"]));
    }

    [TestMethod]
    public async Task RemoveInterest_SendsLeaveDisabled_ForObjectsNoLongerInView()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(4);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 3, 4);

        await client.RemoveInterestAsync(3);

        Assert.AreEqual((knight.DoId, LeaveReason.Disabled), RawClient.ReadLeave(await client.NextAsync()));
    }

    [TestMethod]
    public async Task RemovingAnInterest_UnsubscribesItsZones_AndAddingItBack_EntersItsObjectsAgain()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(4);
        var client = await world.ClientAsync();
        var router = (Pastry.Otp.MessageDirector.InProcessRouter)world.Server.Router;
        int channels = router.ChannelCount;
        await world.InterestAsync(client, 3, 4, 6);
        Assert.IsGreaterThan(channels, router.ChannelCount, "the session listens to the zones it sees");

        await client.RemoveInterestAsync(3);
        Assert.AreEqual((knight.DoId, LeaveReason.Disabled), RawClient.ReadLeave(await client.NextAsync()));
        Assert.AreEqual(channels, router.ChannelCount, "no zone stays subscribed for a session that no longer sees it");

        // The session forgot the knight when it left the view: seen again, it enters again, with its values.
        var again = await world.InterestAsync(client, 5, 4);
        Assert.AreEqual(knight.DoId, again.Single().Id);
        Assert.AreEqual(knight.Name, again.Single().Values["Name"]);
    }

    [TestMethod]
    public async Task DeletingAParent_DeletesItsChildren_AndClientsSeeLeaveDeleted()
    {
        // "inside" opens the tavern's zone by id without seeing the tavern: allowed here, refused by the default policy.
        await using var world = OtpWorld.Start(Transport, policy: new Pastry.Otp.ClientAgent.AllowAllInterestPolicy());
        var tavern = world.Ai.Create(new Realm { Title = "Tavern" }, world.Realm.DoId, 1);
        var barkeep = world.Ai.Create(new Knight { Name = "Barkeep" }, tavern.DoId, 100);
        var outside = await world.ClientAsync();
        var inside = await world.ClientAsync();
        await world.InterestAsync(outside, 1, 1);
        Assert.AreEqual(1, (await OtpWorld.InterestAsync(inside, world.Registry, 1, tavern.DoId, 100)).Count);

        world.Ai.Delete(tavern.DoId);

        Assert.AreEqual((barkeep.DoId, LeaveReason.Deleted), RawClient.ReadLeave(await inside.NextAsync()));
        Assert.AreEqual((tavern.DoId, LeaveReason.Deleted), RawClient.ReadLeave(await outside.NextAsync()));
    }

    [TestMethod]
    public async Task UpdatesDuringAnInterestSync_AreQueuedAndReplayedInOrder()
    {
        await using var world = OtpWorld.Start(Transport);
        var knights = Enumerable.Range(0, 200).Select(i => world.SpawnKnight(5, $"K{i}")).ToList();
        var client = await world.ClientAsync();

        // The AI keeps changing every knight while the client syncs, so updates race the sync.
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(async () =>
        {
            for (int round = 0; round < 10_000 && !stop.IsCancellationRequested; round++)
            {
                foreach (var knight in knights)
                {
                    knight.Gold = 11 + round; // above the spawn value (10), so every update raises it
                    world.Ai.Set(knight, nameof(Knight.Gold));
                }

                await Task.Yield();
            }
        });

        await client.AddInterestAsync(1, world.Realm.DoId, 5);
        var seen = new HashSet<DoId>();
        var lastGold = new Dictionary<DoId, int>();
        bool done = false;
        int updatesAfterDone = 0;
        while (updatesAfterDone < knights.Count)
        {
            var frame = await client.NextAsync();
            switch (frame.Type)
            {
                case MessageType.EnterObject:
                    Assert.IsFalse(done, "Every enter of a sync comes before its InterestDone.");
                    var enter = RawClient.ReadEnter(frame, world.Registry);
                    seen.Add(enter.Id);
                    lastGold[enter.Id] = (int)enter.Values["Gold"]!;
                    break;
                case MessageType.InterestDone:
                    done = true;
                    break;
                case MessageType.SetField:
                    var update = RawClient.ReadSetField(frame, knights[0].Model);
                    Assert.IsTrue(seen.Contains(update.Id), "An update never arrives before the object's enter.");
                    int gold = (int)update.Value!;
                    // Strictly: every value is set once, so an update the client already has (the enter held it, or
                    // it was sent during the sync and again on its replay) would arrive twice.
                    Assert.IsTrue(gold > lastGold[update.Id], $"Updates of {update.Id} replay once each, in the order the AI made them: {gold} came after {lastGold[update.Id]}.");
                    lastGold[update.Id] = gold;
                    updatesAfterDone += done ? 1 : 0;
                    break;
                default:
                    Assert.Fail($"Unexpected {frame.Type}");
                    break;
            }
        }

        await stop.CancelAsync();
        await churn;
        Assert.AreEqual(knights.Count, seen.Count);
    }

    [TestMethod]
    public async Task AiBroadcastRpc_ReachesClientsWithInterest()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        world.Ai.Call(knight, nameof(Knight.Shout), "For Camelot!");

        var reader = (await client.ExpectAsync(MessageType.CallMethod)).Reader();
        Assert.AreEqual(knight.DoId, reader.ReadDoId());
        var method = knight.Model.Methods[reader.ReadUInt16()];
        Assert.AreEqual(nameof(Knight.Shout), method.Name);
        Assert.AreEqual("For Camelot!", method.DecodeArguments(ref reader)[0]);
    }

    [TestMethod]
    public async Task ClientRpc_ReachesTheAi_WithTheCallersAccount()
    {
        await using var world = OtpWorld.Start(Transport);
        var knight = world.SpawnKnight(1);
        var client = await world.ClientAsync();
        await world.InterestAsync(client, 1, 1);

        await client.CallAsync(knight.DoId, knight.Model.GetMethod(nameof(Knight.Wave)), "hello");

        var call = await world.Ai.ExpectAsync(Pastry.Messaging.InternalMessageType.ClientCallMethod);
        var reader = new WireReader(call.Payload.Span);
        Assert.AreEqual(client.AccountId, reader.ReadDoId());
        var method = knight.Model.Methods[reader.ReadUInt16()];
        Assert.AreEqual("hello", method.DecodeArguments(ref reader)[0]);
    }
}

/// <summary>Every test of <see cref="ClientAgentInterestTests"/> over the WebSocket transport: a session behaves the same whichever way it came in.</summary>
[TestClass]
public sealed class ClientAgentInterestTestsOverWebSocket : ClientAgentInterestTests
{
    /// <inheritdoc />
    protected override Transport Transport => Transport.WebSocket;
}
