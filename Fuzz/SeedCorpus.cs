using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Fuzz;

/// <summary>
/// Writes the seed corpus: well-formed inputs for each target, made with the same writers the servers use, so that
/// the fuzzer starts from messages that get deep into the decoders. Checked in under <c>Fuzz/corpus/&lt;target&gt;/</c>.
/// </summary>
public static class SeedCorpus
{
    public static void Write(string root)
    {
        var registry = ModelRegistry.FromTypes(new[] { typeof(FuzzModel), typeof(LoginManager) });
        var model = registry.GetModel<FuzzModel>();
        var id = DoId.Parse("0190f5a2-0000-7000-8000-000000000001");
        using var w = new PooledBufferWriter(256);

        void Save(string target, string name)
        {
            string directory = Path.Combine(root, target);
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(Path.Combine(directory, name), w.WrittenSpan.ToArray());
            w.Reset();
        }

        ClientFrames.WriteHello(w, registry.SchemaHash, "1.0.0");
        Save("client-frames", "hello");
        ClientFrames.WriteClockSync(w, 638_000_000_000_000_000);
        ClientFrames.WriteAddInterest(w, 1, id, new uint[] { 1, 2, 3 });
        ClientFrames.WriteContext(w, MessageType.RemoveInterest, 1);
        Save("client-frames", "interest");
        ClientFrames.WriteSetField(w, id, (FieldDescriptor<string>)model.GetField(nameof(FuzzModel.Text)), "hello");
        ClientFrames.WriteSetField(w, id, (FieldDescriptor<float[]>)model.GetField(nameof(FuzzModel.Position)), new[] { 1f, 2f });
        ClientFrames.WriteSetField(w, id, (FieldDescriptor<DateTime>)model.GetField(nameof(FuzzModel.When)), new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        Save("client-frames", "set-fields");
        ClientFrames.WriteCallMethod(w, id, model.GetMethod(nameof(FuzzModel.Say)), new object?[] { "hi", 3 });
        ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, registry.GetModel<LoginManager>().GetMethod(nameof(LoginManager.Login)), new object?[] { "ann", "a long password" });
        Save("client-frames", "calls");

        var sender = Channel.ForParticipant(id);
        var envelope = new Envelope(InternalMessageType.ClientSetField, sender, id, new byte[] { 1, 2, 3, 4 });
        envelope.Write(w, new[] { Channel.StateServer, Channel.ForLocation(id, 7) });
        Save("md-link", "envelope");
        var control = w.BeginFrame((MessageType)(ushort)InternalMessageType.AddChannel);
        Channel.ForSession(id).Write(w);
        w.EndFrame(control);
        var post = w.BeginFrame((MessageType)(ushort)InternalMessageType.AddPostRemove);
        w.WriteUInt16((ushort)InternalMessageType.DeleteObject);
        envelope.WriteBody(w, new[] { Channel.StateServer });
        w.EndFrame(post);
        Save("md-link", "control");
        var handshake = w.BeginFrame((MessageType)(ushort)InternalMessageType.LinkAuthenticate);
        w.WriteUInt16(LinkHandshake.ProtocolVersion);
        w.WriteBool(false);
        w.WriteRaw(new byte[LinkHandshake.NonceSize]);
        w.WriteBytes(new byte[32]);
        w.EndFrame(handshake);
        Save("md-link", "handshake");

        var sample = new FuzzModel
        {
            Number = 42, Big = -1L << 40, Single = 1.5f, Double = -2.25, Flag = true, Text = "héllo", Bytes = new byte[] { 0, 255, 7 },
            When = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), Other = id, Position = new[] { 1f, -2f, 3f },
            Lines = new[] { "a", "bc" }, Friends = new[] { id, DoId.Empty }, Times = new[] { DateTime.UnixEpoch },
        };
        for (int i = 0; i < model.Fields.Count; i++)
        {
            var field = model.Fields[i];
            w.WriteRaw(new[] { (byte)i });
            field.Codec.WriteBoxed(w, field.GetBoxed(sample));
            field.Codec.WriteBoxed(w, field.Codec.DefaultBoxed);
            Save("values", field.Name);
        }
    }
}
