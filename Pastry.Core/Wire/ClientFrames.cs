namespace Pastry.Wire;

/// <summary>Why an object left a client's view.</summary>
internal enum LeaveReason : byte
{
    /// <summary>It left the client's interest; the server still has it.</summary>
    Disabled = 1,

    /// <summary>It was destroyed on the server.</summary>
    Deleted = 2,
}

/// <summary>
/// Writers for the fixed-layout client protocol frames of ARCHITECTURE 3 (see <see cref="MessageType"/> for every
/// layout). Server, client library and tests share them, so the two sides cannot drift apart.
/// </summary>
internal static class ClientFrames
{
    /// <summary><c>Hello(schemaHash, version)</c>.</summary>
    public static void WriteHello(PooledBufferWriter writer, ulong schemaHash, string version)
    {
        int start = writer.BeginFrame(MessageType.Hello);
        writer.WriteUInt64(schemaHash);
        writer.WriteString(version);
        writer.EndFrame(start);
    }

    /// <summary><c>HelloResp(serverTicks, sessionId)</c>.</summary>
    public static void WriteHelloResp(PooledBufferWriter writer, long serverTicks, DoId sessionId)
    {
        int start = writer.BeginFrame(MessageType.HelloResp);
        writer.WriteInt64(serverTicks);
        writer.WriteDoId(sessionId);
        writer.EndFrame(start);
    }

    /// <summary><c>Eject(code, reason)</c>.</summary>
    public static void WriteEject(PooledBufferWriter writer, EjectCode code, string reason)
    {
        int start = writer.BeginFrame(MessageType.Eject);
        writer.WriteUInt16((ushort)code);
        writer.WriteString(reason);
        writer.EndFrame(start);
    }

    /// <summary><c>RequestRefused(doid, code, reason)</c>: a set or call on <paramref name="doId"/> that no AI will handle.</summary>
    public static void WriteRequestRefused(PooledBufferWriter writer, DoId doId, EjectCode code, string reason)
    {
        int start = writer.BeginFrame(MessageType.RequestRefused);
        writer.WriteDoId(doId);
        writer.WriteUInt16((ushort)code);
        writer.WriteString(reason);
        writer.EndFrame(start);
    }

    /// <summary>A message with no payload (Heartbeat, Disconnect).</summary>
    public static void WriteEmpty(PooledBufferWriter writer, MessageType type) => writer.EndFrame(writer.BeginFrame(type));

    /// <summary><c>ClockSync(clientTicks)</c> from the client, or <c>ClockSync(clientTicks, serverTicks)</c> back.</summary>
    public static void WriteClockSync(PooledBufferWriter writer, long clientTicks, long? serverTicks = null)
    {
        int start = writer.BeginFrame(MessageType.ClockSync);
        writer.WriteInt64(clientTicks);
        if (serverTicks is long ticks)
        {
            writer.WriteInt64(ticks);
        }

        writer.EndFrame(start);
    }

    /// <summary><c>AddInterest(context, parent, zones)</c>.</summary>
    public static void WriteAddInterest(PooledBufferWriter writer, uint context, DoId parent, ReadOnlySpan<uint> zones)
    {
        int start = writer.BeginFrame(MessageType.AddInterest);
        writer.WriteUInt32(context);
        writer.WriteDoId(parent);
        writer.WriteVarUInt32((uint)zones.Length);
        foreach (uint zone in zones)
        {
            writer.WriteUInt32(zone);
        }

        writer.EndFrame(start);
    }

    /// <summary><c>RemoveInterest(context)</c> or <c>InterestDone(context)</c>.</summary>
    public static void WriteContext(PooledBufferWriter writer, MessageType type, uint context)
    {
        int start = writer.BeginFrame(type);
        writer.WriteUInt32(context);
        writer.EndFrame(start);
    }

    /// <summary><c>LeaveObject(doid, reason)</c>.</summary>
    public static void WriteLeaveObject(PooledBufferWriter writer, DoId doId, LeaveReason reason)
    {
        int start = writer.BeginFrame(MessageType.LeaveObject);
        writer.WriteDoId(doId);
        writer.WriteByte((byte)reason);
        writer.EndFrame(start);
    }

    /// <summary><c>Location(doid, parent, zone)</c>.</summary>
    public static void WriteLocation(PooledBufferWriter writer, DoId doId, DoId parent, uint zone)
    {
        int start = writer.BeginFrame(MessageType.Location);
        writer.WriteDoId(doId);
        writer.WriteDoId(parent);
        writer.WriteUInt32(zone);
        writer.EndFrame(start);
    }

    /// <summary><c>SetField(doid, field, value)</c> for a typed value.</summary>
    public static void WriteSetField<TValue>(PooledBufferWriter writer, DoId doId, FieldDescriptor<TValue> field, TValue value)
    {
        int start = writer.BeginFrame(MessageType.SetField);
        writer.WriteDoId(doId);
        writer.WriteUInt16(field.WireId);
        field.TypedCodec.Write(writer, value);
        writer.EndFrame(start);
    }

    /// <summary><c>CallMethod(doid, method, arguments)</c>.</summary>
    public static void WriteCallMethod(PooledBufferWriter writer, DoId doId, MethodDescriptor method, object?[] arguments)
    {
        int start = writer.BeginFrame(MessageType.CallMethod);
        writer.WriteDoId(doId);
        writer.WriteUInt16(method.WireId);
        method.EncodeArguments(writer, arguments);
        writer.EndFrame(start);
    }

    /// <summary><c>ResumeToken(token, graceMs)</c>.</summary>
    public static void WriteResumeToken(PooledBufferWriter writer, ReadOnlySpan<byte> token, uint graceMs)
    {
        int start = writer.BeginFrame(MessageType.ResumeToken);
        writer.WriteBytes(token);
        writer.WriteUInt32(graceMs);
        writer.EndFrame(start);
    }

    /// <summary><c>Resume(schemaHash, version, account, token, receivedBytes)</c>.</summary>
    public static void WriteResume(PooledBufferWriter writer, ulong schemaHash, string version, DoId account, ReadOnlySpan<byte> token, long receivedBytes)
    {
        int start = writer.BeginFrame(MessageType.Resume);
        writer.WriteUInt64(schemaHash);
        writer.WriteString(version);
        writer.WriteDoId(account);
        writer.WriteBytes(token);
        writer.WriteInt64(receivedBytes);
        writer.EndFrame(start);
    }

    /// <summary><c>ResumeResp(status, reason, mode)</c>; mode 0 replays what the client missed, 1 sends a fresh snapshot.</summary>
    public static void WriteResumeResp(PooledBufferWriter writer, ResumeStatus status, string reason, bool snapshot)
    {
        int start = writer.BeginFrame(MessageType.ResumeResp);
        writer.WriteByte((byte)status);
        writer.WriteString(reason);
        writer.WriteByte(snapshot ? (byte)1 : (byte)0);
        writer.EndFrame(start);
    }
}
