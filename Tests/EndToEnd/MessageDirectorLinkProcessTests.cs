using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.Database;
using Pastry.Tests.Database;
using Pastry.Wire;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The Message Director port of a real <c>pastry serve --role otp</c> process as a hostile local process would try it
/// (issue 12: a forged SetField made a player's gold 999999 in RAM and in SQLite; post-removes piled up without bound).
/// </summary>
[TestClass]
public sealed class MessageDirectorLinkProcessTests
{
    private const string Secret = "otp link secret 0123456789";
    private static readonly ModelRegistry AppRegistry = ModelRegistry.FromAssemblies(typeof(DbWallet).Assembly);
    private static readonly ModelInfo Wallet = AppRegistry.GetModel<DbWallet>();
    private static readonly Regex AdminUrl = new("Admin endpoint listening on (http://\\S+?)/? ");

    [TestMethod]
    public async Task AForgedSetField_OnAnotherProcesssObject_IsRefused_AndTheGoldIsUnchangedInRamAndInSqlite()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Database:Path", db.Path);
        await using var _otp = otp;
        await using var ownerLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var owner = new DbTestClient(ownerLink);
        var wallet = await ActivatedWalletAsync(owner, gold: 20);

        // The attack of the issue, from another local process: connect (no secret on loopback), forge a SetField.
        await using var attackerLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var attacker = new DbTestClient(attackerLink);
        wallet.Gold = 999_999;
        attackerLink.Publish(InternalMessages.SetField(wallet, Wallet.GetField(nameof(DbWallet.Gold)), attacker.Channel), Channel.StateServer);

        var error = await attacker.ExpectAsync(InternalMessageType.Error);
        StringAssert.Contains(new WireReader(error.Payload.Span).ReadString(), "neither created nor was given this object");
        await otp.WaitForLineAsync(new Regex("State Server refused SetField .*neither created nor was given"));
        Assert.AreEqual(20, await GoldInRamAsync(ownerLink, owner, wallet.DoId), "RAM");
        Assert.AreEqual(20L, GoldInSqlite(db, wallet.DoId), "SQLite");

        // Nor can it write the stored row directly, of a live object or of an offline one: the Message Director sends a
        // participant's database writes through the State Server, which passes on only the participant's own.
        var gold = Wallet.GetField(nameof(DbWallet.Gold));
        var direct = await attacker.RequestAsync(c => DatabaseMessages.SetFields(c, Wallet, wallet.DoId, attacker.Channel, (gold, 999_999)));
        Assert.AreEqual(DatabaseStatus.Forbidden, direct.Status, direct.Reason);
        var offline = new DbWallet { DoId = DoId.NewId(), Holder = "bob", Gold = 5 };
        Assert.AreEqual(DatabaseStatus.Ok, (await owner.RequestAsync(c => DatabaseMessages.CreateObject(c, offline, owner.Channel))).Status);
        var cas = await attacker.RequestAsync(c => DatabaseMessages.SetFieldsIfEquals(c, Wallet, offline.DoId, attacker.Channel, (gold, 5, 999_999)));
        Assert.AreEqual(DatabaseStatus.Forbidden, cas.Status, cas.Reason);
        var delete = await attacker.RequestAsync(c => DatabaseMessages.DeleteObject(c, Wallet, offline.DoId, attacker.Channel));
        Assert.AreEqual(DatabaseStatus.Forbidden, delete.Status, delete.Reason);
        Assert.AreEqual(20L, GoldInSqlite(db, wallet.DoId), "SQLite, after the direct write");
        Assert.AreEqual(5L, GoldInSqlite(db, offline.DoId), "SQLite, the offline wallet");

        // The owner's own compare-and-swap on its live object still reaches the database.
        var own = await owner.RequestAsync(c => DatabaseMessages.SetFieldsIfEquals(c, Wallet, wallet.DoId, owner.Channel, (gold, 20, 19)));
        Assert.AreEqual(DatabaseStatus.Ok, own.Status, own.Reason);
        Assert.AreEqual(19L, GoldInSqlite(db, wallet.DoId), "SQLite, the owner's own write");
        wallet.Gold = 20;

