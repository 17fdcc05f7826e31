using System.Globalization;
using System.Data.Common;
using Dapper;
using Pastry.Otp.UberDogs;

namespace Pastry.Otp.Database;

/// <summary>
/// The login UberDOG's accounts in the database (table <c>pastry_accounts</c>, created by the first migration), SQLite or
/// PostgreSQL as <see cref="DatabaseOptions.Provider"/> says. The
/// normalised username is a UNIQUE column, so the check and the add of <see cref="TryAddAsync"/> are one atomic
/// INSERT and two concurrent creates of one name never both succeed. It has its own connection, used by one call at
/// a time; it reads while the Database role writes (SQLite's WAL, PostgreSQL's MVCC).
/// </summary>
internal sealed class DatabaseAccountStore : IAccountStore, IDisposable
{
    private readonly DbConnection connection;
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>Opens the accounts of the (migrated) database that <paramref name="options"/> names.</summary>
    /// <exception cref="DatabaseException">The file is missing or damaged, or the server cannot be reached.</exception>
    public DatabaseAccountStore(DatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        connection = DatabaseConnections.Open(options, create: false);
    }

    /// <inheritdoc />
    public async ValueTask<AccountRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        string key = AccountRecord.NormalizeUsername(username);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            DatabaseConnections.Reconnect(connection);
            var row = await connection.QueryFirstOrDefaultAsync<AccountRow>(new CommandDefinition(
                $"SELECT account_id AS AccountId, username AS Username, salt AS Salt, password_hash AS PasswordHash, iterations AS Iterations, algorithm AS Algorithm, created_utc AS CreatedUtc FROM {SqliteDatabase.AccountsTable} WHERE username_key = @key",
                new { key },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            return row?.ToRecord();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> TryAddAsync(AccountRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            DatabaseConnections.Reconnect(connection);
            int added = await connection.ExecuteAsync(new CommandDefinition(
                $"INSERT INTO {SqliteDatabase.AccountsTable} (account_id, username, username_key, salt, password_hash, iterations, algorithm, created_utc) VALUES (@id, @username, @key, @salt, @hash, @iterations, @algorithm, @created) ON CONFLICT DO NOTHING",
                new
                {
                    id = record.AccountId.ToByteArray(),
                    username = record.Username,
                    key = AccountRecord.NormalizeUsername(record.Username),
                    salt = record.Salt,
                    hash = record.PasswordHash,
                    iterations = record.Iterations,
                    algorithm = record.Algorithm,
                    created = record.CreatedUtc.ToUniversalTime().ToString(ColumnValues.DateTimeFormat, CultureInfo.InvariantCulture),
                },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            return added == 1;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose()
    {
        connection.Dispose();
        gate.Dispose();
    }

    private sealed class AccountRow
    {
        public byte[] AccountId { get; set; } = Array.Empty<byte>();

        public string Username { get; set; } = string.Empty;

        public byte[] Salt { get; set; } = Array.Empty<byte>();

        public byte[] PasswordHash { get; set; } = Array.Empty<byte>();

        public long Iterations { get; set; }

        public string Algorithm { get; set; } = string.Empty;

        public string CreatedUtc { get; set; } = string.Empty;

        public AccountRecord ToRecord() => new(
            DoId.Read(AccountId),
            Username,
            Salt,
            PasswordHash,
            checked((int)Iterations),
            Algorithm,
            DateTime.SpecifyKind(DateTime.ParseExact(CreatedUtc, ColumnValues.DateTimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), DateTimeKind.Utc));
    }
}
