using Pastry.Otp.Database;
using Pastry.Otp.Database.Queries;

namespace Pastry.Tests.Database;

/// <summary>
/// PostgreSQL keeps identifiers of at most 63 bytes and cuts longer ones silently; the mapping is refused at start and
/// at <c>pastry migrate</c> instead, naming the model or field. SQLite has no such limit. (A unit test of the planner:
/// the check runs before any SQL, so it needs no server.)
/// </summary>
[TestClass]
public sealed class PostgresIdentifierTests
{
    private static readonly string LongName = "A" + new string('x', 63);

    [TestMethod]
    public void AModelNameOver63Bytes_IsRefusedOnPostgres_NamingTheModelAndTheLimit_ButNotOnSqlite()
    {
        var mapping = Mapping(LongName, "Gold");

        var refused = Assert.ThrowsExactly<DatabaseException>(() => MigrationPlanner.Plan(null, false, mapping, DateTime.UtcNow, _ => false, PostgresDialect.Instance));

        Assert.AreEqual(DatabaseError.Mapping, refused.Error);
        StringAssert.Contains(refused.Message, $"model {LongName}");
        StringAssert.Contains(refused.Message, "is 64 bytes (UTF-8), and PostgreSQL keeps at most 63");
        Assert.IsFalse(MigrationPlanner.Plan(null, false, mapping, DateTime.UtcNow, _ => false, SqliteDialect.Instance).IsEmpty);
    }

    [TestMethod]
    public void AFieldNameOver63Bytes_CountedInUtf8_IsRefusedOnPostgres_NamingTheField()
    {
        // 32 characters, 64 bytes: the limit is in bytes, as PostgreSQL counts it.
        string field = new string('é', 32);
        var refused = Assert.ThrowsExactly<DatabaseException>(() => Mapping("Wallet", field).CheckIdentifiers(PostgresDialect.Instance));

        StringAssert.Contains(refused.Message, $"field Wallet.{field}");
        StringAssert.Contains(refused.Message, "[RenamedFrom]");
        Mapping("Wallet", new string('é', 31)).CheckIdentifiers(PostgresDialect.Instance);
    }

    [TestMethod]
    public void AnIndexNameOver63Bytes_IsRefusedOnPostgres_NamingTheModelAndFields()
    {
        var mapping = Mapping("Wallet", "OwnerAccountNameForLookups");
        mapping.Tables[0].Indexes.Add(new IndexMapping { Name = "ux__Wallet__OwnerAccountNameForLookups__OwnerAccountNameForLookups__ci", Unique = true, Columns = { new IndexColumnMapping { Name = "OwnerAccountNameForLookups", IgnoreCase = true } } });

        var refused = Assert.ThrowsExactly<DatabaseException>(() => mapping.CheckIdentifiers(PostgresDialect.Instance));

        StringAssert.Contains(refused.Message, "the index of model Wallet on OwnerAccountNameForLookups");
    }

    [TestMethod]
    public void BackupTableNames_StayWithin63Bytes_OnPostgres_AndKeepTheirStamp()
    {
        string table = new string('T', 60);
        var previous = Mapping(table, new string('c', 60));
        var target = Mapping(table, "Other");
        var now = new DateTime(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);

        var plan = MigrationPlanner.Plan(previous, true, target, now, _ => false, PostgresDialect.Instance);

        var backups = plan.AllStatements.SelectMany(s => System.Text.RegularExpressions.Regex.Matches(s, "\"(pastry_backup_[^\"]*)\"").Select(m => m.Groups[1].Value)).ToList();
        Assert.IsTrue(backups.Count > 0, string.Join("\n", plan.AllStatements));
        foreach (string backup in backups)
        {
            Assert.IsTrue(backup.Length <= 63, $"{backup} is {backup.Length} bytes");
            Assert.IsTrue(backup.EndsWith("_20261130120000", StringComparison.Ordinal), backup);
        }
    }

    private static DbMapping Mapping(string table, string column) => new()
    {
        Tables = { new TableMapping { Name = table, Columns = { new ColumnMapping { Name = column, Type = "int32" } } } },
    };
}
