using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;

namespace CartRecovery.Host;

/// <summary>What a long command has done: events consumed (valid and dead-lettered), of how many if known, and the
/// records still behind the input's high watermarks.</summary>
public readonly record struct ProgressSample(long Done, long? Total, long Lag);

/// <summary>
/// Live progress of a long command (main job, replay, backtest, bench): events consumed of the total, rate, lag,
/// elapsed and remaining time. On a terminal it is a Spectre.Console progress bar on stdout; otherwise (a pipe, a
/// file, CI, a pod) a plain line on stderr every <see cref="PlainInterval"/>, so stdout stays what scripts and
/// tests parse. The plain line has a fixed, parseable shape (<see cref="TryParse"/>): the backtest reads its child
/// replays' lines to drive its own bar.
/// </summary>
public sealed partial class RunProgress : IAsyncDisposable
{
    /// <summary>Seconds between plain lines (default 10); the backtest asks its child replays for 1.</summary>
    public const string IntervalVariable = "CARTRECOVERY_PROGRESS_INTERVAL";

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;

    private RunProgress(string label, Func<ProgressSample> sample, bool interactive)
    {
        _running = interactive ? RunInteractiveAsync(label, sample, _stop.Token) : RunPlainAsync(label, sample, Console.Error, PlainInterval, _stop.Token);
    }

    public static TimeSpan PlainInterval =>
        double.TryParse(Environment.GetEnvironmentVariable(IntervalVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(10);

    /// <summary>A live bar only where someone watches: stdout is a terminal and not CI.</summary>
    public static bool IsInteractive =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null && AnsiConsole.Profile.Capabilities.Interactive;

    public static RunProgress Start(string label, Func<ProgressSample> sample) => new(label, sample, IsInteractive);

    private static async Task RunInteractiveAsync(string label, Func<ProgressSample> sample, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var rate = new RecentRate();
        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(label);
                while (true)
                {
                    var now = sample();
                    var total = Math.Max(1, now.Total ?? now.Done + now.Lag);
                    task.MaxValue = total;
                    task.Value = Math.Min(now.Done, total);
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                        $"{label}: {now.Done:N0}/{total:N0} events, {rate.Update(now.Done, clock.Elapsed):N0}/s, lag {now.Lag:N0}"));
                    if (stop.IsCancellationRequested) break;
                    try { await Task.Delay(250, stop); } catch (OperationCanceledException) { }
                }
            });
    }

    private static async Task RunPlainAsync(string label, Func<ProgressSample> sample, TextWriter output, TimeSpan interval, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var rate = new RecentRate();
        while (!stop.IsCancellationRequested)
        {
            try { await Task.Delay(interval, stop); } catch (OperationCanceledException) { return; }
            var now = sample();
            output.WriteLine(Format(label, now, clock.Elapsed, rate.Update(now.Done, clock.Elapsed)));
            output.Flush();
        }
    }

    /// <summary>Events per second over about the last 5 s: the rate now, not diluted by start-up.</summary>
    private sealed class RecentRate
    {
        private readonly Queue<(TimeSpan At, long Done)> _samples = new();

        public double Update(long done, TimeSpan at)
        {
            _samples.Enqueue((at, done));
            while (_samples.Count > 2 && at - _samples.Peek().At > TimeSpan.FromSeconds(5)) _samples.Dequeue();
            var (firstAt, firstDone) = _samples.Peek();
            var seconds = (at - firstAt).TotalSeconds;
            return seconds > 0 ? (done - firstDone) / seconds : 0;
        }
    }

    /// <summary>The plain line: <c>progress: LABEL DONE/TOTAL events (PCT%), RATE events/s, lag LAG, elapsed HH:MM:SS, remaining HH:MM:SS</c>
    /// (TOTAL and remaining are <c>?</c> when unknown).</summary>
    public static string Format(string label, ProgressSample sample, TimeSpan elapsed, double rate)
    {
        long? total = sample.Total ?? sample.Done + sample.Lag;
        var percent = total is > 0 ? Math.Min(100, 100.0 * sample.Done / total.Value).ToString("F1", CultureInfo.InvariantCulture) : "?";
        var remaining = total is { } t && rate > 0 ? Clock(TimeSpan.FromSeconds(Math.Max(0, t - sample.Done) / rate)) : "?";
        return string.Create(CultureInfo.InvariantCulture,
            $"progress: {label} {sample.Done}/{(total?.ToString(CultureInfo.InvariantCulture) ?? "?")} events ({percent}%), {rate:F0} events/s, lag {sample.Lag}, elapsed {Clock(elapsed)}, remaining {remaining}");
    }

    private static string Clock(TimeSpan span) => span.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture);

    /// <summary>Reads a plain line back (the backtest's view of its child replays).</summary>
    public static bool TryParse(string line, out ProgressSample sample)
    {
        sample = default;
        var match = PlainLine().Match(line);
        if (!match.Success) return false;
        long? total = match.Groups["total"].Value == "?" ? null : long.Parse(match.Groups["total"].Value, CultureInfo.InvariantCulture);
        sample = new ProgressSample(long.Parse(match.Groups["done"].Value, CultureInfo.InvariantCulture), total, long.Parse(match.Groups["lag"].Value, CultureInfo.InvariantCulture));
        return true;
    }

    [GeneratedRegex(@"^progress: .* (?<done>\d+)/(?<total>\d+|\?) events \(.*\), \d+ events/s, lag (?<lag>-?\d+), elapsed")]
    private static partial Regex PlainLine();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        _stop.Dispose();
    }
}
