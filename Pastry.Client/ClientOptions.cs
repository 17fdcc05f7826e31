namespace Pastry.Client;

/// <summary>Settings of a <see cref="PastryClient"/>.</summary>
public sealed class ClientOptions
{
    /// <summary>The app version sent in Hello; it must equal the server's <c>ClientAgent:AppVersion</c>.</summary>
    public string AppVersion { get; set; } = "1.0.0";

    /// <summary>
    /// Connect with TLS (the server has <c>ClientAgent:Tls:CertificatePath</c> set). The server's certificate is checked
    /// against the system's trusted roots and <see cref="TlsTargetHost"/> unless <see cref="TlsCertificateValidation"/>
    /// decides. Default: false.
    /// </summary>
    public bool UseTls { get; set; }

    /// <summary>The host name the server's certificate must name; null uses the host given to <see cref="PastryClient.ConnectAsync(string, int, ModelRegistry, ClientOptions, CancellationToken)"/>.</summary>
    public string? TlsTargetHost { get; set; }

    /// <summary>
    /// Decides whether the server's certificate is trusted, in place of the system's validation (for example pinning a
    /// self-signed certificate by its thumbprint). Null (the default) uses the system's validation.
    /// </summary>
    public System.Net.Security.RemoteCertificateValidationCallback? TlsCertificateValidation { get; set; }

    /// <summary>How often a heartbeat is sent; keep it well under the server's timeout (30 s by default).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long hello, login and interest requests may take before they fail with <see cref="TimeoutException"/>.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the clock is re-synchronised after the first samples.</summary>
    public TimeSpan ClockSyncInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many recent clock samples are kept; the one with the shortest round trip wins.</summary>
    public int ClockSamples { get; set; } = 8;

    /// <summary>The local clock (inject one in tests). Defaults to the system clock.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>The largest frame accepted from the server.</summary>
    public int MaxFrameBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The most bytes waiting to be sent. A send that would pass it throws <see cref="InvalidOperationException"/>
    /// instead of buffering without bound (the connection is too slow for what the game sends).
    /// </summary>
    public int MaxOutgoingBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Where the client's events run, for engines whose objects belong to one thread (Unity, Godot): when set, every
    /// object change, stream event (<see cref="PastryClient.Of{T}"/>, <see cref="PastryClient.Ejected"/>) and the
    /// completion of <see cref="PastryClient.Closed"/> is posted to this context, in arrival order. Unity:
    /// <c>SynchronizationContext.Current</c> read on the main thread. Null (the default) runs them on the socket thread.
    /// </summary>
    public SynchronizationContext? SynchronizationContext { get; set; }

    /// <summary>
    /// When true, events wait in a queue until the game calls <see cref="PastryClient.DispatchPending"/> (for example
    /// once a frame from Godot's <c>_Process</c>), and run on the thread that calls it. Not together with
    /// <see cref="SynchronizationContext"/>.
    /// </summary>
    public bool ManualDispatch { get; set; }

    /// <summary>
    /// With <see cref="SynchronizationContext"/> or <see cref="ManualDispatch"/>: how many bytes of received messages may
    /// wait for the game's thread before the client stops reading the socket until the game catches up.
    /// </summary>
    public long MaxPendingEventBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// When true (the default), a logged-in client whose connection drops reconnects by itself and resumes its session
    /// with the server's single-use token (see <see cref="PastryClient.Reconnecting"/>, <see cref="PastryClient.Reconnected"/>
    /// and <see cref="PastryClient.SessionLost"/>). When false, a dropped connection closes the client.
    /// </summary>
    public bool AutoReconnect { get; set; } = true;

    /// <summary>The wait before the second reconnect attempt (the first is at once); it doubles up to <see cref="MaxReconnectDelay"/>. Default: 250 ms.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between reconnect attempts. Default: 5 s.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the client keeps trying to reconnect before it closes (an OTP restart can take a while). Default: 2 min.</summary>
    public TimeSpan ReconnectTimeout { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>Thrown when the server ejects the client; carries the eject code and reason.</summary>
public sealed class ClientEjectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClientEjectedException(int code, string reason)
        : base($"Ejected by the server with {code}: {reason}")
    {
        Code = code;
        Reason = reason;
    }

    /// <summary>The eject code (see <c>Pastry.Wire.EjectCode</c>).</summary>
    public int Code { get; }

    /// <summary>The server's reason.</summary>
    public string Reason { get; }
}

/// <summary>Thrown when a login or account creation is refused.</summary>
public sealed class LoginFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LoginFailedException(int status, string message)
        : base(message)
    {
        Status = status;
    }

    /// <summary>The server's status code (0 is success; see <see cref="Pastry.AccountStatus"/>).</summary>
    public int Status { get; }

    /// <summary>
    /// Why it was refused, typed: for example <see cref="AccountStatus.UsernameTaken"/>, <see cref="AccountStatus.LoginFailed"/>,
    /// <see cref="AccountStatus.Throttled"/>, or <see cref="AccountStatus.Unavailable"/> (the server's account database
    /// cannot be written right now; nothing was created, so try again later).
    /// </summary>
    public AccountStatus AccountStatus => (AccountStatus)Status;
}

/// <summary>Why the connection ended.</summary>
/// <param name="EjectCode">The eject code, or null when the connection closed without an eject.</param>
/// <param name="Reason">A readable reason, never empty.</param>
public sealed record DisconnectReason(int? EjectCode, string Reason);

/// <summary>
/// A set or call this client sent reached the server, but no AI will handle it (the object's AI is being replaced in a
/// rolling upgrade and too many requests wait, or it is gone for a moment): nothing was lost silently, and the client
/// may send it again. The session goes on.
/// </summary>
/// <param name="DoId">The object the request was about.</param>
/// <param name="Code">Why: 380 (the hand-over's backlog is full) or 381 (no AI serves the object now).</param>
/// <param name="Reason">A readable reason, never empty.</param>
public sealed record RequestRefused(DoId DoId, int Code, string Reason);
