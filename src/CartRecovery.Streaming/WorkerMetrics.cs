using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace CartRecovery.Streaming;

/// <summary>
/// The worker's instruments (System.Diagnostics.Metrics, exported by OpenTelemetry/Prometheus where hosted):
/// events, dead letters, late events, triggers and suppressions by reason, active sessions, rows written.
/// The same counts feed the run summary, so what operators see and what the summary prints agree.
/// </summary>
public sealed class WorkerMetrics : IDisposable
{
    public const string MeterName = "CartRecovery.Worker";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _events;
    private readonly Counter<long> _deadLetters;
    private readonly Counter<long> _lateEvents;
    private readonly Counter<long> _duplicateEvents;
    private readonly Counter<long> _triggers;
    private readonly Counter<long> _suppressions;
    private readonly Counter<long> _rows;
    private readonly Counter<long> _idleAdvances;
    private readonly Counter<long> _outcomes;
    private readonly Histogram<long> _checkpointBytes;
    private readonly Histogram<double> _checkpointSeconds;
    private readonly Histogram<long> _flushRows;
    private readonly Histogram<double> _flushSeconds;
    private readonly ConcurrentDictionary<int, int> _activeSessions = new();
    private readonly ConcurrentDictionary<int, long> _lag = new();
    // Per partition held: when its last checkpoint was saved (or when this worker took it), and its settled watermark.
    private readonly ConcurrentDictionary<int, DateTimeOffset> _checkpointSavedAt = new();
    private readonly ConcurrentDictionary<int, DateTimeOffset> _watermarks = new();
    private readonly TimeProvider _clock;
    private long _eventCount, _deadLetterCount, _lateCount;

    /// <summary>Bucket bounds of <c>cartrecovery_checkpoint_bytes</c>: 1 KiB to 256 MiB by factors of 4. The exporter's
    /// default buckets are for milliseconds (up to 10,000), so every real checkpoint (80 KB for 3,000 shoppers) fell in +Inf.</summary>
    public static readonly IReadOnlyList<long> CheckpointByteBuckets =
        [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28];

