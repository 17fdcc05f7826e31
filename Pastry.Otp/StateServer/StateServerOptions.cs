namespace Pastry.Otp.StateServer;

/// <summary>Settings of the State Server, bound from the <c>StateServer</c> section of <c>pastry.json</c>.</summary>
public sealed class StateServerOptions
{
    /// <summary>
    /// The most messages waiting in its inbox. When it is full, a client's message is refused with an error and a log
    /// line, and an AI's waits for room (see the State Server's inbox in ARCHITECTURE 4). Default: 262144.
    /// </summary>
    public int MailboxCapacity { get; set; } = 262_144;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (MailboxCapacity is < 16 or > 16_777_216)
        {
            throw new ArgumentException("StateServer:MailboxCapacity must be between 16 and 16777216.", "StateServer:MailboxCapacity");
        }
    }
}
