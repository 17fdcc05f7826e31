using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pastry.Bench;

/// <summary>
/// What a running bench shows while it works: phase messages, a step with a bar (clients connected), and live figures
/// that scenarios register (counters shown with their rate per second, gauges shown as read). On a terminal it is a
/// Spectre.Console live view on standard error, redrawn four times a second; otherwise (redirected, or
/// <c>--plain</c>) the same information as plain <c>bench: ...</c> lines, figures every five seconds, so that logs and
/// tests read text. Standard output carries only the report.
/// </summary>
internal sealed class BenchProgress : IAsyncDisposable
{
    private const int PhaseLines = 6;
    private static readonly TimeSpan LiveRefresh = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan PlainRefresh = TimeSpan.FromSeconds(5);
    private static BenchProgress current = new(null, "bench", null);

    private readonly object gate = new();
    private readonly IAnsiConsole? live;
    private readonly string title;
    private readonly TextWriter? plain;
    private readonly List<string> phases = new();
    private readonly List<Figure> figures = new();
    private readonly Stopwatch elapsed = Stopwatch.StartNew();
    private readonly CancellationTokenSource stop = new();
    private readonly Task? refresher;
    private string? stepLabel;
    private int stepDone;
    private int stepTotal;

    private BenchProgress(IAnsiConsole? live, string title, TextWriter? plain)
    {
        this.live = live;
        this.title = title;
        this.plain = plain;
        if (live is not null)
        {
            refresher = live.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(RefreshLiveAsync);
        }
        else if (plain is not null)
        {
            refresher = RefreshPlainAsync();
        }
    }

    /// <summary>The progress of the run in this process (a plain writer to standard error before a run starts).</summary>
    public static BenchProgress Current => Volatile.Read(ref current);

    /// <summary>Whether this run shows the Spectre.Console live view.</summary>
    public bool IsLive => live is not null;

    /// <summary>
    /// Starts the progress of a run and makes it <see cref="Current"/>: the live view when <paramref name="live"/>,
    /// plain lines on standard error otherwise.
    /// </summary>
    public static BenchProgress Start(string title, bool live)
    {
        var console = live ? CreateConsole(Console.Error) : null;
        var progress = new BenchProgress(console, title, live ? null : Console.Error);
        Volatile.Write(ref current, progress);
        return progress;
    }

