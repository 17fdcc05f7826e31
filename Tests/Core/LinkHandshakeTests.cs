using System.Buffers.Binary;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// The Message Director link handshake's own bounds and proofs (ARCHITECTURE 4, "a trust boundary"): what an
/// unauthenticated peer may make either side buffer, and which inputs a proof depends on. The process-level refusals
/// (360, 361, 364) are in Otp/MessageDirectorLinkAuthenticationTests.
/// </summary>
[TestClass]
public sealed class LinkHandshakeTests
{
    private static readonly byte[] DirectorNonce = Enumerable.Range(1, LinkHandshake.NonceSize).Select(i => (byte)i).ToArray();
    private static readonly byte[] LinkNonce = Enumerable.Range(100, LinkHandshake.NonceSize).Select(i => (byte)i).ToArray();

    private static byte[] Header(uint length, ushort type)
    {
        var header = new byte[Frame.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, length);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(Frame.LengthSize), type);
        return header;
    }

    private static async Task<(InternalMessageType Type, byte[] Payload)> ReadFrame(Stream stream)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await LinkHandshake.ReadFrameAsync(stream, cancel.Token);
    }

    [TestMethod]
    public async Task ReadFrame_TakesAFrameOfExactlyTheLimit_AndAnEmptyPayload()
    {
        int payloadBytes = LinkHandshake.MaxFrameBytes - 2;
        var payload = Enumerable.Range(0, payloadBytes).Select(i => (byte)i).ToArray();
        var largest = Header(LinkHandshake.MaxFrameBytes, (ushort)InternalMessageType.LinkAuthenticate).Concat(payload);
        var (type, read) = await ReadFrame(new MemoryStream(largest.ToArray()));
        Assert.AreEqual(InternalMessageType.LinkAuthenticate, type);
        CollectionAssert.AreEqual(payload, read);

        var (emptyType, empty) = await ReadFrame(new MemoryStream(Header(2, (ushort)InternalMessageType.LinkChallenge)));
        Assert.AreEqual(InternalMessageType.LinkChallenge, emptyType);
        Assert.AreEqual(0, empty.Length);
    }

    [TestMethod]
    [DataRow((uint)(LinkHandshake.MaxFrameBytes + 1))]
    [DataRow(1u)]
    [DataRow(0u)]
    [DataRow(uint.MaxValue)]
    public async Task ReadFrame_RefusesALengthOutsideTwoToTheLimit_BeforeReadingThePayload(uint length)
    {
        // Only the header is there: a reader that trusted the length would wait for (or allocate) the payload.
        var error = await Assert.ThrowsExactlyAsync<WireFormatException>(() => ReadFrame(new MemoryStream(Header(length, 1))));
        Assert.AreEqual(WireError.LengthOutOfRange, error.Error);
        StringAssert.Contains(error.Message, $"handshake frame of {length} bytes (at most {LinkHandshake.MaxFrameBytes})");
    }

    [TestMethod]
    public async Task ReadFrame_AssemblesAFrameThatArrivesOneByteAtATime()
    {
        var payload = new byte[] { 7, 8, 9 };
        var bytes = Header(5, (ushort)InternalMessageType.LinkWelcome).Concat(payload).ToArray();
        var (type, read) = await ReadFrame(new OneByteAtATimeStream(bytes));
        Assert.AreEqual(InternalMessageType.LinkWelcome, type);
        CollectionAssert.AreEqual(payload, read);
    }

    [TestMethod]
    public async Task ReadFrame_APeerThatClosesInTheHeaderOrThePayload_IsEndOfStream()
    {
        var halfHeader = Header(5, 1).AsSpan(0, 3).ToArray();
        await Assert.ThrowsExactlyAsync<EndOfStreamException>(() => ReadFrame(new OneByteAtATimeStream(halfHeader)));

        var shortPayload = Header(5, 1).Concat(new byte[] { 1, 2 }).ToArray();
        await Assert.ThrowsExactlyAsync<EndOfStreamException>(() => ReadFrame(new OneByteAtATimeStream(shortPayload)));
    }

    [TestMethod]
    public async Task WriteFrame_WritesTheHeaderAndPayload_ThatReadFrameReadsBack()
    {
        var stream = new MemoryStream();
        await LinkHandshake.WriteFrameAsync(stream, InternalMessageType.LinkRefused, w => w.WriteRaw(new byte[] { 4, 5 }), CancellationToken.None);
        CollectionAssert.AreEqual(Header(4, (ushort)InternalMessageType.LinkRefused).Concat(new byte[] { 4, 5 }).ToArray(), stream.ToArray());
    }

    [TestMethod]
    public void ReadAuthenticate_ReadsEachPart_AndRefusesTrailingOrMissingBytes()
    {
        var payload = AuthenticatePayload(extra: []);
        var (version, privileged, nonce, proof) = LinkHandshake.ReadAuthenticate(payload);
        Assert.AreEqual((ushort)0x0102, version);
        Assert.IsTrue(privileged);
        CollectionAssert.AreEqual(LinkNonce, nonce);
        CollectionAssert.AreEqual(new byte[] { 9, 9, 9 }, proof);

        var trailing = Assert.ThrowsExactly<WireFormatException>(() => { _ = LinkHandshake.ReadAuthenticate(AuthenticatePayload(extra: [0])); });
        Assert.AreEqual(WireError.TrailingBytes, trailing.Error);
        var truncated = Assert.ThrowsExactly<WireFormatException>(() => { _ = LinkHandshake.ReadAuthenticate(payload.AsSpan(0, 2 + 1 + LinkHandshake.NonceSize - 1)); });
        Assert.AreEqual(WireError.Truncated, truncated.Error);
    }

    [TestMethod]
    public void ProofMatches_OnlyTheSameBytes_NotAPrefixNorALongerOne()
    {
        var proof = LinkHandshake.LinkProof("secret", 1, false, DirectorNonce, LinkNonce);
        Assert.AreEqual(32, proof.Length);
        Assert.IsTrue(LinkHandshake.ProofMatches(proof, proof.ToArray()));
        Assert.IsFalse(LinkHandshake.ProofMatches(proof.AsSpan(0, 31), proof), "a prefix of the proof");
        Assert.IsFalse(LinkHandshake.ProofMatches(proof.Concat(new byte[] { 0 }).ToArray(), proof), "the proof and one byte more");
        Assert.IsFalse(LinkHandshake.ProofMatches([], proof));
        var flipped = proof.ToArray();
        flipped[31] ^= 1;
        Assert.IsFalse(LinkHandshake.ProofMatches(flipped, proof));
    }

    [TestMethod]
    public void AProof_DependsOnTheSecret_TheVersion_ThePrivilege_BothNonces_AndWhichSideMadeIt()
    {
        var proof = Hex.Format(LinkHandshake.LinkProof("secret", 1, false, DirectorNonce, LinkNonce));
        Assert.AreEqual(proof, Hex.Format(LinkHandshake.LinkProof("secret", 1, false, DirectorNonce, LinkNonce)), "deterministic");
        var others = new[]
        {
            LinkHandshake.LinkProof("Secret", 1, false, DirectorNonce, LinkNonce),
            LinkHandshake.LinkProof("secret", 2, false, DirectorNonce, LinkNonce),
            LinkHandshake.LinkProof("secret", 256, false, DirectorNonce, LinkNonce),
            LinkHandshake.LinkProof("secret", 1, true, DirectorNonce, LinkNonce),
            LinkHandshake.LinkProof("secret", 1, false, LinkNonce, DirectorNonce),
            LinkHandshake.LinkProof("secret", 1, false, DirectorNonce, DirectorNonce),
            LinkHandshake.LinkProof("secret", 1, false, LinkNonce, LinkNonce),
            LinkHandshake.DirectorProof("secret", 1, false, DirectorNonce, LinkNonce),
        }.Select(p => Hex.Format(p)).ToList();
        Assert.AreEqual(others.Count + 1, others.Append(proof).Distinct().Count(), string.Join("\n", others));
    }

    [TestMethod]
    public void TheProofs_AreTheDocumentedHmac_SoThatALinkOfAnotherBuildOrLanguageCanComputeThem()
    {
        // HMAC-SHA256(secret, label | version (uint16 LE) | privileged (1 byte) | first nonce | second nonce): the link
        // puts the director's nonce first, the director its link's nonce first, each under its own label.
        static byte[] Expected(string label, ushort version, bool privileged, byte[] first, byte[] second)
        {
            var data = new List<byte>(System.Text.Encoding.ASCII.GetBytes(label));
            data.AddRange(BitConverter.IsLittleEndian ? BitConverter.GetBytes(version) : BitConverter.GetBytes(version).Reverse());
            data.Add(privileged ? (byte)1 : (byte)0);
            data.AddRange(first);
            data.AddRange(second);
            using var hmac = new System.Security.Cryptography.HMACSHA256(System.Text.Encoding.UTF8.GetBytes("sëcret"));
            return hmac.ComputeHash(data.ToArray());
        }

        CollectionAssert.AreEqual(
            Expected("pastry md link: link proof", 0x0102, true, DirectorNonce, LinkNonce),
            LinkHandshake.LinkProof("sëcret", 0x0102, true, DirectorNonce, LinkNonce));
        CollectionAssert.AreEqual(
            Expected("pastry md link: director proof", 1, false, LinkNonce, DirectorNonce),
            LinkHandshake.DirectorProof("sëcret", 1, false, DirectorNonce, LinkNonce));
    }

    [TestMethod]
    public void NewNonce_IsNonceSizeFreshBytes()
    {
        var first = LinkHandshake.NewNonce();
        var second = LinkHandshake.NewNonce();
        Assert.AreEqual(LinkHandshake.NonceSize, first.Length);
        Assert.AreEqual(LinkHandshake.NonceSize, second.Length);
        CollectionAssert.AreNotEqual(first, second);
    }

    private static byte[] AuthenticatePayload(byte[] extra)
    {
        using var writer = new PooledBufferWriter();
        writer.WriteUInt16(0x0102);
        writer.WriteBool(true);
        writer.WriteRaw(LinkNonce);
        writer.WriteBytes(new byte[] { 9, 9, 9 });
        writer.WriteRaw(extra);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A stream that hands out one byte per read, as a slow peer's TCP segments would.</summary>
    private sealed class OneByteAtATimeStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }
}
