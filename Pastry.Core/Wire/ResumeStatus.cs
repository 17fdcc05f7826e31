namespace Pastry.Wire;

/// <summary>The answer to a <see cref="MessageType.Resume"/>: whether the session came back, and if not, why.</summary>
public enum ResumeStatus : byte
{
    /// <summary>The session is back on this connection, with its account, objects and interests.</summary>
    Ok = 0,

    /// <summary>
    /// No session holds this token: its grace period ended, it logged out or was ejected, the account logged in
    /// elsewhere, the token was already used, or it never existed. Log in again.
    /// </summary>
    SessionGone = 1,

    /// <summary>The token was issued by an earlier run of the server (it restarted), so every session of that run is gone. Log in again.</summary>
    ServerRestarted = 2,

    /// <summary>Too many refused resumes from this address; wait and log in again.</summary>
    Throttled = 3,

    /// <summary>The token is malformed (wrong length).</summary>
    InvalidToken = 4,
}
