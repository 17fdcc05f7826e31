using System.Collections.Concurrent;

namespace Pastry.Otp.UberDogs;

/// <summary>A thread-safe <see cref="IAccountStore"/> held in memory, for tests and servers without a database.</summary>
public sealed class InMemoryAccountStore : IAccountStore
{
    private readonly ConcurrentDictionary<string, AccountRecord> accounts = new(StringComparer.Ordinal);

    /// <summary>How many accounts are stored.</summary>
    public int Count => accounts.Count;

    /// <inheritdoc />
    public ValueTask<AccountRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        accounts.TryGetValue(AccountRecord.NormalizeUsername(username), out var record);
        return ValueTask.FromResult(record);
    }

    /// <inheritdoc />
    public ValueTask<bool> TryAddAsync(AccountRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(accounts.TryAdd(AccountRecord.NormalizeUsername(record.Username), record));
    }
}
