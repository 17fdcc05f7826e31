namespace Pastry.Otp.UberDogs;

/// <summary>
/// Where login accounts live. Usernames are matched case-insensitively through
/// <see cref="AccountRecord.NormalizeUsername"/>. Kept small so that a database store is easy to add.
/// </summary>
public interface IAccountStore
{
    /// <summary>Finds the account with this username (any case, surrounding spaces ignored), or null.</summary>
    ValueTask<AccountRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken);

    /// <summary>
    /// Adds the account unless its username is already taken; returns false when it is. The check and the add are
    /// one atomic step, so two concurrent adds of one username never both succeed.
    /// </summary>
    ValueTask<bool> TryAddAsync(AccountRecord record, CancellationToken cancellationToken);
}
