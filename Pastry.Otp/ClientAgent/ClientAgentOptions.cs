namespace Pastry.Otp.ClientAgent;

/// <summary>Settings of the Client Agent, bound from the <c>ClientAgent</c> section of <c>pastry.json</c>.</summary>
public sealed class ClientAgentOptions
{
    /// <summary>The address to listen on. Default: 127.0.0.1.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The TCP port; 0 lets the OS choose (the chosen port is logged). Default: 7199.</summary>
    public int Port { get; set; } = 7199;

    /// <summary>The app version clients must send in Hello; a different one is ejected with 124.</summary>
    public string AppVersion { get; set; } = "1.0.0";

    /// <summary>The largest frame a client may send, in bytes (106 above it). Default: 64 KiB.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>A session that sends nothing for this long is ejected with 345. Default: 30 s.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The most interests one session may hold at once. Default: 64.</summary>
    public int MaxInterests { get; set; } = 64;

    /// <summary>The most zones one interest may name. Default: 1024.</summary>
    public int MaxZonesPerInterest { get; set; } = 1024;

    /// <summary>
    /// The most zones one session may hold across all its interests; more is ejected with 348. Each zone costs a
    /// subscription and a share of every interest sync. Default: 4096.
    /// </summary>
    public int MaxZonesPerSession { get; set; } = 4096;

    /// <summary>AddInterest and RemoveInterest messages one session may send per second (burst of twice that); more is ejected with 347. Default: 20.</summary>
    public int MaxInterestChangesPerSecond { get; set; } = 20;

    /// <summary>The sustained messages per second one session may send (token bucket with a burst of twice that). Default: 200.</summary>
    public int MaxMessagesPerSecond { get; set; } = 200;

    /// <summary>The most bytes waiting to be sent to one session; a session that falls further behind is dropped. Default: 1 MiB.</summary>
    public int MaxOutgoingBytes { get; set; } = 1024 * 1024;

    /// <summary>How often queued output is flushed to the sockets; 0 flushes at once. Batching bounds the latency it adds. Default: 2 ms.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// UberDOG calls (logins, account creations) one session may have waiting for an answer; one more is ejected with
    /// 347. Each login costs a password hash, so this bounds the work one connection can queue. Default: 4.
    /// </summary>
    public int MaxPendingUberDogCalls { get; set; } = 4;

    /// <summary>A session that has not logged in within this time of connecting is ejected with 349. Default: 30 s.</summary>
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Connections one IP address may hold at once; a further one gets eject 349 and is closed. Players behind one
    /// NAT share an address, so keep it well above one household. Default: 64.
    /// </summary>
    public int MaxConnectionsPerAddress { get; set; } = 64;

    /// <summary>New connections one IP address may open per second (token bucket with a burst of twice that); faster ones get eject 349. Default: 20.</summary>
    public int MaxNewConnectionsPerSecondPerAddress { get; set; } = 20;

    /// <summary>
    /// The kernel send buffer of each client socket. The kernel would otherwise grow it to several MiB, which a slow
    /// reader fills before <see cref="MaxOutgoingBytes"/> is even counted; this keeps the slow-consumer bound (346)
    /// close to what is configured. Default: 128 KiB.
    /// </summary>
    public int SocketSendBufferBytes { get; set; } = 128 * 1024;

    /// <summary>
    /// File descriptors at the top of the process's limit (<c>ulimit -n</c>) that client connections may not take: a
    /// connection that would is refused with 349 and closed, with a log line once per episode. The runtime needs free
    /// descriptors to start threads and load code, and without them the process dies; these also serve the database
    /// and the Message Director's links. 0 turns the check off. Linux only. Default: 128.
    /// </summary>
    public int FileDescriptorReserve { get; set; } = 128;

    /// <summary>TLS (the <c>ClientAgent:Tls</c> section): off unless a certificate is configured.</summary>
    public ClientAgentTlsOptions Tls { get; set; } = new();

    /// <summary>The WebSocket transport (the <c>ClientAgent:WebSocket</c> section), for browser clients: off unless enabled.</summary>
    public ClientAgentWebSocketOptions WebSocket { get; set; } = new();

