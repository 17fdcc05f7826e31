using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Otp.Diagnostics;
using Pastry.Otp.MessageDirector;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class DiagnosticsRoleTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(30));

    [TestMethod]
    public async Task MemoryQuery_IsAnsweredToTheSender_WithTheProcessMemory()
    {
        var router = new InProcessRouter();
        var role = new DiagnosticsRole(router, NullLogger.Instance);
        role.Start();
        var tool = new Inbox();
        var channel = Channel.ForParticipant(new DoId(0, 0x7001));
        router.Subscribe(tool, channel);

        router.Publish(InternalMessages.MemoryQuery(collect: true, channel), Channel.Diagnostics);

        var report = await tool.Received.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.AreEqual(InternalMessageType.MemoryReport, report.Type);
        Assert.AreEqual(Channel.Diagnostics, report.Sender);
        var reader = new WireReader(report.Payload.Span);
        long managed = reader.ReadInt64();
        long committed = reader.ReadInt64();
        long workingSet = reader.ReadInt64();
        int gen0 = reader.ReadInt32();
        int gen1 = reader.ReadInt32();
        int gen2 = reader.ReadInt32();
        reader.EnsureAtEnd();
        Assert.IsTrue(managed > 0 && committed >= managed / 2 && workingSet > managed, $"managed {managed}, committed {committed}, working set {workingSet}");
        Assert.IsTrue(gen2 >= 1 && gen1 >= gen2 && gen0 >= gen1, "the query asked for a full collection");
        role.Stop();
    }

    private sealed class Inbox : IParticipant
    {
        public System.Threading.Channels.Channel<Envelope> Received { get; } = System.Threading.Channels.Channel.CreateUnbounded<Envelope>();

        public string Name => "tool";

        public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets) => Received.Writer.TryWrite(envelope);
    }
}
