namespace Pastry.Otp.UberDogs;

/// <summary>The answer to an account request.</summary>
/// <param name="Status">What happened; distinct for every failure, for logging.</param>
/// <param name="AccountId">The account's id when <paramref name="Status"/> is <see cref="AccountStatus.Ok"/>, otherwise <see cref="DoId.Empty"/>.</param>
/// <param name="Message">A human-readable message that is safe to show the client; never empty.</param>
public readonly record struct AccountResult(AccountStatus Status, DoId AccountId, string Message)
{
    /// <summary>Whether the request succeeded.</summary>
    public bool IsOk => Status == AccountStatus.Ok;
}
