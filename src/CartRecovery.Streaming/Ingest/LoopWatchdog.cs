using Microsoft.Extensions.Logging;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Says what the consume loop is stuck on. The loop blocks on purpose (back-pressure, a checkpoint before a commit, a
/// synchronous offset commit, a drain's progress record awaiting its acknowledgement); a step that lasts
/// <see cref="ReportAfter"/> or longer is logged with its duration and the pipeline's state, again every
/// <see cref="ReportAfter"/>, so a stalled worker tells the operator (and a failed test's log) where it waits instead of
/// going silent.
/// </summary>
public sealed class LoopWatchdog : IDisposable
{
    public static readonly TimeSpan ReportAfter = TimeSpan.FromSeconds(30);

    private readonly long _reportAfterMs;
    private readonly ILogger _logger;
    private readonly Func<string> _state;
    private readonly Action _onStall;
    private readonly Timer _timer;
    private string _step = "starting";
    private long _stepStarted = Environment.TickCount64;
    private long _reportedAt;

    /// <param name="state">The pipeline's state for the report (names no shopper).</param>
    /// <param name="onStall">Called with each report (the partition actors log their own stage).</param>
    /// <param name="reportAfter">How long a step lasts before it is reported (default <see cref="ReportAfter"/>).</param>
    public LoopWatchdog(ILogger logger, Func<string> state, Action onStall, TimeSpan? reportAfter = null)
    {
        _logger = logger;
        _state = state;
        _onStall = onStall;
        var after = reportAfter ?? ReportAfter;
        _reportAfterMs = (long)after.TotalMilliseconds;
        var every = after / 6;
        _timer = new Timer(_ => Check(), null, every, every);
    }

    /// <summary>The loop starts <paramref name="step"/> (a constant phrase: cheap on the hot path); a step the loop repeats
    /// each time round (polling) starts over each time.</summary>
    public void Enter(string step)
    {
        // No lock on the hot path: a report may pair a step with a neighbouring start time, which costs nothing.
        Volatile.Write(ref _step, step);
        Volatile.Write(ref _stepStarted, Environment.TickCount64);
    }

    private void Check()
    {
        var now = Environment.TickCount64;
        var started = Volatile.Read(ref _stepStarted);
        var step = Volatile.Read(ref _step);
        var lasted = now - started;
        // Once per step after ReportAfter, then every ReportAfter while it lasts (the timer callbacks do not overlap in practice;
        // a rare double report is harmless).
        if (lasted < _reportAfterMs || (_reportedAt >= started && now - _reportedAt < _reportAfterMs)) return;
        _reportedAt = now;
        try
        {
            _logger.LogWarning("the consume loop has been {Step} for {Seconds:F0} s: {State}", step, lasted / 1000.0, _state());
            _onStall();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A report must never take the worker down.
            _logger.LogWarning("stall report failed: {Reason}", e.Message);
        }
    }

    public void Dispose() => _timer.Dispose();
}