    /// <summary>A Spectre console on <paramref name="writer"/> with ANSI and interaction on, whatever the writer is.</summary>
    public static IAnsiConsole CreateConsole(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.Yes,
        ColorSystem = ColorSystemSupport.Standard,
        Interactive = InteractionSupport.Yes,
        Out = new AnsiConsoleOutput(writer),
    });

    /// <summary>Reports what the run is doing now (kept as one of the last few lines of the view).</summary>
    public void Phase(string message)
    {
        lock (gate)
        {
            phases.Add($"{elapsed.Elapsed.TotalSeconds,6:0.0} s  {message}");
            if (phases.Count > PhaseLines)
            {
                phases.RemoveAt(0);
            }
        }

        plain?.WriteLine($"bench: {message}");
    }

    /// <summary>Shows a step with a bar, for example "clients connected" 250 of 1,000. <paramref name="done"/> = total ends it.</summary>
    public void Step(string label, int done, int total)
    {
        lock (gate)
        {
            stepLabel = done >= total ? null : label;
            stepDone = done;
            stepTotal = total;
        }
    }

    /// <summary>A live counter, shown with its total and its rate per second, until the returned handle is disposed.</summary>
    public IDisposable Counter(string label, Func<long> read) => Add(new Figure(label, read, null));

    /// <summary>A live value read on each refresh (for example server CPU), until the returned handle is disposed.</summary>
    public IDisposable Gauge(string label, Func<string?> read) => Add(new Figure(label, null, read));

    /// <summary>Stops the refresh and leaves the last view on screen.</summary>
    public async ValueTask DisposeAsync()
    {
        if (stop.IsCancellationRequested)
        {
            return;
        }

        await stop.CancelAsync().ConfigureAwait(false);
        if (refresher is not null)
        {
            await refresher.ConfigureAwait(false);
        }
    }

    private IDisposable Add(Figure figure)
    {
        lock (gate)
        {
            figures.Add(figure);
        }

        return new Removal(this, figure);
    }

    private async Task RefreshLiveAsync(LiveDisplayContext context)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(LiveRefresh, stop.Token).ConfigureAwait(false);
                context.UpdateTarget(Render());
            }
        }
        catch (OperationCanceledException)
        {
        }

        context.UpdateTarget(Render());
    }

    private async Task RefreshPlainAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(PlainRefresh, stop.Token).ConfigureAwait(false);
                string line = PlainFigures();
                if (line.Length > 0)
                {
                    plain!.WriteLine($"bench: {elapsed.Elapsed.TotalSeconds:0} s  {line}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private string PlainFigures()
    {
        var parts = new List<string>();
        lock (gate)
        {
            foreach (var figure in figures)
            {
                var (value, rate) = figure.Sample();
                parts.Add(rate is null ? $"{figure.Label} {value}" : $"{figure.Label} {value} ({rate}/s)");
            }
        }

        return string.Join(", ", parts);
    }

    private IRenderable Render()
    {
        var rows = new List<IRenderable>
        {
            new Markup($"[bold]pastry bench {Markup.Escape(title)}[/]  [grey]{elapsed.Elapsed.TotalSeconds:0.0} s[/]"),
        };
        lock (gate)
        {
            if (stepLabel is not null && stepTotal > 0)
            {
                const int Width = 30;
                int filled = (int)((long)Width * stepDone / stepTotal);
                rows.Add(new Markup($"[green]{new string('█', filled)}[/][grey]{new string('░', Width - filled)}[/] {stepDone.ToString("#,0", CultureInfo.InvariantCulture)} of {stepTotal.ToString("#,0", CultureInfo.InvariantCulture)} {Markup.Escape(stepLabel)}"));
            }

            if (figures.Count > 0)
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumn("live").AddColumn(new TableColumn("value").RightAligned()).AddColumn(new TableColumn("per second").RightAligned());
                foreach (var figure in figures)
                {
                    var (value, rate) = figure.Sample();
                    table.AddRow(Markup.Escape(figure.Label), Markup.Escape(value), Markup.Escape(rate ?? string.Empty));
                }

                rows.Add(table);
            }

            foreach (string phase in phases)
            {
                rows.Add(new Markup($"[grey]{Markup.Escape(phase)}[/]"));
            }
        }

        return new Rows(rows);
    }

    private void Remove(Figure figure)
    {
        lock (gate)
        {
            figures.Remove(figure);
        }
    }

    /// <summary>One live figure: a counter (total and rate since the previous sample) or a gauge.</summary>
    private sealed class Figure(string label, Func<long>? counter, Func<string?>? gauge)
    {
        private long lastValue;
        private long lastTimestamp;

        public string Label => label;

        public (string Value, string? Rate) Sample()
        {
            if (counter is null)
            {
                return (gauge!() ?? "n/a", null);
            }

            long value = counter();
            long now = Stopwatch.GetTimestamp();
            string? rate = null;
            if (lastTimestamp != 0 && now > lastTimestamp)
            {
                double perSecond = (value - lastValue) * (double)Stopwatch.Frequency / (now - lastTimestamp);
                rate = perSecond.ToString("#,0", CultureInfo.InvariantCulture);
            }

            lastValue = value;
            lastTimestamp = now;
            return (value.ToString("#,0", CultureInfo.InvariantCulture), rate);
        }
    }

    private sealed class Removal(BenchProgress progress, Figure figure) : IDisposable
    {
        public void Dispose() => progress.Remove(figure);
    }
}
