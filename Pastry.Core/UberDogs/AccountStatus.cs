namespace Pastry;

/// <summary>
/// The outcome of an account request to the login UberDOG (<see cref="LoginManager"/>), as the server logs it and as
/// the client receives it. Login failures keep distinct values for the server's logs, while the client is told
/// <see cref="LoginFailed"/> for both an unknown user and a wrong password.
/// </summary>
public enum AccountStatus
{
    /// <summary>The account was created, or the login succeeded.</summary>
    Ok,

    /// <summary>Another account already has this username (compared case-insensitively).</summary>
    UsernameTaken,

    /// <summary>The username breaks the server's rules (its length and characters; the message says which).</summary>
    InvalidUsername,

    /// <summary>The password breaks the server's rules (its length; the message says which).</summary>
    InvalidPassword,

    /// <summary>No account has this username.</summary>
    UnknownAccount,

    /// <summary>The account exists but the password does not match.</summary>
    WrongPassword,

    /// <summary>
    /// What the client is told for both <see cref="UnknownAccount"/> and <see cref="WrongPassword"/>: one status and
    /// one message, so that answers do not reveal which usernames exist.
    /// </summary>
    LoginFailed,

    /// <summary>The session is already logged in; log out (disconnect) before logging in again.</summary>
    AlreadyLoggedIn,

    /// <summary>
    /// Too many failed logins for this username or from this address: the login was refused without checking the
    /// password. The message says when to try again.
    /// </summary>
    Throttled,

    /// <summary>
    /// The account database cannot be read or written right now (a full disk, a read-only or damaged file): nothing
    /// was created or checked. It is temporary; try again later.
    /// </summary>
    Unavailable,
}
