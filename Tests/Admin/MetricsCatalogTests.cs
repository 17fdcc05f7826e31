using System.Diagnostics.Metrics;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Ai;
using Pastry.Client;
using Pastry.Otp;
using Pastry.Otp.Admin;
using Pastry.Tests.EndToEnd;

namespace Pastry.Tests.Admin;

/// <summary>
/// Every instrument on the <c>Pastry</c> meter (what <c>dotnet-counters monitor --counters Pastry</c> reads) is listed in
/// README's metrics table and reaches <c>/metrics</c>: an OTP with a SQLite file, an AI, logins that pass, fail and are
/// throttled, and an operator eject, all in this process, scraped over real HTTP.
/// </summary>
[TestClass]
public sealed class MetricsCatalogTests
{
    [TestMethod]
    public async Task EveryPastryInstrument_IsDocumentedInReadme_AndExportedByTheMetricsEndpoint()
    {
        var published = new Dictionary<string, Instrument>(StringComparer.Ordinal);
        var measured = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == OtpMetrics.MeterName)
            {
                lock (published)
                {
                    published[instrument.Name] = instrument;
                }

                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((instrument, _, _, _) => Measured(instrument));
        listener.SetMeasurementEventCallback<long>((instrument, _, _, _) => Measured(instrument));
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => Measured(instrument));
        listener.Start();

        string directory = Directory.CreateTempSubdirectory("pastry-metrics-").FullName;
        await using var server = InProcessOtp.Start(options =>
        {
            options.Database.Path = Path.Combine(directory, "metrics.db");
            options.Database.AutoMigrate = true;
            options.Accounts.FreeLoginFailuresPerAccount = 1;
        });
        await using var ai = new AiRepository(server.Router, InProcessOtp.Registry);
        ai.Create(new Realm { Title = "metrics" }, DoId.Empty, 1);
        var admin = new AdminServer(new AdminOptions { Port = 0 }, () => server, new AdminReadiness(), NullLoggerFactory.Instance);
        await admin.StartAsync(CancellationToken.None);
        await using var _admin = admin;

        // Logins that pass, fail and are throttled; an interest; an operator eject.
        await using (var stranger = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, InProcessOtp.Registry))
        {
            await stranger.CreateAccountAsync("mallory", "password1");
            // One free failure, a second that starts the back-off, and a third inside it: throttled.
            for (int attempt = 0; attempt < 3; attempt++)
            {
                await Assert.ThrowsExactlyAsync<LoginFailedException>(() => stranger.LoginAsync("mallory", "wrong-password"));
            }
        }

        await using var client = await PastryClient.ConnectAsync("127.0.0.1", server.ClientEndPoint.Port, InProcessOtp.Registry);
        await client.CreateAccountAsync("ann", "password1");
        await client.LoginAsync("ann", "password1");
        await client.AddInterestAsync(DoId.Empty, 1);
        var session = server.ClientAgent.Sessions(0, 10).Page.Single(s => s.Account == client.AccountId);
        var ejected = client.Ejected.FirstAsync().ToTask();
        Assert.IsTrue(server.ClientAgent.EjectByOperator(session.Id, "metrics test"));
        await ejected.WaitAsync(RawClient.Timeout);

        listener.RecordObservableInstruments();
        using var http = new HttpClient { BaseAddress = admin.Url };
        string scrape = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        string readme = MetricsSection();
        var documented = Regex.Matches(readme, "`(pastry\\.[a-z_.]+)`").Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

        List<Instrument> instruments;
        lock (published)
        {
            instruments = published.Values.ToList();
        }

        foreach (string expected in new[] { "pastry.logins", "pastry.client_agent.ejects", "pastry.database.batch_size", "pastry.database.commit.duration", "pastry.ai.logic_queue.depth", "pastry.ai.link.state", "pastry.mailbox.depth" })
        {
            Assert.IsTrue(instruments.Any(i => i.Name == expected), $"{expected} was never published on the Pastry meter.");
        }

        var undocumented = instruments.Select(i => i.Name).Where(n => !documented.Contains(n)).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.AreEqual(0, undocumented.Count, $"README's metrics table (Operate it) lacks: {string.Join(", ", undocumented)}");
        var stale = documented.Where(n => instruments.All(i => i.Name != n)).Order(StringComparer.Ordinal).ToList();
        Assert.AreEqual(0, stale.Count, $"README's metrics table lists instruments that no longer exist: {string.Join(", ", stale)}");

        // What was measured (and every observable instrument, which reports whenever asked) is in the scrape.
        var missing = instruments
            .Where(i => i.IsObservable || measured.Contains(i.Name))
            .Select(i => i.Name)
            .Distinct()
            .Where(n => !scrape.Contains("\n" + n.Replace('.', '_'), StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.AreEqual(0, missing.Count, $"/metrics lacks: {string.Join(", ", missing)}");
        foreach (string outcome in new[] { "ok", "failed", "throttled" })
        {
            StringAssert.Contains(scrape, $"outcome=\"{outcome}\"", $"pastry_logins_total has no {outcome} series");
        }

        StringAssert.Contains(scrape, "code=\"350\"", "the operator eject is counted by code");
        StringAssert.Contains(scrape, "\ndotnet_gc_", "the runtime's own metrics are exported too");

        void Measured(Instrument instrument)
        {
            lock (measured)
            {
                measured.Add(instrument.Name);
            }
        }
    }

    /// <summary>README's "Metrics (meter `Pastry`)" section, up to the next heading.</summary>
    internal static string MetricsSection()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        int start = readme.IndexOf("### Metrics (meter `Pastry`)", StringComparison.Ordinal);
        Assert.IsTrue(start >= 0, "README has no \"### Metrics (meter `Pastry`)\" section.");
        int end = readme.IndexOf("\n#", start + 10, StringComparison.Ordinal);
        return readme[start..(end < 0 ? readme.Length : end)];
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pastry.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Pastry.sln not found above " + AppContext.BaseDirectory);
    }
}
