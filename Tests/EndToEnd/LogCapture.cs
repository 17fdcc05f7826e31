using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// A logger factory for an in-process server that keeps every formatted line and lets a test await one, the way
/// <see cref="PastryProcess.WaitForLineAsync"/> does for a real process's output (a signal, not a poll).
/// </summary>
/// <param name="minimum">The least level kept (Debug to see the lines a server logs only when asked to).</param>
public sealed class LogCapture(LogLevel minimum = LogLevel.Information) : ILoggerFactory, ILoggerProvider
{
    private readonly LogLevel minimum = minimum;
    private readonly object gate = new();
    private readonly List<string> lines = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<string> Found)> waiters = new();

    /// <summary>Completes with the first line (already written or later) that matches <paramref name="pattern"/>.</summary>
    public Task<string> WaitForLineAsync(Regex pattern)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            var line = lines.FirstOrDefault(pattern.IsMatch);
            if (line is not null)
            {
                return Task.FromResult(line);
            }

            waiters.Add((pattern, found));
        }

        return found.Task;
    }

    /// <summary>The lines that match <paramref name="pattern"/> so far (to prove a line was logged once, not once per event).</summary>
    public IReadOnlyList<string> LinesMatching(Regex pattern)
    {
        lock (gate)
        {
            return lines.Where(line => pattern.IsMatch(line)).ToList();
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        lock (gate)
        {
            lines.Add(line);
            for (int i = waiters.Count - 1; i >= 0; i--)
            {
                if (waiters[i].Pattern.IsMatch(line))
                {
                    waiters[i].Found.TrySetResult(line);
                    waiters.RemoveAt(i);
                }
            }
        }
    }

    private sealed class Logger(LogCapture capture) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= capture.minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                capture.Add(formatter(state, exception));
            }
        }
    }
}
