using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

[TestClass]
public sealed class ClientAgentRobustnessTests
{
    [TestMethod]
    public async Task ASlowConsumer_IsEjectedWith346_OnTheWire_WhileTheOthersKeepFlowing()
    {
        var logs = new LogCapture();
        await using var world = OtpWorld.Start(
            o =>
            {
                o.ClientAgent.MaxOutgoingBytes = 256 * 1024;
                o.ClientAgent.FlushInterval = TimeSpan.Zero;
            },
            logs: logs);
        var knight = world.SpawnKnight(1);
        var slow = await world.ClientAsync(receiveBufferBytes: 4096);
        var good = await world.ClientAsync();
        await world.InterestAsync(slow, 1, 1);
        await world.InterestAsync(good, 1, 1);
        var dropped = logs.WaitForLineAsync(new Regex($"session .* dropped as a slow consumer \\(346\\)"));
        slow.PauseReading();

        // Up to about 12 MB of relayed updates: more than the kernel buffers plus the 256 KiB queue of the slow client.
        // The AI paces itself by the good client, so only the slow client's queue can grow; it stops once the slow
        // client is dropped.
        const int updates = 3000;
        const int batch = 20;
        var banner = new byte[4000];
        int sent = 0;
        for (; sent < updates && !dropped.IsCompleted; sent += batch)
        {
            for (int i = sent; i < sent + batch; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(banner, i);
                knight.Banner = (byte[])banner.Clone();
                world.Ai.Set(knight, nameof(Knight.Banner));
            }

            for (int i = sent; i < sent + batch; i++)
            {
                var update = RawClient.ReadSetField(await good.NextAsync(), knight.Model);
                Assert.AreEqual(i, BinaryPrimitives.ReadInt32LittleEndian((byte[])update.Value!), "The good client gets every update, in order.");
            }
        }

        await dropped.WaitAsync(RawClient.Timeout);

        // The slow client reads again: the updates that were on the wire, in order, then the eject, then the close.
        slow.ResumeReading();
        int received = 0;
        ReceivedFrame frame;
        while ((frame = await slow.NextAsync()).Type == MessageType.SetField)
        {
            var update = RawClient.ReadSetField(frame, knight.Model);
            Assert.AreEqual(received, BinaryPrimitives.ReadInt32LittleEndian((byte[])update.Value!), "What does arrive is every update from the first, in order, with none skipped.");
            received++;
        }

        var reader = frame.Reader();
        Assert.AreEqual(MessageType.Eject, frame.Type);
        Assert.AreEqual(EjectCode.SlowConsumer, (EjectCode)reader.ReadUInt16());
        Assert.AreEqual("slow consumer: more than 262144 bytes waiting to be sent; read faster or ask for less interest", reader.ReadString());
        await slow.Closed.Task.WaitAsync(RawClient.Timeout);
        var record = world.Server.ClientAgent.RecentEjects.Single(e => e.Session == slow.SessionId);
        Assert.AreEqual(((int)EjectCode.SlowConsumer, "more than 262144 bytes waiting to be sent"), (record.Code, record.Reason), "the operator's view lists the 346 and why");
        Assert.IsTrue(received < sent, $"The slow client was cut off ({received} of {sent} updates arrived).");

        // The good client is still served.
        knight.Gold = 77;
        world.Ai.Set(knight, nameof(Knight.Gold));
        Assert.AreEqual((knight.DoId, "Gold", (object?)77), RawClient.ReadSetField(await good.NextAsync(), knight.Model));
    }

    [TestMethod]
    public async Task MalformedInput_FromManyConnections_NeverStopsTheServer()
    {
        await using var world = OtpWorld.Start(o => o.ClientAgent.MaxFrameBytes = 4096);
        var knight = world.SpawnKnight(1);
        var bystander = await world.ClientAsync();
        await world.InterestAsync(bystander, 1, 1);
        var random = new Random(1234);
        var hostile = new List<Task>();
        for (int connection = 0; connection < 40; connection++)
        {
            var bytes = HostileBytes(random, connection, world.Registry.SchemaHash);
            hostile.Add(Task.Run(async () =>
            {
                await using var client = await RawClient.ConnectAsync(world.Server.ClientEndPoint);
                try
                {
                    await client.SendRawAsync(bytes);
                    await client.ShutdownSendAsync();
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                {
                    // The server may close first: that is the point.
                }

                await client.Closed.Task.WaitAsync(RawClient.Timeout);
            }));
        }

        for (int i = 1; i <= 20; i++)
        {
            knight.X = i;
            world.Ai.Set(knight, nameof(Knight.X));
        }

        await Task.WhenAll(hostile);
        for (int i = 1; i <= 20; i++)
        {
            Assert.AreEqual(i, RawClient.ReadSetField(await bystander.NextAsync(), knight.Model).Value, "The bystander keeps getting its updates, in order.");
        }

        var newcomer = await world.ClientAsync();
        Assert.AreEqual(1, (await world.InterestAsync(newcomer, 1, 1)).Count, "The server still accepts and serves new clients.");
    }

    /// <summary>Random garbage, truncated frames, oversized lengths, and valid hellos followed by junk.</summary>
    private static byte[] HostileBytes(Random random, int kind, ulong schemaHash)
    {
        using var writer = new PooledBufferWriter();
        switch (kind % 5)
        {
            case 0:
                var junk = new byte[random.Next(1, 2000)];
                random.NextBytes(junk);
                return junk;
            case 1:
                ClientFrames.WriteHello(writer, schemaHash, "1.0.0");
                return writer.WrittenSpan.Slice(0, random.Next(1, writer.WrittenCount)).ToArray();
            case 2:
                var oversized = new byte[10];
                BinaryPrimitives.WriteUInt32LittleEndian(oversized, (uint)random.Next(5000, int.MaxValue));
                return oversized;
            case 3:
                ClientFrames.WriteHello(writer, schemaHash, "1.0.0");
                var garbage = new byte[random.Next(6, 500)];
                random.NextBytes(garbage);
                BinaryPrimitives.WriteUInt32LittleEndian(garbage, (uint)(garbage.Length - 4));
                writer.WriteRaw(garbage);
                return writer.WrittenSpan.ToArray();
            default:
                ClientFrames.WriteHello(writer, schemaHash, "1.0.0");
                int start = writer.BeginFrame(MessageType.AddInterest);
                writer.WriteUInt32(1);
                writer.WriteVarUInt32(uint.MaxValue);
                writer.EndFrame(start);
                return writer.WrittenSpan.ToArray();
        }
    }
}
