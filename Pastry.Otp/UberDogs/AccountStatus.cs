namespace Pastry.Otp.UberDogs;

/// <summary>
/// The outcome of an account request. Login failures keep distinct values for logging, while the client sees one
/// generic message (see <see cref="AccountService.LoginAsync"/>).
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
}
