using System.Diagnostics;
using System.Diagnostics.Metrics;
using CartRecovery.Streaming;

namespace CartRecovery.Load;

/// <summary>One sink flush of the output writer as seen through the worker's own instruments.</summary>
public sealed record SinkFlush(double StartMs, double EndMs, long Rows, long Events, int Batches, int Triggers)
{
    public double DurationMs => EndMs - StartMs;
}

/// <summary>
/// Watches the worker's System.Diagnostics.Metrics instruments (meter "CartRecovery.Worker") with a MeterListener,
/// without touching the worker: during one flush the output writer records triggers (per produced trigger) and
/// suppressions, then rows_written once per table insert, then events_consumed once per written batch. A flush is
/// the run of measurements that ends with events_consumed. Its duration runs from its first measurement to its
/// last, so it misses the part before the first of them (an underestimate for flushes without triggers).
/// </summary>
public sealed class SinkObserver : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();
    private readonly List<SinkFlush> _flushes = [];
    private double? _start;
    private double _lastEventsAt = double.NegativeInfinity;
    private long _rows, _events;
    private int _batches, _triggers;

    public SinkObserver()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == WorkerMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "cartrecovery_checkpoint_duration") lock (_gate) _checkpointMs.Add(value * 1000);
        });
        _listener.Start();
    }

    /// <summary>Events the output writer reported written so far.</summary>
    public long EventsWritten => Interlocked.Read(ref _eventsWritten);
    private long _eventsWritten;

    private readonly List<double> _checkpointBytes = [];
    private readonly List<double> _checkpointMs = [];

    /// <summary>Saved partition checkpoints: sizes (bytes) and capture-to-saved durations (ms), from the worker's instruments.</summary>
    public (IReadOnlyList<double> Bytes, IReadOnlyList<double> Ms) Checkpoints
    {
        get { lock (_gate) return ([.. _checkpointBytes], [.. _checkpointMs]); }
    }

    public IReadOnlyList<SinkFlush> Flushes
    {
        get { lock (_gate) { Close(); return [.. _flushes]; } }
    }

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        var now = _clock.Elapsed.TotalMilliseconds;
        lock (_gate)
        {
            if (instrument.Name == "cartrecovery_checkpoint_bytes")
            {
                _checkpointBytes.Add(value);
                return;
            }
            if (instrument.Name == "cartrecovery_events_consumed")
            {
                // Consecutive events_consumed of one flush come in a tight loop; a long gap means a new flush.
                if (_batches > 0 && now - _lastEventsAt > 5) Close();
                _start ??= now;
                _events += value;
                Interlocked.Add(ref _eventsWritten, value);
                _batches++;
                _lastEventsAt = now;
                return;
            }
            if (instrument.Name is not ("cartrecovery_rows_written" or "cartrecovery_triggers" or "cartrecovery_suppressions")) return;
            if (_batches > 0) Close();
            _start ??= now;
            if (instrument.Name == "cartrecovery_rows_written") _rows += value;
            else if (instrument.Name == "cartrecovery_triggers") _triggers += (int)value;
        }
    }

    private void Close()
    {
        if (_start is null || _batches == 0) return;
        _flushes.Add(new SinkFlush(_start.Value, _lastEventsAt, _rows, _events, _batches, _triggers));
        _start = null;
        _rows = _events = 0;
        _batches = _triggers = 0;
    }

    public void Dispose() => _listener.Dispose();
}
