namespace Pastry.Hosting;

/// <summary>Why a Pastry role could not start; each value has a one-line message that names the address and the fix.</summary>
public enum StartupError
{
    /// <summary>A listener could not bind its address: the port is in use, or the host is not an address of this machine.</summary>
    CannotListen = 1,

    /// <summary>An AI process found no Message Director listening at the address it was given.</summary>
    MessageDirectorUnreachable = 2,

    /// <summary>The Message Director refused an AI's link in the handshake: another link protocol version, or a wrong or missing secret.</summary>
    MessageDirectorRefused = 3,

    /// <summary>The NATS backplane (<c>MessageDirector:Backplane = nats</c>) could not reach the nats-server at <c>Nats:Url</c>.</summary>
    BackplaneUnreachable = 4,

    /// <summary>
    /// Another OTP process already serves the NATS backplane under the same <c>Nats:SubjectPrefix</c>, and this one stores
    /// in a SQLite file, which several OTP nodes cannot share (they share one PostgreSQL, or none).
    /// </summary>
    BackplaneTaken = 5,

    /// <summary>
    /// The State Server refused the AI's claim or take-over of its application's objects: nothing to take over, a
    /// hand-over already under way, or another <c>Ai:ApplicationKey</c>.
    /// </summary>
    AiTakeOverRefused = 6,
}

/// <summary>
/// A role of the generic host that could not start for a reason outside the program (a port in use, an OTP that is not
/// running). Hosts print its message as one line, with no stack trace, and exit with code 1.
/// </summary>
public sealed class StartupException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> names the address and the fix.</summary>
    public StartupException(StartupError error, string address, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
        Address = address;
    }

    /// <summary>What went wrong.</summary>
    public StartupError Error { get; }

    /// <summary>The <c>host:port</c> concerned.</summary>
    public string Address { get; }
}
