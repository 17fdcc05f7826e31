using System.Buffers;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The resume frames' byte layouts, as MessageType documents them. Server and client share these writers; the
/// resume itself is tested over real processes (EndToEnd/ResumeTests), which load their own copies of the code, so
/// only a layout test in this process notices a writer that drops or reorders a field.
/// </summary>
[TestClass]
public sealed class ResumeFrameLayoutTests
{
    private static readonly DoId Account = new(0x0102030405060708, 0x1112131415161718);

    private static (MessageType Type, byte[] Payload) OneFrame(Action<PooledBufferWriter> write)
    {
        using var writer = new PooledBufferWriter();
        write(writer);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenSpan.ToArray());
        Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, Frame.DefaultMaxSize, out ushort type, out var payload, out _));
        Assert.AreEqual(0, buffer.Length, "one frame, nothing after it");
        return ((MessageType)type, payload.ToArray());
    }

    [TestMethod]
    public void ResumeToken_IsTheTokenThenTheGraceMilliseconds()
    {
        var (type, payload) = OneFrame(w => ClientFrames.WriteResumeToken(w, new byte[] { 1, 2, 3 }, 30_000));
        Assert.AreEqual(MessageType.ResumeToken, type);
        var reader = new WireReader(payload);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, reader.ReadBytes());
        Assert.AreEqual(30_000u, reader.ReadUInt32());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void Resume_IsSchemaHashVersionAccountTokenAndReceivedBytes_InThatOrder()
    {
        var (type, payload) = OneFrame(w => ClientFrames.WriteResume(w, 0xAABBCCDDEEFF0011, "1.2.3", Account, new byte[] { 9, 8 }, 123_456_789_012));
        Assert.AreEqual(MessageType.Resume, type);
        var reader = new WireReader(payload);
        Assert.AreEqual(0xAABBCCDDEEFF0011, reader.ReadUInt64());
        Assert.AreEqual("1.2.3", reader.ReadString());
        Assert.AreEqual(Account, reader.ReadDoId());
        CollectionAssert.AreEqual(new byte[] { 9, 8 }, reader.ReadBytes());
        Assert.AreEqual(123_456_789_012, reader.ReadInt64());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    [DataRow(ResumeStatus.Ok, "", false)]
    [DataRow(ResumeStatus.ServerRestarted, "the server restarted; log in again", true)]
    [DataRow(ResumeStatus.InvalidToken, "bad token", false)]
    public void ResumeResp_IsStatusReasonAndMode_OneMeaningAFreshSnapshot(ResumeStatus status, string reason, bool snapshot)
    {
        var (type, payload) = OneFrame(w => ClientFrames.WriteResumeResp(w, status, reason, snapshot));
        Assert.AreEqual(MessageType.ResumeResp, type);
        var reader = new WireReader(payload);
        Assert.AreEqual((byte)status, reader.ReadByte());
        Assert.AreEqual(reason, reader.ReadString());
        Assert.AreEqual(snapshot ? (byte)1 : (byte)0, reader.ReadByte());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void ArrayValues_PrintAsABracketedCommaList_ForLogs_AndBoolsAsWords()
    {
        Assert.AreEqual("[1, 2, 3]", ValueCodecs.Get<int[]>().Format([1, 2, 3]));
        Assert.AreEqual("[]", ValueCodecs.Get<int[]>().Format([]));
        Assert.AreEqual("[\"a\", \"b\"]", ValueCodecs.Get<string[]>().Format(["a", "b"]));
        Assert.AreEqual("[true, false]", ValueCodecs.Get<bool[]>().Format([true, false]));
        Assert.AreEqual("null", ValueCodecs.Get<bool>().FormatBoxed(null));
    }
}
