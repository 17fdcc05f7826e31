using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>The client's batching writer: appends never wait for the socket; Complete ends the loop without cancelling it.</summary>
[TestClass]
public sealed class FrameSenderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task Complete_EndsTheLoopAfterWritingEverythingAppended()
    {
        using var sender = new FrameSender();
        using var stream = new MemoryStream();
        sender.Append(static w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
        sender.Append(static w => ClientFrames.WriteEmpty(w, MessageType.Disconnect));
        sender.Complete();

        await sender.RunAsync(stream, CancellationToken.None).WaitAsync(Timeout);

        // Two empty frames: uint32 length (2) and uint16 type each.
        Assert.AreEqual(2 * Frame.HeaderSize, stream.Length);
    }

    [TestMethod]
    public async Task Complete_WhileTheLoopWaits_EndsItWithoutAnException()
    {
        using var sender = new FrameSender();
        using var stream = new MemoryStream();
        var loop = sender.RunAsync(stream, CancellationToken.None);
        sender.Append(static w => ClientFrames.WriteEmpty(w, MessageType.Disconnect));
        sender.Complete();

        await loop.WaitAsync(Timeout);

        Assert.IsTrue(loop.IsCompletedSuccessfully);
        Assert.AreEqual(Frame.HeaderSize, stream.Length);
    }

    [TestMethod]
    public void Append_AfterComplete_Throws()
    {
        using var sender = new FrameSender();
        sender.Complete();

        Assert.ThrowsExactly<ObjectDisposedException>(() => sender.Append(static w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat)));
    }
}
