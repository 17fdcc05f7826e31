namespace Pastry.Otp.UberDogs;

/// <summary>The answer to an account request.</summary>
/// <param name="Status">What happened; distinct for every failure, for logging.</param>
/// <param name="AccountId">The account's id when <paramref name="Status"/> is <see cref="AccountStatus.Ok"/>, otherwise <see cref="DoId.Empty"/>.</param>
/// <param name="Message">A human-readable message that is safe to show the client; never empty.</param>
internal readonly record struct AccountResult(AccountStatus Status, DoId AccountId, string Message)
{
    /// <summary>Whether the request succeeded.</summary>
    public bool IsOk => Status == AccountStatus.Ok;

    /// <summary>
    /// The status the client sees: <see cref="AccountStatus.UnknownAccount"/> and <see cref="AccountStatus.WrongPassword"/>
    /// both become <see cref="AccountStatus.LoginFailed"/>, so that an answer never tells which usernames exist;
    /// <see cref="Status"/> keeps the difference for the server's log.
    /// </summary>
    public AccountStatus ClientStatus =>
        Status is AccountStatus.UnknownAccount or AccountStatus.WrongPassword ? AccountStatus.LoginFailed : Status;
}
