namespace Pastry.Ai.Hosting;

/// <summary>Settings of a hosted AI, bound from the <c>Ai</c> section of the configuration.</summary>
public sealed class AiHostOptions
{
    /// <summary>The configuration section these settings come from.</summary>
    public const string Section = "Ai";

    /// <summary>
    /// Where the OTP's Message Director listens, as <c>host:port</c>, when the AI runs in its own process. Ignored when
    /// the same host also runs the OTP (<c>AddPastryOtp</c>): the AI then uses the OTP's router in process. Default: 127.0.0.1:7198.
    /// </summary>
    public string MessageDirector { get; set; } = "127.0.0.1:7198";

    /// <summary>
    /// Which <see cref="IAiApplication"/> to run when the game's assemblies hold several (full or short class name).
    /// Read by the <c>pastry</c> command line, which finds the class; <c>AddPastryAi&lt;TApp&gt;</c> names it in code. Default: none (the only one).
    /// </summary>
    public string? Application { get; set; }

    /// <summary>
    /// The shared secret the AI proves in the link handshake, when it runs in its own process: the OTP's
    /// <c>MessageDirector:Secret</c>. When empty, the <c>MessageDirector:Secret</c> key of the same configuration is used,
    /// so one <c>pastry.json</c> serves both roles. Default: empty (a loopback OTP without a secret).
    /// </summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary>
    /// The privileged secret (the OTP's <c>MessageDirector:PrivilegedSecret</c>): with it the AI's link is privileged and
    /// may change any object; without it the AI may change only the objects it created or was given. When empty, the
    /// <c>MessageDirector:PrivilegedSecret</c> key of the same configuration is used. Default: empty.
    /// </summary>
    public string PrivilegedSecret { get; set; } = string.Empty;

    /// <summary>What the AI proves in the handshake: the privileged secret when there is one, else the shared secret.</summary>
    public MessageDirectorCredentials Credentials =>
        PrivilegedSecret.Length > 0 ? new MessageDirectorCredentials(PrivilegedSecret, Privileged: true) : new MessageDirectorCredentials(Secret);

    /// <summary>
    /// Rolling AI upgrade: when true (flag <c>pastry serve --role ai --take-over</c>), this AI takes over the objects of
    /// the running AI of its application instead of starting beside it; that one stops its timers, finishes its work,
    /// hands its objects over and exits, and clients see nothing leave (see "A rolling AI upgrade" in docs/operations.md).
    /// Start is refused (exit 1) when no AI of the application runs or is parked. Default: false.
    /// </summary>
    public bool TakeOver { get; set; }

    /// <summary>
    /// A secret the AIs of one application share: the application's first AI pins it in the State Server, and only an AI
    /// that gives the same key may take back (after a restart) or take over its objects. Set one per application when
    /// several games or services share a Message Director. Required (396 without it) of an AI on a participant link when
    /// the Message Director has a secret. Default: empty (elsewhere, any AI that names the application may).
    /// </summary>
    public string ApplicationKey { get; set; } = string.Empty;

    /// <summary>
    /// The largest frame the AI accepts from the Message Director over its link: a larger one drops the link (logged with
    /// 395) before any of it is buffered, and the AI reconnects. Keep it at least the OTP's
    /// <c>MessageDirector:MaxFrameBytes</c> (4 MiB by default). Default: 16 MiB.
    /// </summary>
    public int MaxFrameBytes { get; set; } = RemoteMessageRouter.DefaultMaxFrameBytes;

    /// <summary>The longest wait between reconnect attempts after the link to the Message Director drops. Default: 5 s.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The districts this AI serves when several AIs share one world, each <c>parent:zones</c> (zones: <c>N</c>,
    /// <c>N-M</c> or <c>*</c>, comma-separated; for example <c>00000000-0000-0000-0000-0000000d1577:51-100</c>). An object
    /// that moves into one of them is handed over to this AI, without viewers seeing it leave. When set, the objects this
    /// AI leaves behind if it dies are kept for the next AI of the same application and districts. Default: none (the
    /// AI serves the whole world; with one AI nothing is ever handed over).
    /// </summary>
    public string[] Districts { get; set; } = Array.Empty<string>();

    /// <summary>The districts of <see cref="Districts"/>, parsed (each entry may give several zone ranges).</summary>
    /// <exception cref="FormatException">An entry is not <c>parent:zones</c>.</exception>
    public IReadOnlyList<AiDistrict> ParsedDistricts => Districts.SelectMany(AiDistrict.Parse).ToArray();

    /// <summary>The Message Director's host and port, parsed from <see cref="MessageDirector"/>; null when it is not <c>host:port</c>.</summary>
    public (string Host, int Port)? MessageDirectorEndPoint
    {
        get
        {
            int colon = MessageDirector.LastIndexOf(':');
            return colon > 0 && int.TryParse(MessageDirector.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535
                ? (MessageDirector.Substring(0, colon), port)
                : null;
        }
    }

    /// <summary>The first problem with these settings, naming its key, or null when they are valid.</summary>
    public string? FindProblem()
    {
        if (MessageDirectorEndPoint is null)
        {
            return $"Ai:MessageDirector must be host:port, for example 127.0.0.1:7198; got '{MessageDirector}'.";
        }

        if (MaxReconnectDelay <= TimeSpan.Zero || MaxReconnectDelay > TimeSpan.FromMinutes(10))
        {
            return "Ai:MaxReconnectDelay must be between 00:00:00.001 and 00:10:00.";
        }

        for (int i = 0; i < Districts.Length; i++)
        {
            try
            {
                AiDistrict.Parse(Districts[i]);
            }
            catch (FormatException ex)
            {
                return $"Ai:Districts:{i} {ex.Message}";
            }
        }

        return null;
    }
}
