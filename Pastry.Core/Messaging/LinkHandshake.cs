using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Pastry.Wire;

namespace Pastry.Messaging;

/// <summary>
/// The first exchange on a Message Director link (ARCHITECTURE 4, "a trust boundary"): the MD sends
/// <see cref="InternalMessageType.LinkChallenge"/> with a fresh nonce, the link answers
/// <see cref="InternalMessageType.LinkAuthenticate"/> with its own nonce and an HMAC-SHA256 proof keyed by the shared
/// secret, and the MD answers <see cref="InternalMessageType.LinkWelcome"/> (with its own proof, so the link knows it
/// talks to the real MD) or <see cref="InternalMessageType.LinkRefused"/>. The secret never travels; both nonces are
/// in every proof, so a recorded handshake cannot be replayed. Proofs are compared in constant time.
/// </summary>
internal static class LinkHandshake
{
    /// <summary>The link protocol version; a link of another version is refused with <see cref="EjectCode.LinkVersionMismatch"/>.</summary>
    public const ushort ProtocolVersion = 1;

    /// <summary>Bytes of each side's nonce.</summary>
    public const int NonceSize = 32;

    /// <summary>The largest handshake frame either side accepts, so that an unauthenticated peer cannot make it buffer more.</summary>
    public const int MaxFrameBytes = 1024;

    private static readonly byte[] LinkLabel = Encoding.ASCII.GetBytes("pastry md link: link proof");
    private static readonly byte[] DirectorLabel = Encoding.ASCII.GetBytes("pastry md link: director proof");

    /// <summary>A fresh random nonce.</summary>
    public static byte[] NewNonce()
    {
        var nonce = new byte[NonceSize];
        RandomNumberGenerator.Fill(nonce);
        return nonce;
    }

    /// <summary>The link's proof: HMAC-SHA256(secret, label | version | privileged | director nonce | link nonce).</summary>
    public static byte[] LinkProof(string secret, ushort version, bool privileged, ReadOnlySpan<byte> directorNonce, ReadOnlySpan<byte> linkNonce) =>
        Proof(secret, LinkLabel, version, privileged, directorNonce, linkNonce);

    /// <summary>The Message Director's proof: the same inputs under another label and in the other nonce order.</summary>
    public static byte[] DirectorProof(string secret, ushort version, bool privileged, ReadOnlySpan<byte> directorNonce, ReadOnlySpan<byte> linkNonce) =>
        Proof(secret, DirectorLabel, version, privileged, linkNonce, directorNonce);

    /// <summary>Whether <paramref name="proof"/> equals <paramref name="expected"/>, in time that does not depend on where they differ.</summary>
    public static bool ProofMatches(ReadOnlySpan<byte> proof, ReadOnlySpan<byte> expected) =>
        proof.Length == expected.Length && CryptographicOperations.FixedTimeEquals(proof, expected);

    /// <summary>
    /// Reads a <see cref="InternalMessageType.LinkAuthenticate"/> payload: <c>version: uint16, privileged: bool, nonce:
    /// 32 bytes, proof: bytes</c>, with nothing after it.
    /// </summary>
    /// <exception cref="WireFormatException">The payload is truncated, too long or malformed.</exception>
    public static (ushort Version, bool Privileged, byte[] Nonce, byte[] Proof) ReadAuthenticate(ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload);
        ushort version = reader.ReadUInt16();
        bool privileged = reader.ReadBool();
        byte[] nonce = reader.ReadRaw(NonceSize).ToArray();
        byte[] proof = reader.ReadBytes();
        reader.EnsureAtEnd();
        return (version, privileged, nonce, proof);
    }

    /// <summary>Writes a whole frame (header and payload) to <paramref name="stream"/>; handshake frames go out before the link's outbox runs.</summary>
    public static async Task WriteFrameAsync(Stream stream, InternalMessageType type, Action<PooledBufferWriter> payload, CancellationToken cancellation)
    {
        using var writer = new PooledBufferWriter(128);
        int start = writer.BeginFrame((MessageType)(ushort)type);
        payload(writer);
        writer.EndFrame(start);
        await stream.WriteAsync(writer.WrittenMemory, cancellation).ConfigureAwait(false);
        await stream.FlushAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads exactly one frame of at most <see cref="MaxFrameBytes"/> from <paramref name="stream"/>.
    /// </summary>
    /// <exception cref="WireFormatException">The frame is larger than <see cref="MaxFrameBytes"/> or shorter than its header.</exception>
    /// <exception cref="EndOfStreamException">The peer closed the connection first.</exception>
    public static async Task<(InternalMessageType Type, byte[] Payload)> ReadFrameAsync(Stream stream, CancellationToken cancellation)
    {
        var header = new byte[Frame.HeaderSize];
        await ReadExactlyAsync(stream, header, cancellation).ConfigureAwait(false);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length < 2 || length > MaxFrameBytes)
        {
            throw new WireFormatException(WireError.LengthOutOfRange, $"handshake frame of {length} bytes (at most {MaxFrameBytes})");
        }

        var type = (InternalMessageType)BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(Frame.LengthSize));
        var payload = new byte[length - 2];
        await ReadExactlyAsync(stream, payload, cancellation).ConfigureAwait(false);
        return (type, payload);
    }

    private static async Task ReadExactlyAsync(Stream stream, byte[] buffer, CancellationToken cancellation)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(read), cancellation).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("the peer closed the link during the handshake");
            }

            read += n;
        }
    }

    private static byte[] Proof(string secret, byte[] label, ushort version, bool privileged, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var data = new byte[label.Length + 3 + first.Length + second.Length];
        label.CopyTo(data, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(label.Length), version);
        data[label.Length + 2] = privileged ? (byte)1 : (byte)0;
        first.CopyTo(data.AsSpan(label.Length + 3));
        second.CopyTo(data.AsSpan(label.Length + 3 + first.Length));
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        return hmac.ComputeHash(data);
    }
}
