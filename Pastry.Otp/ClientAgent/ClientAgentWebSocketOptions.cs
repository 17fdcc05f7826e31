namespace Pastry.Otp.ClientAgent;

/// <summary>
/// The Client Agent's WebSocket transport, bound from the <c>ClientAgent:WebSocket</c> section of <c>pastry.json</c>:
/// browser games (Blazor WebAssembly, Unity WebGL) connect to <c>ws://host:port/path</c>, or <c>wss://</c> when
/// <c>ClientAgent:Tls</c> has a certificate. Each binary message carries one or more frames of the TCP protocol, and
/// the sessions, limits, ejects and metrics are the TCP ones. Off unless <see cref="Enabled"/>.
/// </summary>
public sealed class ClientAgentWebSocketOptions
{
    /// <summary>Whether the agent also listens for WebSocket clients. Default: false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The address to listen on; empty uses <c>ClientAgent:Host</c>. Default: empty.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>The HTTP port of the WebSocket listener; 0 lets the OS choose (the chosen URL is logged). Default: 7200.</summary>
    public int Port { get; set; } = 7200;

    /// <summary>The path clients open the WebSocket on. Default: <c>/pastry</c>.</summary>
    public string Path { get; set; } = "/pastry";

    /// <summary>
    /// The page origins (for example <c>https://game.example.com</c>) whose scripts may connect. A request with no
    /// Origin header (a native client) is always allowed; an origin equal to the listener's own scheme, host and port is
    /// always allowed; <c>*</c> allows every origin. Others get HTTP 403 (logged as 372). Default: none.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = Array.Empty<string>();

    /// <summary>
    /// The largest WebSocket message a client may send, in bytes; more is ejected with 370. Frames are read as they
    /// arrive, so this bounds how long one message may run, not a buffer. Default: 1 MiB.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The most bytes of frames the agent puts in one message it sends (whole frames; a larger frame goes alone). Default: 64 KiB.</summary>
    public int MaxSendMessageBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// A folder of static files (a browser game: its index.html, scripts and WebAssembly) that the listener serves at
    /// <c>/</c> beside the WebSocket path, so the page and its connection share one origin and need no
    /// <see cref="AllowedOrigins"/>. Read only, no directory listing. Default: empty (no files served).
    /// </summary>
    public string WebRoot { get; set; } = string.Empty;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    /// <param name="maxFrameBytes">The agent's <c>ClientAgent:MaxFrameBytes</c>: when enabled, one message must hold the largest frame.</param>
    public void Validate(int maxFrameBytes)
    {
        Require(Port is >= 0 and <= 65535, "ClientAgent:WebSocket:Port", "must be between 0 and 65535");
        Require(Path.StartsWith('/') && !Path.Contains('?', StringComparison.Ordinal), "ClientAgent:WebSocket:Path", "must start with / (for example \"/pastry\") and hold no query");
        // Checked only when on: a larger ClientAgent:MaxFrameBytes alone must not need a WebSocket setting that is unused.
        Require(!Enabled || MaxMessageBytes >= maxFrameBytes + Wire.Frame.LengthSize, "ClientAgent:WebSocket:MaxMessageBytes", $"must hold the largest frame (ClientAgent:MaxFrameBytes + 4 = {maxFrameBytes + Wire.Frame.LengthSize})");
        Require(MaxSendMessageBytes >= 1024, "ClientAgent:WebSocket:MaxSendMessageBytes", "must be at least 1024");
        Require(!Enabled || WebRoot.Length == 0 || Directory.Exists(WebRoot), "ClientAgent:WebSocket:WebRoot", $"must be an existing folder, not \"{WebRoot}\"");
        foreach (string origin in AllowedOrigins)
        {
            Require(origin == "*" || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.AbsolutePath == "/" && !origin.EndsWith('/')), "ClientAgent:WebSocket:AllowedOrigins", $"must hold origins like \"https://game.example.com\" (scheme, host and port, no path) or \"*\", not \"{origin}\"");
        }
    }

    /// <summary>Whether a page at <paramref name="origin"/> may connect to a listener whose own origin is <paramref name="self"/>.</summary>
    internal bool Allows(string? origin, string self)
    {
        if (string.IsNullOrEmpty(origin) || string.Equals(origin, self, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        foreach (string allowed in AllowedOrigins)
        {
            if (allowed == "*" || string.Equals(allowed, origin, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static void Require(bool condition, string key, string rule)
    {
        if (!condition)
        {
            throw new ArgumentException($"{key} {rule}.", key);
        }
    }
}
