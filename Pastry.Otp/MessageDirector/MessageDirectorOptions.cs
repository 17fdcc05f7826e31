namespace Pastry.Otp.MessageDirector;

/// <summary>Settings of the Message Director's TCP endpoint, bound from the <c>MessageDirector</c> section of <c>pastry.json</c>.</summary>
public sealed class MessageDirectorOptions
{
    /// <summary>The address remote participants (AI processes) connect to. Keep it private: links are trusted. Default: 127.0.0.1.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The TCP port; 0 lets the OS choose (the chosen port is logged). Default: 7198.</summary>
    public int Port { get; set; } = 7198;

    /// <summary>The largest frame a link may send. Default: 4 MiB.</summary>
    public int MaxFrameBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most bytes waiting to be sent to one link before it is dropped. Default: 64 MiB.</summary>
    public int MaxOutgoingBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
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
    }
}