    /// <summary>
    /// How long a logged-in session whose connection dropped is kept for a resume: same account, objects and
    /// interests, and nobody else sees its objects leave. When it ends, the session closes as if logged out (the AI
    /// saves and unloads the player). 0 turns resumes off (no tokens are issued). Default: 30 s.
    /// </summary>
    public TimeSpan ResumeGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most bytes of updates kept for one parked session; past that the queue is dropped and the resumed client
    /// gets a fresh snapshot of its view instead. Default: 256 KiB.
    /// </summary>
    public int ResumeQueueBytes { get; set; } = 256 * 1024;

    /// <summary>The most sessions parked at once; a connection that drops beyond it closes its session at once. Default: 10000.</summary>
    public int MaxParkedSessions { get; set; } = 10_000;

    /// <summary>
    /// Refused resumes (unknown, reused or forged tokens) one IP address may make before it backs off as failed logins
    /// do (then resumes answer Throttled). Default: 20.
    /// </summary>
    public int FreeResumeFailuresPerAddress { get; set; } = 20;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(Host), "ClientAgent:Host", "must be an IP address or host name");
        Require(Port is >= 0 and <= 65535, "ClientAgent:Port", "must be between 0 and 65535");
        Require(!string.IsNullOrWhiteSpace(AppVersion), "ClientAgent:AppVersion", "must not be empty");
        Require(MaxFrameBytes is >= 256 and <= 16 * 1024 * 1024, "ClientAgent:MaxFrameBytes", "must be between 256 and 16777216");
        Require(HeartbeatTimeout > TimeSpan.Zero, "ClientAgent:HeartbeatTimeout", "must be positive (for example \"00:00:30\")");
        Require(MaxInterests >= 1, "ClientAgent:MaxInterests", "must be at least 1");
        Require(MaxZonesPerInterest >= 1, "ClientAgent:MaxZonesPerInterest", "must be at least 1");
        Require(MaxZonesPerSession >= MaxZonesPerInterest, "ClientAgent:MaxZonesPerSession", "must be at least MaxZonesPerInterest");
        Require(MaxInterestChangesPerSecond >= 1, "ClientAgent:MaxInterestChangesPerSecond", "must be at least 1");
        Require(MaxMessagesPerSecond >= 1, "ClientAgent:MaxMessagesPerSecond", "must be at least 1");
        Require(MaxOutgoingBytes >= 4096, "ClientAgent:MaxOutgoingBytes", "must be at least 4096");
        Require(MaxPendingUberDogCalls >= 1, "ClientAgent:MaxPendingUberDogCalls", "must be at least 1");
        Require(LoginTimeout > TimeSpan.Zero, "ClientAgent:LoginTimeout", "must be positive (for example \"00:00:30\")");
        Require(MaxConnectionsPerAddress >= 1, "ClientAgent:MaxConnectionsPerAddress", "must be at least 1");
        Require(MaxNewConnectionsPerSecondPerAddress >= 1, "ClientAgent:MaxNewConnectionsPerSecondPerAddress", "must be at least 1");
        Require(SocketSendBufferBytes >= 4096, "ClientAgent:SocketSendBufferBytes", "must be at least 4096");
        Require(FileDescriptorReserve >= 0, "ClientAgent:FileDescriptorReserve", "must be at least 0 (0 turns the check off)");
        Require(ResumeGrace >= TimeSpan.Zero && ResumeGrace <= TimeSpan.FromHours(1), "ClientAgent:ResumeGrace", "must be between 0 (resumes off) and 1 hour");
        Require(ResumeQueueBytes >= 1024, "ClientAgent:ResumeQueueBytes", "must be at least 1024");
        Require(MaxParkedSessions >= 0, "ClientAgent:MaxParkedSessions", "must be at least 0");
        Require(FreeResumeFailuresPerAddress >= 1, "ClientAgent:FreeResumeFailuresPerAddress", "must be at least 1");
        Require(FlushInterval >= TimeSpan.Zero && FlushInterval <= TimeSpan.FromSeconds(1), "ClientAgent:FlushInterval", "must be between 0 and 1 second");
        Tls.Validate();
        WebSocket.Validate(MaxFrameBytes);
    }

    private static void Require(bool condition, string key, string rule)
    {
        if (!condition)
        {
            throw new ArgumentException($"{key} {rule}.", key);
        }
    }
}
