namespace Pastry.Otp.StateServer;

/// <summary>Settings of the State Server, bound from the <c>StateServer</c> section of <c>pastry.json</c>.</summary>
public sealed class StateServerOptions
{
    /// <summary>
    /// The most messages waiting in its inbox. When it is full, a client's message is refused with an error and a log
    /// line, and an AI's waits for room (see the State Server's inbox in ARCHITECTURE 4). Default: 262144.
    /// </summary>
    public int MailboxCapacity { get; set; } = 262_144;

    /// <summary>
    /// How long an AI's objects stay in the world after its link drops, for the next AI of the same application to take
    /// back (see "An AI restart brings the world back" in the README): clients see nothing leave meanwhile. Zero deletes
    /// them at once, as before. Default: 30 s.
    /// </summary>
    public TimeSpan AiRestartGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Rolling AI upgrade: how long each step of a hand-over may take (the old AI stopping, then the new AI's game
    /// starting) before the State Server goes on without waiting (see "A rolling AI upgrade" in docs/operations.md). Default: 30 s.
    /// </summary>
    public TimeSpan AiHandOverTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Rolling AI upgrade: the most client sets and calls held for the new AI during one hand-over; one more is refused
    /// to its client (<c>RequestRefused</c>, code 380) instead of being held. Default: 10000.
    /// </summary>
    public int MaxHandOverHeldRequests { get; set; } = 10_000;

    /// <summary>
    /// Several OTP nodes: the most objects one move to another node carries (the object moved under a parent another
    /// node holds, and everything beneath it). A bigger move is refused to the mover with an Error and a log line, and
    /// the objects stay. Default: 1000.
    /// </summary>
    public int MaxMovedObjects { get; set; } = 1000;

    /// <summary>
    /// Several OTP nodes: how long a move to another node may wait for that node's answer before it is given up (the
    /// object stays, the mover gets "parent ... does not exist"), and how long the new holder waits for the old one to
    /// say it forwarded what it held. Default: 10 s.
    /// </summary>
    public TimeSpan MoveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Several OTP nodes: how long a node that moved an object to another node still forwards the requests about it that
    /// reach it (sent the way their sender remembered; each sender is told the new way at its first forwarded request).
    /// After that such a request is refused as for an object that does not exist. Default: 60 s.
    /// </summary>
    public TimeSpan MoveForwardTime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (MailboxCapacity is < 16 or > 16_777_216)
        {
            throw new ArgumentException("StateServer:MailboxCapacity must be between 16 and 16777216.", "StateServer:MailboxCapacity");
        }

        if (AiRestartGrace < TimeSpan.Zero || AiRestartGrace > TimeSpan.FromDays(1))
        {
            throw new ArgumentException("StateServer:AiRestartGrace must be between 00:00:00 and 1.00:00:00.", "StateServer:AiRestartGrace");
        }

        if (AiHandOverTimeout < TimeSpan.FromMilliseconds(1) || AiHandOverTimeout > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentException("StateServer:AiHandOverTimeout must be between 00:00:00.001 and 00:10:00.", "StateServer:AiHandOverTimeout");
        }

        if (MaxHandOverHeldRequests is < 0 or > 1_000_000)
        {
            throw new ArgumentException("StateServer:MaxHandOverHeldRequests must be between 0 and 1000000.", "StateServer:MaxHandOverHeldRequests");
        }

        if (MaxMovedObjects is < 1 or > ushort.MaxValue)
        {
            throw new ArgumentException("StateServer:MaxMovedObjects must be between 1 and 65535.", "StateServer:MaxMovedObjects");
        }

        if (MoveTimeout < TimeSpan.FromMilliseconds(1) || MoveTimeout > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentException("StateServer:MoveTimeout must be between 00:00:00.001 and 00:10:00.", "StateServer:MoveTimeout");
        }

        if (MoveForwardTime < TimeSpan.Zero || MoveForwardTime > TimeSpan.FromDays(1))
        {
            throw new ArgumentException("StateServer:MoveForwardTime must be between 00:00:00 and 1.00:00:00.", "StateServer:MoveForwardTime");
        }
    }
}
