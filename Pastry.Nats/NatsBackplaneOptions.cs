namespace Pastry.Nats;

/// <summary>
/// Settings of the NATS backplane, bound from the <c>Nats</c> section of <c>pastry.json</c>. The backplane is chosen
/// with <c>MessageDirector:Backplane = nats</c>; every OTP and AI process of one game gives the same
/// <see cref="Url"/> and <see cref="SubjectPrefix"/>.
/// </summary>
public sealed class NatsBackplaneOptions
{
    /// <summary>The configuration section these settings come from.</summary>
    public const string Section = "Nats";

    /// <summary>
    /// Where the nats-server listens, for example <c>nats://127.0.0.1:4222</c> (several, comma-separated, for a
    /// cluster). Credentials, when the server requires them, go in <see cref="User"/>/<see cref="Password"/> or
    /// <see cref="Token"/>. Default: nats://127.0.0.1:4222.
    /// </summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The user name the server requires, if any. Default: empty.</summary>
    public string User { get; set; } = string.Empty;

    /// <summary>The password of <see cref="User"/>. Default: empty.</summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>The token the server requires, if any (instead of a user and password). Default: empty.</summary>
    public string Token { get; set; } = string.Empty;

    /// <summary>
    /// The first token of every subject the game uses, so that several games (or test runs) share one nats-server
    /// without hearing each other. Letters, digits, '-' and '_' only. Default: pastry.
    /// </summary>
    public string SubjectPrefix { get; set; } = "pastry";

    /// <summary>How often a process says it is alive on the node subject. Default: 1 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a keeper (an OTP process) waits without a heartbeat before it declares a process dead and routes its
    /// post-removes. At least three heartbeat intervals. Default: 5 s.
    /// </summary>
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a process waits for the nats-server at start before it gives up. Default: 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most bytes of messages waiting to be handed to the NATS client (while the server is slow or unreachable);
    /// past it new messages are dropped and counted, never buffered without bound. Default: 64 MiB.
    /// </summary>
    public int MaxPendingBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>The largest message the backplane sends; the nats-server's <c>max_payload</c> must be at least this. Default: 1 MiB (the server's default).</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The most post-remove messages a keeper holds for one node; more are refused with a log line. Default: 64.</summary>
    public int MaxPostRemovesPerNode { get; set; } = 64;

    /// <summary>The most bytes of post-remove messages a keeper holds for one node. Default: 1 MiB.</summary>
    public int MaxPostRemoveBytesPerNode { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most owned post-removes a keeper holds for one node: one per logged-in session of an OTP node (its
    /// SessionClosed, routed if the node dies), each at most 1 KiB; more are refused with a log line. Default: 100000.
    /// </summary>
    public int MaxOwnedPostRemovesPerNode { get; set; } = 100_000;

    /// <summary>The most nodes a keeper tracks; heartbeats of more are ignored with a log line. Default: 4096.</summary>
    public int MaxNodes { get; set; } = 4096;

    /// <summary>The first problem with these settings, naming its key, or null when they are valid.</summary>
    public string? FindProblem()
    {
        if (string.IsNullOrWhiteSpace(Url))
        {
            return "Nats:Url must name the nats-server, for example nats://127.0.0.1:4222.";
        }

        if (SubjectPrefix.Length == 0 || SubjectPrefix.Length > 64 || !SubjectPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return $"Nats:SubjectPrefix must be 1 to 64 letters, digits, '-' or '_' (one subject token); got '{SubjectPrefix}'.";
        }

        if (HeartbeatInterval < TimeSpan.FromMilliseconds(10) || HeartbeatInterval > TimeSpan.FromMinutes(1))
        {
            return "Nats:HeartbeatInterval must be between 00:00:00.010 and 00:01:00.";
        }

        if (NodeTimeout < 3 * HeartbeatInterval || NodeTimeout > TimeSpan.FromMinutes(10))
        {
            return $"Nats:NodeTimeout must be at least three heartbeats (3 x Nats:HeartbeatInterval = {3 * HeartbeatInterval}) and at most 00:10:00; got {NodeTimeout}.";
        }

        if (ConnectTimeout <= TimeSpan.Zero || ConnectTimeout > TimeSpan.FromMinutes(10))
        {
            return "Nats:ConnectTimeout must be between 00:00:00.001 and 00:10:00.";
        }

        if (MaxMessageBytes < 4096)
        {
            return "Nats:MaxMessageBytes must be at least 4096.";
        }

        if (MaxPendingBytes < MaxMessageBytes)
        {
            return "Nats:MaxPendingBytes must be at least Nats:MaxMessageBytes.";
        }

        if (MaxPostRemovesPerNode < 1 || MaxPostRemoveBytesPerNode < 1 || MaxOwnedPostRemovesPerNode < 1 || MaxNodes < 1)
        {
            return "Nats:MaxPostRemovesPerNode, Nats:MaxPostRemoveBytesPerNode, Nats:MaxOwnedPostRemovesPerNode and Nats:MaxNodes must be at least 1.";
        }

        return null;
    }
}
