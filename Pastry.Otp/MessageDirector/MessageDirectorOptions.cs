using System.Net;

namespace Pastry.Otp.MessageDirector;

/// <summary>Settings of the Message Director's TCP endpoint, bound from the <c>MessageDirector</c> section of <c>pastry.json</c>.</summary>
public sealed class MessageDirectorOptions
{
    /// <summary>The shortest secret accepted, so that a guessable word is refused at start rather than trusted.</summary>
    public const int MinSecretLength = 16;

    /// <summary>
    /// The address remote participants (AI processes) connect to. Any address other than loopback requires
    /// <see cref="Secret"/>; keep it private all the same. Default: 127.0.0.1.
    /// </summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>
    /// The shared secret every link must prove in its handshake (HMAC-SHA256 over two nonces; the secret itself never
    /// travels), at least 16 characters. Required when <see cref="Host"/> is not loopback; once set, required from every
    /// link, loopback ones too. An AI gives the same value as <c>Ai:Secret</c> (or reads this key from the same file).
    /// Default: empty (loopback only: any local process may connect, as a participant that may set only its own objects).
    /// </summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary>
    /// A second secret, for privileged links: a link that proves it (an AI with <c>Ai:PrivilegedSecret</c>) may set,
    /// move and delete any object and send any message, as an AI in the OTP's own process does. Other links are
    /// participants, limited to the objects they created or were given. Default: empty (no link is privileged).
    /// </summary>
    public string PrivilegedSecret { get; set; } = string.Empty;

    /// <summary>How long a new link has to complete its handshake before it is dropped (364). Default: 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most channels one link may subscribe to; one more closes it with 362. Default: 65536.</summary>
    public int MaxChannelsPerLink { get; set; } = 65536;

    /// <summary>The most zone ranges one link may subscribe to; one more closes it with 362. Default: 1024.</summary>
    public int MaxRangesPerLink { get; set; } = 1024;

    /// <summary>The most post-remove messages one link may register; one more closes it with 362. Default: 64.</summary>
    public int MaxPostRemovesPerLink { get; set; } = 64;

    /// <summary>The most bytes of post-remove messages one link may register in all; more closes it with 362. Default: 1 MiB.</summary>
    public int MaxPostRemoveBytesPerLink { get; set; } = 1024 * 1024;

    /// <summary>Whether <see cref="Host"/> is a loopback address (or <c>localhost</c>), the only place a link may go without a secret.</summary>
    public bool IsLoopback => Host == "localhost" || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    /// <summary>The TCP port; 0 lets the OS choose (the chosen port is logged). Default: 7198.</summary>
    public int Port { get; set; } = 7198;

    /// <summary>The largest frame a link may send. Default: 4 MiB.</summary>
    public int MaxFrameBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most bytes waiting to be sent to one link before it is dropped. Default: 64 MiB.</summary>
    public int MaxOutgoingBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// What carries messages between processes: <c>inprocess</c> (this OTP's own router; AI processes connect to the
    /// TCP endpoint) or <c>nats</c> (the Pastry.Nats backplane: every OTP and AI process of the game shares a
    /// nats-server, configured in the <c>Nats</c> section; the TCP endpoint still takes links). Default: inprocess.
    /// </summary>
    public string Backplane { get; set; } = "inprocess";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (!string.Equals(Backplane, "inprocess", StringComparison.OrdinalIgnoreCase) && !string.Equals(Backplane, "nats", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"MessageDirector:Backplane must be inprocess or nats; got '{Backplane}'.", "MessageDirector:Backplane");
        }

        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("MessageDirector:Host must be an IP address.", "MessageDirector:Host");
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException("MessageDirector:Port must be between 0 and 65535.", "MessageDirector:Port");
        }

        if (MaxFrameBytes < 1024)
        {
            throw new ArgumentException("MessageDirector:MaxFrameBytes must be at least 1024.", "MessageDirector:MaxFrameBytes");
        }

        if (MaxOutgoingBytes < 65536)
        {
            throw new ArgumentException("MessageDirector:MaxOutgoingBytes must be at least 65536.", "MessageDirector:MaxOutgoingBytes");
        }

        if (!IsLoopback && string.IsNullOrEmpty(Secret))
        {
            throw new ArgumentException($"MessageDirector:Secret is required when MessageDirector:Host binds a non-loopback address ({Host}): anyone who reaches the port could set any object. Set MessageDirector:Secret (at least {MinSecretLength} characters, the same as the AIs' Ai:Secret), or bind 127.0.0.1.", "MessageDirector:Secret");
        }

        CheckSecret(Secret, "MessageDirector:Secret");
        CheckSecret(PrivilegedSecret, "MessageDirector:PrivilegedSecret");
        if (HandshakeTimeout <= TimeSpan.Zero || HandshakeTimeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException("MessageDirector:HandshakeTimeout must be between 00:00:00.001 and 00:05:00.", "MessageDirector:HandshakeTimeout");
        }

        CheckAtLeastOne(MaxChannelsPerLink, "MessageDirector:MaxChannelsPerLink");
        CheckAtLeastOne(MaxRangesPerLink, "MessageDirector:MaxRangesPerLink");
        CheckAtLeastOne(MaxPostRemovesPerLink, "MessageDirector:MaxPostRemovesPerLink");
        if (MaxPostRemoveBytesPerLink < 1024)
        {
            throw new ArgumentException("MessageDirector:MaxPostRemoveBytesPerLink must be at least 1024.", "MessageDirector:MaxPostRemoveBytesPerLink");
        }
    }

    private static void CheckSecret(string secret, string key)
    {
        if (secret.Length is > 0 and < MinSecretLength)
        {
            throw new ArgumentException($"{key} must be at least {MinSecretLength} characters long (or empty).", key);
        }
    }

    private static void CheckAtLeastOne(int value, string key)
    {
        if (value < 1)
        {
            throw new ArgumentException($"{key} must be at least 1.", key);
        }
    }
}
