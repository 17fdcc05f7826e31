using System.Runtime;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.Diagnostics;

/// <summary>
/// The diagnostics role of an OTP process: answers <see cref="InternalMessageType.MemoryQuery"/> from privileged
/// participants (AIs and tools on the Message Director) with the process's memory. Clients cannot reach it: the
/// Client Agent never routes client messages to role channels.
/// </summary>
internal sealed class DiagnosticsRole : IParticipant
{
    private readonly IMessageRouter router;
    private readonly ILogger logger;

    /// <summary>Creates the role; call <see cref="Start"/> to subscribe it.</summary>
    public DiagnosticsRole(IMessageRouter router, ILogger logger)
    {
        this.router = router;
        this.logger = logger;
    }

    /// <inheritdoc />
    public string Name => "diagnostics";

    /// <summary>Subscribes to <see cref="Channel.Diagnostics"/>.</summary>
    public void Start() => router.Subscribe(this, Channel.Diagnostics);

    /// <summary>Unsubscribes.</summary>
    public void Stop() => router.UnsubscribeAll(this);

    /// <inheritdoc />
    public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        if (envelope.Type != InternalMessageType.MemoryQuery)
        {
            logger.LogDebug("Diagnostics ignores {Envelope}", envelope);
            return;
        }

        // A collection blocks; Deliver runs on the publisher's thread, so answer from the thread pool.
        _ = Task.Run(() => Answer(envelope));
    }

    private void Answer(Envelope query)
    {
        try
        {
            var reader = new WireReader(query.Payload.Span);
            bool collect = reader.ReadBool();
            reader.EnsureAtEnd();
            if (collect)
            {
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }

            using var writer = new PooledBufferWriter(64);
            writer.WriteInt64(GC.GetTotalMemory(forceFullCollection: false));
            writer.WriteInt64(GC.GetGCMemoryInfo().TotalCommittedBytes);
            writer.WriteInt64(Environment.WorkingSet);
            writer.WriteInt32(GC.CollectionCount(0));
            writer.WriteInt32(GC.CollectionCount(1));
            writer.WriteInt32(GC.CollectionCount(2));
            logger.LogDebug("Memory report for {Sender} (collect: {Collect})", query.Sender, collect);
            router.Publish(new Envelope(InternalMessageType.MemoryReport, Channel.Diagnostics, DoId.Empty, writer.WrittenSpan.ToArray()), query.Sender);
        }
        catch (WireFormatException ex)
        {
            logger.LogWarning("Diagnostics refused a malformed {Type} from {Sender}: {Message}", query.Type, query.Sender, ex.Message);
        }
    }
}