        // Speaking as the owner instead is refused by the Message Director, and the attacker's link is closed.
        attackerLink.Publish(InternalMessages.SetField(wallet, Wallet.GetField(nameof(DbWallet.Gold)), owner.Channel), Channel.StateServer);
        await attackerLink.Closed.WaitAsync(RawClient.Timeout);
        Assert.AreEqual(EjectCode.LinkForbidden, attackerLink.Refusal?.Code);
        await otp.WaitForLineAsync(new Regex(@"refused the link from 127\.0\.0\.1:\d+ \(363 LinkForbidden\)"));

        // The owner still sets its own object.
        wallet.Gold = 21;
        ownerLink.Publish(InternalMessages.SetField(wallet, Wallet.GetField(nameof(DbWallet.Gold)), owner.Channel), Channel.StateServer);
        Assert.AreEqual(21, await GoldInRamAsync(ownerLink, owner, wallet.DoId));
    }

    [TestMethod]
    public async Task WithASecret_ALinkWithoutIt_IsRefused361_AndLoggedOnce_AndTheSameForgeryNeverArrives()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        var (otp, _, director) = await PastryProcess.StartOtpAsync(new Dictionary<string, string> { ["PASTRY_MessageDirector__Secret"] = Secret }, "--Database:Path", db.Path);
        await using var _otp = otp;
        await using var ownerLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port, new MessageDirectorCredentials(Secret));
        var owner = new DbTestClient(ownerLink);
        var wallet = await ActivatedWalletAsync(owner, gold: 20);

        var none = await Assert.ThrowsExactlyAsync<MessageDirectorRefusedException>(() => RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port));
        var wrong = await Assert.ThrowsExactlyAsync<MessageDirectorRefusedException>(() => RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port, new MessageDirectorCredentials("a guess at the secret")));

        Assert.AreEqual(EjectCode.LinkAuthenticationFailed, none.Code);
        Assert.AreEqual(EjectCode.LinkAuthenticationFailed, wrong.Code);
        await otp.WaitForLineAsync(new Regex(@"refused the link from 127\.0\.0\.1:\d+ \(361 LinkAuthenticationFailed\): wrong secret"));
        Assert.AreEqual(2, otp.CountLines(new Regex("refused the link from .*361")), "One line per refused link.");
        Assert.IsFalse(otp.Output.Contains(Secret, StringComparison.Ordinal), "The secret is never logged.");
        Assert.AreEqual(20, await GoldInRamAsync(ownerLink, owner, wallet.DoId));
        Assert.AreEqual(20L, GoldInSqlite(db, wallet.DoId));
    }

    [TestMethod]
    public async Task ANonLoopbackMessageDirector_WithoutASecret_RefusesToStart_Exit2_NamingTheKey()
    {
        await using var process = PastryProcess.Start("serve", "--role", "otp", "--Database:Path", string.Empty, "--ClientAgent:Port", "0", "--MessageDirector:Host", "0.0.0.0", "--MessageDirector:Port", "0", "--Admin:Enabled", "false");

        Assert.AreEqual(2, await process.WaitForExitAsync(), process.Output);
        StringAssert.Contains(process.Output, "MessageDirector:Secret is required when MessageDirector:Host binds a non-loopback address");
    }

    [TestMethod]
    public async Task AnAiWithTheWrongSecret_FailsToStart_NamingTheFix()
    {
        var (otp, _, director) = await PastryProcess.StartOtpAsync(new Dictionary<string, string> { ["PASTRY_MessageDirector__Secret"] = Secret });
        await using var _otp = otp;

        await using var ai = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp), "--Ai:Secret", "not the otp's secret at all", "--Admin:Enabled", "false");

        Assert.AreEqual(1, await ai.WaitForExitAsync(), ai.Output);
        StringAssert.Contains(ai.Output, "refused the AI's link (361 LinkAuthenticationFailed)");
        StringAssert.Contains(ai.Output, "Fix: give the AI the OTP's secret");
    }

    [TestMethod]
    public async Task AnAiOnAParticipantLink_WithoutAnApplicationKey_FailsToStart396_NamingTheFix()
    {
        // The right link secret, but no Ai:ApplicationKey: it could otherwise claim any application's kept objects by name.
        var (otp, _, director) = await PastryProcess.StartOtpAsync(new Dictionary<string, string> { ["PASTRY_MessageDirector__Secret"] = Secret });
        await using var _otp = otp;

        await using var ai = PastryProcess.Start("serve", "--role", "ai", "--app", typeof(Knight).Assembly.Location, "--Ai:MessageDirector", director.ToString(), "--Ai:Application", nameof(KnightAiApp), "--Ai:Secret", Secret, "--Admin:Enabled", "false");

        Assert.AreEqual(1, await ai.WaitForExitAsync(), ai.Output);
        StringAssert.Contains(ai.Output, "(396 ApplicationKeyRequired)");
        StringAssert.Contains(ai.Output, "Fix: give it the application's Ai:ApplicationKey");
        await otp.WaitForLineAsync(new Regex("State Server refused the claim or take-over of .*: 396"));
    }

    [TestMethod]
    public async Task APostRemoveFlood_IsCut362_AtTheBound_AndEverythingTheLinkHeldIsFreedOnClose_WhileABystanderIsServed()
    {
        var (otp, _, director) = await PastryProcess.StartOtpAsync("--Admin:Port", "0");
        await using var _otp = otp;
        using var http = new HttpClient { BaseAddress = new Uri((await otp.WaitForLineAsync(AdminUrl)).Groups[1].Value) };
        await using var flooder = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var me = new DbTestClient(flooder);

        // The issue's flood: 200 post-removes of 4 MB would hold 800 MB. Each here is 60 KB (under a frame), 200 of them.
        var heavy = new Envelope(InternalMessageType.CallMethod, me.Channel, DoId.NewId(), new byte[60_000]);
        for (int i = 0; i < 200; i++)
        {
            flooder.AddPostRemove(heavy, Channel.StateServer);
        }

        await flooder.Closed.WaitAsync(RawClient.Timeout);
        Assert.AreEqual(EjectCode.LinkLimitExceeded, flooder.Refusal?.Code);
        StringAssert.Contains(flooder.Refusal!.Reason, "MessageDirector:MaxPostRemoveBytesPerLink");
        await otp.WaitForLineAsync(new Regex(@"md-link 127\.0\.0\.1:\d+ disconnected"));
        int ran = otp.CountLines(new Regex("routing post-remove CallMethod"));
        Assert.AreEqual(17, ran, "1 MiB holds 17 of them; they ran when the link closed.");

        string metrics = await http.GetStringAsync("/metrics");
        Assert.AreEqual(0, Gauge(metrics, "pastry_message_director_post_removes"), metrics);
        Assert.AreEqual(0, Gauge(metrics, "pastry_message_director_link_subscriptions"), metrics);

        // A well-behaved AI on the same port is served throughout.
        var timer = Stopwatch.StartNew();
        await using var bystanderLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var bystander = new DbTestClient(bystanderLink);
        bystanderLink.Publish(InternalMessages.MemoryQuery(false, bystander.Channel), Channel.Diagnostics);
        await bystander.ExpectAsync(InternalMessageType.MemoryReport);
        Console.WriteLine($"RELIABILITY: post-remove flood cut at {ran} (1 MiB); bystander link connect + memory query {timer.Elapsed.TotalMilliseconds:0} ms");
    }

    [TestMethod]
    public async Task APrivilegedLink_MaySetAnotherProcesssObject_AParticipantMaySetWhatItWasGiven()
    {
        using var db = new TempDatabase();
        db.Migrate(AppRegistry);
        const string privileged = "otp privileged secret 0123456789";
        var (otp, _, director) = await PastryProcess.StartOtpAsync(new Dictionary<string, string> { ["PASTRY_MessageDirector__PrivilegedSecret"] = privileged }, "--Database:Path", db.Path);
        await using var _otp = otp;
        await using var ownerLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var owner = new DbTestClient(ownerLink);
        var wallet = await ActivatedWalletAsync(owner, gold: 20);
        var gold = Wallet.GetField(nameof(DbWallet.Gold));

        await using var adminLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port, new MessageDirectorCredentials(privileged, Privileged: true));
        var admin = new DbTestClient(adminLink);
        wallet.Gold = 30;
        adminLink.Publish(InternalMessages.SetField(wallet, gold, admin.Channel), Channel.StateServer);
        Assert.AreEqual(30, await GoldInRamAsync(adminLink, admin, wallet.DoId), "A privileged link may set any object.");

        await using var heirLink = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port);
        var heir = new DbTestClient(heirLink);
        heirLink.Publish(InternalMessages.SetField(wallet, gold, heir.Channel), Channel.StateServer);
        StringAssert.Contains(new WireReader((await heir.ExpectAsync(InternalMessageType.Error)).Payload.Span).ReadString(), "neither created nor was given", "Not yet given.");
        ownerLink.Publish(InternalMessages.SetOwner(wallet.DoId, heir.Channel.Id, owner.Channel), Channel.StateServer);
        Assert.AreEqual(30, await GoldInRamAsync(ownerLink, owner, wallet.DoId), "(the owner's SetOwner is handled)");
        wallet.Gold = 40;
        heirLink.Publish(InternalMessages.SetField(wallet, gold, heir.Channel), Channel.StateServer);
        Assert.AreEqual(40, await GoldInRamAsync(heirLink, heir, wallet.DoId), "A participant may set an object it was given.");
    }

    private static async Task<DbWallet> ActivatedWalletAsync(DbTestClient ai, int gold)
    {
        var wallet = new DbWallet { DoId = DoId.NewId(), Holder = "victim", Gold = gold };
        Assert.AreEqual(DatabaseStatus.Ok, (await ai.RequestAsync(c => DatabaseMessages.CreateObject(c, wallet, ai.Channel))).Status);
        var active = await ai.RequestAsync(c => DatabaseMessages.ActivateObject(c, Wallet, wallet.DoId, DoId.Empty, 1, DoId.Empty, ai.Channel), Wallet);
        Assert.AreEqual(DatabaseStatus.Ok, active.Status, active.Reason);
        return wallet;
    }

    /// <summary>The wallet's Gold as the State Server holds it: a zone query answers its stored values.</summary>
    /// <remarks>Ask on the link that made the last change: one link's messages reach the State Server in order.</remarks>
    private static async Task<int> GoldInRamAsync(RemoteMessageRouter link, DbTestClient ai, DoId id)
    {
        var query = new PooledBufferWriter();
        query.WriteUInt32(ai.NextContext());
        query.WriteDoId(DoId.Empty);
        query.WriteVarUInt32(1);
        query.WriteUInt32(1);
        var envelope = new Envelope(InternalMessageType.QueryZones, ai.Channel, DoId.Empty, query.WrittenSpan.ToArray());
        query.Dispose();
        link.Publish(envelope, Channel.StateServer);
        while (true)
        {
            var entry = await ai.ExpectAsync(InternalMessageType.QueryEntry);
            if (entry.Subject != id)
            {
                continue;
            }

            var parsed = Pastry.Otp.StateServer.ObjectEntry.Parse(entry.Payload, 4);
            var reader = new WireReader(parsed.OwnerFrame.Span[Frame.HeaderSize..]);
            reader.ReadDoId();
            reader.ReadUInt32();
            reader.ReadDoId();
            reader.ReadUInt32();
            reader.ReadDoId();
            int count = reader.ReadUInt16();
            for (int i = 0; i < count; i++)
            {
                var field = Wallet.Fields[reader.ReadUInt16()];
                object? value = field.Codec.ReadBoxed(ref reader);
                if (field.Name == nameof(DbWallet.Gold))
                {
                    return (int)value!;
                }
            }

            Assert.Fail("The State Server holds no Gold for the wallet.");
        }
    }

    private static long GoldInSqlite(TempDatabase db, DoId id)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db.Path};Mode=ReadOnly");
        return connection.ExecuteScalar<long>("SELECT Gold FROM DbWallet WHERE doid = @id", new { id = id.ToByteArray() });
    }

    private static double Gauge(string metrics, string name)
    {
        var match = Regex.Match(metrics, $"^{name}(?:_[a-z]+)?(?:\\{{[^}}]*\\}})? (\\S+)", RegexOptions.Multiline);
        Assert.IsTrue(match.Success, $"/metrics lacks {name}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
