using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Pastry.Ai;

/// <summary>
/// The AI's instruments on the <c>Pastry</c> meter, in one place: its link to the Message Director, its objects and its
/// logic queue, one series per AI in the process (tag <c>ai</c>). Listed with the OTP's in README.md ("Operate it").
/// </summary>
internal static class AiMetrics
{
    private static readonly ConcurrentDictionary<AiRepository, byte> Live = new();
    private static readonly Meter Meter = new("Pastry", "1.0");
    private static readonly Counter<long> Reconnects = Meter.CreateCounter<long>("pastry.ai.link.reconnects", unit: "{reconnect}", description: "Times an AI re-established its dropped link to the Message Director");

    static AiMetrics()
    {
        Meter.CreateObservableGauge("pastry.ai.link.state", () => Observe(ai => ai.IsConnected ? 1 : 0), unit: "{link}", description: "1 while the AI's link to the Message Director is up (always 1 in the OTP's process), 0 while it reconnects");
        Meter.CreateObservableGauge("pastry.ai.objects", () => Observe(ai => ai.ObjectCount), unit: "{object}", description: "Objects the AI created that still exist");
        Meter.CreateObservableGauge("pastry.ai.logic_queue.depth", () => Observe(ai => ai.LogicQueueDepth), unit: "{callback}", description: "Callbacks waiting on the AI's logic loop (its mailbox)");
    }

    /// <summary>Starts reporting <paramref name="ai"/>.</summary>
    public static void Add(AiRepository ai) => Live[ai] = 0;

    /// <summary>Stops reporting <paramref name="ai"/>.</summary>
    public static void Remove(AiRepository ai) => Live.TryRemove(ai, out _);

    /// <summary>Counts a re-established link.</summary>
    public static void Reconnected(AiRepository ai) => Reconnects.Add(1, new KeyValuePair<string, object?>("ai", ai.Channel.Id.ToString()));

    private static IEnumerable<Measurement<int>> Observe(Func<AiRepository, int> read) =>
        Live.Keys.Select(ai => new Measurement<int>(read(ai), new KeyValuePair<string, object?>("ai", ai.Channel.Id.ToString()))).ToList();
}
