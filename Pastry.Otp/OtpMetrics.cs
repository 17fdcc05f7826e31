using System.Diagnostics.Metrics;
using Pastry.Wire;

namespace Pastry.Otp;

/// <summary>
/// The OTP's metrics on the <c>Pastry</c> meter (ARCHITECTURE 8), readable with
/// <c>dotnet-counters monitor --counters Pastry</c>.
/// </summary>
public sealed class OtpMetrics : IDisposable
{
    private readonly Meter meter = new("Pastry", "1.0");
    private readonly Counter<long> ejects;
    private readonly Counter<long> sessionsOpened;
    private int sessions;

    /// <summary>Creates the instruments.</summary>
    public OtpMetrics()
    {
        ejects = meter.CreateCounter<long>("pastry.client_agent.ejects", unit: "{eject}", description: "Sessions ejected, by code");
        sessionsOpened = meter.CreateCounter<long>("pastry.client_agent.sessions_opened", unit: "{session}", description: "Client connections accepted");
        meter.CreateObservableGauge("pastry.client_agent.sessions", () => Volatile.Read(ref sessions), unit: "{session}", description: "Connected client sessions");
    }

    /// <summary>Connected sessions now.</summary>
    public int Sessions => Volatile.Read(ref sessions);

    /// <summary>Counts an eject.</summary>
    public void Ejected(EjectCode code) => ejects.Add(1, new KeyValuePair<string, object?>("code", (int)code));

    /// <summary>Counts a new session.</summary>
    public void SessionOpened()
    {
        Interlocked.Increment(ref sessions);
        sessionsOpened.Add(1);
    }

    /// <summary>Counts a closed session.</summary>
    public void SessionClosed() => Interlocked.Decrement(ref sessions);

    /// <inheritdoc />
    public void Dispose() => meter.Dispose();
}
