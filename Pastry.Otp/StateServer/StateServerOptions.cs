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
    }
}
