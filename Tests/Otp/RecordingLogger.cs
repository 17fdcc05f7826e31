using Microsoft.Extensions.Logging;

namespace Pastry.Tests.Otp;

/// <summary>
/// A logger that keeps every line at every level, with its exception, for the in-process State Server tests where a
/// log line is the only effect of a path (a refusal to a channel that gets no Error, a drop that publishes nothing).
/// The State Server logs on its own task before it answers, so a test reads <see cref="Lines"/> after a barrier.
/// </summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message, Exception? Exception)> lines = new();

    /// <summary>Every line logged so far.</summary>
    public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> Lines
    {
        get
        {
            lock (lines)
            {
                return lines.ToList();
            }
        }
    }

    /// <summary>The messages logged at <paramref name="level"/> so far, in order.</summary>
    public List<string> At(LogLevel level) => Lines.Where(l => l.Level == level).Select(l => l.Message).ToList();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (lines)
        {
            lines.Add((logLevel, formatter(state, exception), exception));
        }
    }
}