    public WorkerMetrics(WorkerHealth? health = null, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        _events = _meter.CreateCounter<long>("cartrecovery_events_consumed", description: "Valid input events processed");
        _deadLetters = _meter.CreateCounter<long>("cartrecovery_dead_letters", description: "Rejected input records, by reason");
        _lateEvents = _meter.CreateCounter<long>("cartrecovery_late_events", description: "Events behind the watermark (applied and audited)");
        _duplicateEvents = _meter.CreateCounter<long>("cartrecovery_duplicate_events",
            description: "Redelivered events (an event_id already applied): audited, not applied again");
        _triggers = _meter.CreateCounter<long>("cartrecovery_triggers", description: "Triggers emitted, by kind and channel");
        _suppressions = _meter.CreateCounter<long>("cartrecovery_suppressions", description: "Messages not sent, by reason");
        _rows = _meter.CreateCounter<long>("cartrecovery_rows_written", description: "Rows written to the analytics store, by table");
        _idleAdvances = _meter.CreateCounter<long>("cartrecovery_idle_watermark_advances",
            description: "Live mode: watermark moves of partitions without input (--idle-watermark), by mode");
        _outcomes = _meter.CreateCounter<long>("cartrecovery_outcomes",
            description: "Outcomes of triggers reported back (outcome-events), by type and whether the worker knew the trigger (matched)");
        _checkpointBytes = _meter.CreateHistogram<long>("cartrecovery_checkpoint_bytes", unit: "By", description: "Size of a saved partition checkpoint",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = CheckpointByteBuckets });
        _checkpointSeconds = _meter.CreateHistogram<double>("cartrecovery_checkpoint_duration", unit: "s",
            description: "From capturing a partition's state to the checkpoint being saved (includes waiting for its outputs)");
        _flushRows = _meter.CreateHistogram<long>("cartrecovery_sink_flush_rows", description: "Rows written by one sink flush (all tables)");
        _flushSeconds = _meter.CreateHistogram<double>("cartrecovery_sink_flush_duration", unit: "s", description: "Duration of one sink flush (inserts and Kafka acks)");
        _meter.CreateObservableGauge("cartrecovery_active_sessions", () => _activeSessions.Values.Sum(), description: "Sessions held in memory");
        _meter.CreateObservableGauge("cartrecovery_consumer_lag",
            () => _lag.Select(l => new Measurement<long>(l.Value, new KeyValuePair<string, object?>("partition", l.Key))),
            description: "Records between the last committed checkpoint and the input high watermarks (all input topics), per partition this worker holds: input not yet durably processed");
        _meter.CreateObservableGauge("cartrecovery_checkpoint_age", () => PerPartition(_checkpointSavedAt, at => (_clock.GetUtcNow() - at).TotalSeconds), unit: "s",
            description: "Time since the partition's last saved checkpoint (or since this worker took the partition): what a crash would replay");
        _meter.CreateObservableGauge("cartrecovery_watermark_delay", () => PerPartition(_watermarks, at => (_clock.GetUtcNow() - at).TotalSeconds), unit: "s",
            description: "Wall clock minus the partition's event-time watermark: how late reminders fall due (includes the allowed lateness)");
        if (health is not null)
            _meter.CreateObservableGauge("cartrecovery_ready", () => health.IsReady ? 1 : 0,
                description: "1 while the worker owns and has restored its partitions (what /readyz reports), else 0");
    }

    private static IEnumerable<Measurement<double>> PerPartition(ConcurrentDictionary<int, DateTimeOffset> times, Func<DateTimeOffset, double> value) =>
        times.Select(t => new Measurement<double>(value(t.Value), new KeyValuePair<string, object?>("partition", t.Key)));

    /// <summary>Records behind the input high watermarks over the partitions this worker holds.</summary>
    public long TotalLag => _lag.Values.Sum();

    public long EventsConsumed => Interlocked.Read(ref _eventCount);
    public long DeadLetters => Interlocked.Read(ref _deadLetterCount);
    public long LateEvents => Interlocked.Read(ref _lateCount);
    public ConcurrentDictionary<string, long> DeadLettersByReason { get; } = new();

    public void EventsProcessed(int count, int late)
    {
        Interlocked.Add(ref _eventCount, count);
        Interlocked.Add(ref _lateCount, late);
        _events.Add(count);
        if (late > 0) _lateEvents.Add(late);
    }

    public void DeadLettered(string reason)
    {
        Interlocked.Increment(ref _deadLetterCount);
        DeadLettersByReason.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _deadLetters.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Triggered(string kind, string channel) =>
        _triggers.Add(1, new("kind", kind), new("channel", channel));

    public void IdleWatermarkAdvanced(IdleWatermark mode) =>
        _idleAdvances.Add(1, new KeyValuePair<string, object?>("mode", mode == IdleWatermark.WallClock ? "wall-clock" : "follow"));

    public void DuplicateEvent() => _duplicateEvents.Add(1);

    public void Suppressed(string reason) => _suppressions.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Checkpointed(int partition, int bytes, TimeSpan duration)
    {
        _checkpointSavedAt[partition] = _clock.GetUtcNow();
        _checkpointBytes.Record(bytes);
        _checkpointSeconds.Record(duration.TotalSeconds);
    }

    public void Flushed(int rows, TimeSpan duration)
    {
        _flushRows.Record(rows);
        _flushSeconds.Record(duration.TotalSeconds);
    }

    public void RowsWritten(string table, int count) => _rows.Add(count, new KeyValuePair<string, object?>("table", table));

    public void ActiveSessions(int partition, int count) => _activeSessions[partition] = count;

    public void Lag(int partition, long lag)
    {
        _lag[partition] = lag;
        _checkpointSavedAt.TryAdd(partition, _clock.GetUtcNow()); // held from now on: its checkpoint age counts from here
    }

    /// <summary>The partition's settled event-time watermark after a decided batch (start and end of time are not times).</summary>
    public void Watermark(int partition, DateTimeOffset settled)
    {
        if (settled == DateTimeOffset.MinValue || settled == DateTimeOffset.MaxValue) return;
        _watermarks[partition] = settled;
    }

    /// <summary>The partition moved to another worker: it reports the lag from now on.</summary>
    public void Released(int partition)
    {
        _lag.TryRemove(partition, out _);
        _activeSessions.TryRemove(partition, out _);
        _checkpointSavedAt.TryRemove(partition, out _);
        _watermarks.TryRemove(partition, out _);
    }

    /// <summary>An outcome reported back; unmatched ones (a trigger the state does not hold) are kept, and counted here.</summary>
    public void OutcomeReceived(string type, bool matched)
    {
        if (!matched) Interlocked.Increment(ref _unmatchedOutcomeCount);
        _outcomes.Add(1, new("type", type), new("matched", matched ? "true" : "false"));
    }

    private long _unmatchedOutcomeCount;
    public long UnmatchedOutcomes => Interlocked.Read(ref _unmatchedOutcomeCount);

    public void Dispose() => _meter.Dispose();
}
