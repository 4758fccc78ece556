using System.Collections.Concurrent;
using CartRecovery.Streaming.Ingest;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>A consume loop stuck in one step says which, for how long, and in what state, instead of going silent.</summary>
public sealed class LoopWatchdogSpecs
{
    [Fact]
    public async Task A_step_that_lasts_is_reported_with_the_pipeline_state_and_the_partitions_are_asked_for_theirs()
    {
        var logger = new CapturingLogger();
        var stalls = 0;
        using var watchdog = new LoopWatchdog(logger, () => "2 batches not written", () => Interlocked.Increment(ref stalls), TimeSpan.FromMilliseconds(300));
        watchdog.Enter("committing offsets (synchronous)");

        // Waits for the report (however slow the machine), never for a time.
        while (logger.Lines.IsEmpty) await Task.Delay(50);
        var line = logger.Lines.First();
        Assert.Contains("committing offsets (synchronous)", line);
        Assert.Contains("2 batches not written", line);
        Assert.True(Volatile.Read(ref stalls) >= 1);
    }

    [Fact]
    public async Task A_report_failure_is_logged_and_never_thrown_into_the_timer()
    {
        var logger = new CapturingLogger();
        using var watchdog = new LoopWatchdog(logger, () => throw new InvalidOperationException("state unavailable"), () => { }, TimeSpan.FromMilliseconds(300));
        watchdog.Enter("waiting for the outputs to be written and the checkpoints saved");
        while (!logger.Lines.Any(l => l.Contains("stall report failed"))) await Task.Delay(50);
        Assert.Contains(logger.Lines, l => l.Contains("state unavailable"));
    }

    private sealed class CapturingLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception));
    }
}
