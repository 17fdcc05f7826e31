using System.Buffers;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The byte layout of every client protocol frame that <see cref="ClientFrames"/> writes, as <see cref="MessageType"/>
/// documents it: type, each field in order, and nothing after. Server, client library and tests share these writers,
/// and the end-to-end tests that read them run other processes' copies of the code, so a writer that drops or swaps a
/// field is noticed only here. (The resume frames are in <see cref="ResumeFrameLayoutTests"/>.)
/// </summary>
[TestClass]
public sealed class ClientFrameLayoutTests
{
    private static readonly DoId First = new(0x0102030405060708, 0x1112131415161718);
    private static readonly DoId Second = new(0x2122232425262728, 0x3132333435363738);

    [TestMethod]
    public void Hello_IsTheSchemaHashThenTheVersion()
    {
        var reader = Payload(MessageType.Hello, w => ClientFrames.WriteHello(w, 0xF0E0D0C0B0A09080, "2.1.0"));
        Assert.AreEqual(0xF0E0D0C0B0A09080, reader.ReadUInt64());
        Assert.AreEqual("2.1.0", reader.ReadString());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void HelloResp_IsTheServerTicksThenTheSessionId()
    {
        var reader = Payload(MessageType.HelloResp, w => ClientFrames.WriteHelloResp(w, 638_700_000_000_000_123, First));
        Assert.AreEqual(638_700_000_000_000_123, reader.ReadInt64());
        Assert.AreEqual(First, reader.ReadDoId());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void Eject_IsTheCodeThenTheReason()
    {
        var reader = Payload(MessageType.Eject, w => ClientFrames.WriteEject(w, EjectCode.WebSocketMessageTooLarge, "too large"));
        Assert.AreEqual((ushort)EjectCode.WebSocketMessageTooLarge, reader.ReadUInt16());
        Assert.AreEqual("too large", reader.ReadString());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void RequestRefused_IsTheObjectTheCodeAndTheReason()
    {
        var reader = Payload(MessageType.RequestRefused, w => ClientFrames.WriteRequestRefused(w, First, EjectCode.WebSocketTextMessage, "no AI"));
        Assert.AreEqual(First, reader.ReadDoId());
        Assert.AreEqual((ushort)EjectCode.WebSocketTextMessage, reader.ReadUInt16());
        Assert.AreEqual("no AI", reader.ReadString());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void Heartbeat_AndDisconnect_HaveNoPayload()
    {
        Payload(MessageType.Heartbeat, w => ClientFrames.WriteEmpty(w, MessageType.Heartbeat)).EnsureAtEnd();
        Payload(MessageType.Disconnect, w => ClientFrames.WriteEmpty(w, MessageType.Disconnect)).EnsureAtEnd();
    }

    [TestMethod]
    public void ClockSync_FromTheClient_IsItsTicks_AndTheAnswerAddsTheServers()
    {
        var ask = Payload(MessageType.ClockSync, w => ClientFrames.WriteClockSync(w, 111));
        Assert.AreEqual(111, ask.ReadInt64());
        ask.EnsureAtEnd();

        var answer = Payload(MessageType.ClockSync, w => ClientFrames.WriteClockSync(w, 111, -222));
        Assert.AreEqual(111, answer.ReadInt64());
        Assert.AreEqual(-222, answer.ReadInt64());
        answer.EnsureAtEnd();
    }

    [TestMethod]
    public void AddInterest_IsTheContextTheParentAndTheCountedZones()
    {
        var reader = Payload(MessageType.AddInterest, w => ClientFrames.WriteAddInterest(w, 77, First, new uint[] { 5, 0xFFFFFFFF, 9 }));
        Assert.AreEqual(77u, reader.ReadUInt32());
        Assert.AreEqual(First, reader.ReadDoId());
        Assert.AreEqual(3u, reader.ReadVarUInt32());
        Assert.AreEqual(5u, reader.ReadUInt32());
        Assert.AreEqual(0xFFFFFFFFu, reader.ReadUInt32());
        Assert.AreEqual(9u, reader.ReadUInt32());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    [DataRow(MessageType.RemoveInterest)]
    [DataRow(MessageType.InterestDone)]
    public void RemoveInterest_AndInterestDone_AreTheContextOnly(MessageType type)
    {
        var reader = Payload(type, w => ClientFrames.WriteContext(w, type, 0xA1B2C3D4));
        Assert.AreEqual(0xA1B2C3D4u, reader.ReadUInt32());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    [DataRow((byte)1, DisplayName = "Disabled")]
    [DataRow((byte)2, DisplayName = "Deleted")]
    public void LeaveObject_IsTheObjectThenTheReasonByte(byte reasonByte)
    {
        var reason = (LeaveReason)reasonByte;
        Assert.IsTrue(Enum.IsDefined(reason));
        var reader = Payload(MessageType.LeaveObject, w => ClientFrames.WriteLeaveObject(w, First, reason));
        Assert.AreEqual(First, reader.ReadDoId());
        Assert.AreEqual((byte)reason, reader.ReadByte());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void Location_IsTheObjectTheParentAndTheZone()
    {
        var reader = Payload(MessageType.Location, w => ClientFrames.WriteLocation(w, First, Second, 4242));
        Assert.AreEqual(First, reader.ReadDoId());
        Assert.AreEqual(Second, reader.ReadDoId());
        Assert.AreEqual(4242u, reader.ReadUInt32());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void SetField_IsTheObjectTheFieldsWireIdAndItsValue()
    {
        var gold = (FieldDescriptor<int>)ModelInfo.For<Goblin>().GetField(nameof(Goblin.Gold));
        var reader = Payload(MessageType.SetField, w => ClientFrames.WriteSetField(w, First, gold, 123_456));
        Assert.AreEqual(First, reader.ReadDoId());
        Assert.AreEqual(gold.WireId, reader.ReadUInt16());
        Assert.AreEqual(123_456, reader.ReadInt32());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void CallMethod_IsTheObjectTheMethodsWireIdAndItsArgumentsInOrder()
    {
        var taunt = ModelInfo.For<Goblin>().GetMethod(nameof(Goblin.Taunt));
        var reader = Payload(MessageType.CallMethod, w => ClientFrames.WriteCallMethod(w, Second, taunt, new object?[] { "Oi", 3 }));
        Assert.AreEqual(Second, reader.ReadDoId());
        Assert.AreEqual(taunt.WireId, reader.ReadUInt16());
        Assert.AreEqual("Oi", reader.ReadString());
        Assert.AreEqual(3, reader.ReadInt32());
        reader.EnsureAtEnd();
    }

    [TestMethod]
    public void FramesWrittenOneAfterAnother_EachCarryTheirOwnLength()
    {
        using var writer = new PooledBufferWriter();
        ClientFrames.WriteEject(writer, EjectCode.WebSocketTextMessage, "a");
        ClientFrames.WriteEmpty(writer, MessageType.Heartbeat);
        ClientFrames.WriteLocation(writer, First, Second, 1);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenSpan.ToArray());
        var types = new List<MessageType>();
        while (Frame.TryRead(ref buffer, Frame.DefaultMaxSize, out ushort type, out _, out _) == FrameStatus.Complete)
        {
            types.Add((MessageType)type);
        }

        CollectionAssert.AreEqual(new[] { MessageType.Eject, MessageType.Heartbeat, MessageType.Location }, types);
        Assert.AreEqual(0, buffer.Length);
    }

    private static WireReader Payload(MessageType expected, Action<PooledBufferWriter> write)
    {
        using var writer = new PooledBufferWriter();
        write(writer);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenSpan.ToArray());
        Assert.AreEqual(FrameStatus.Complete, Frame.TryRead(ref buffer, Frame.DefaultMaxSize, out ushort type, out var payload, out _));
        Assert.AreEqual(0, buffer.Length, "one frame, nothing after it: its length covers exactly what was written");
        Assert.AreEqual(expected, (MessageType)type);
        return new WireReader(payload.ToArray());
    }
}
