namespace Pastry.Otp.UberDogs;

/// <summary>
/// The outcome of an account request. Login failures keep distinct values for logging, while the client sees one
/// generic message (see <see cref="AccountService.LoginAsync(string, string, string?, CancellationToken)"/>).
/// </summary>
public enum AccountStatus
{
    /// <summary>The account was created, or the login succeeded.</summary>
    Ok,

    /// <summary>Another account already has this username (compared case-insensitively).</summary>
    UsernameTaken,

    /// <summary>The username breaks the rules in <see cref="AccountOptions"/>.</summary>
    InvalidUsername,

    /// <summary>The password breaks the rules in <see cref="AccountOptions"/>.</summary>
    InvalidPassword,

    /// <summary>No account has this username.</summary>
    UnknownAccount,

    /// <summary>The account exists but the password does not match.</summary>
    WrongPassword,

    /// <summary>
    /// What the client is told for both <see cref="UnknownAccount"/> and <see cref="WrongPassword"/>: one status and
    /// one message, so that answers do not reveal which usernames exist (see <see cref="AccountResult.ClientStatus"/>).
    /// </summary>
    LoginFailed,

    /// <summary>The session is already logged in; log out (disconnect) before logging in again.</summary>
    AlreadyLoggedIn,

    /// <summary>
    /// Too many failed logins for this username or from this address: the login was refused without checking the
    /// password. The message says when to try again (see <see cref="AccountOptions.LoginLockout"/>).
    /// </summary>
    Throttled,
}
