using System.Diagnostics.Metrics;
using Xunit;

namespace CartRecovery.Streaming.Tests.Metrics;

/// <summary>The per-partition gauges operators alert on, read the way an exporter reads them (a MeterListener).</summary>
public sealed class PartitionGaugeTests
{
    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Observes every gauge of one worker's meter: name → partition → value.</summary>
    private static Dictionary<string, Dictionary<int, double>> Observe(WorkerMetrics metrics)
    {
        var seen = new Dictionary<string, Dictionary<int, double>>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Other tests' workers share the meter name: listen only to this one's meter.
            if (ReferenceEquals(instrument.Meter, MeterField.GetValue(metrics))) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var partition = -1;
            foreach (var tag in tags) if (tag.Key == "partition") partition = (int)tag.Value!;
            if (!seen.TryGetValue(instrument.Name, out var byPartition)) seen[instrument.Name] = byPartition = new();
            byPartition[partition] = value;
        }
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }

    private static readonly System.Reflection.FieldInfo MeterField =
        typeof(WorkerMetrics).GetField("_meter", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;

    [Fact]
    public void Checkpoint_age_counts_from_taking_the_partition_then_from_each_saved_checkpoint()
    {
        var clock = new ManualClock(T0);
        using var metrics = new WorkerMetrics(clock: clock);
        metrics.Lag(0, 120);
        metrics.Lag(1, 0);
        clock.Now = T0.AddSeconds(7);
        Assert.Equal(7, Observe(metrics)["cartrecovery_checkpoint_age"][0]);

        metrics.Checkpointed(0, bytes: 1000, TimeSpan.FromMilliseconds(30));
        clock.Now = T0.AddSeconds(10);
        var gauges = Observe(metrics);
        Assert.Equal(3, gauges["cartrecovery_checkpoint_age"][0]);
        Assert.Equal(10, gauges["cartrecovery_checkpoint_age"][1]);
        Assert.Equal(120, gauges["cartrecovery_consumer_lag"][0]);
        Assert.Equal(120, metrics.TotalLag);

        metrics.Released(0);
        gauges = Observe(metrics);
        Assert.False(gauges["cartrecovery_checkpoint_age"].ContainsKey(0), "a released partition is reported by its new owner, not here");
        Assert.False(gauges["cartrecovery_consumer_lag"].ContainsKey(0));
    }

    [Fact]
    public void Watermark_delay_is_the_wall_clock_minus_the_settled_watermark_and_ignores_start_and_end_of_time()
    {
        var clock = new ManualClock(T0);
        using var metrics = new WorkerMetrics(clock: clock);
        metrics.Watermark(2, T0.AddMinutes(-5));
        metrics.Watermark(3, DateTimeOffset.MinValue);
        metrics.Watermark(4, DateTimeOffset.MaxValue);
        var delay = Observe(metrics)["cartrecovery_watermark_delay"];
        Assert.Equal(300, delay[2]);
        Assert.Equal([2], delay.Keys);
    }

    [Fact]
    public void Readiness_follows_the_worker_health()
    {
        var health = new WorkerHealth();
        using var metrics = new WorkerMetrics(health);
        Assert.Equal(0, Observe(metrics)["cartrecovery_ready"][-1]);
        health.PartitionsRestored();
        Assert.Equal(1, Observe(metrics)["cartrecovery_ready"][-1]);
        health.Stopping();
        Assert.Equal(0, Observe(metrics)["cartrecovery_ready"][-1]);
    }
}

/// <summary>The checkpoint-size histogram's buckets fit checkpoint sizes (the exporter's defaults stop at 10,000).</summary>
public sealed class CheckpointSizeBucketTests
{
    [Fact]
    public void An_80_KB_checkpoint_falls_in_a_finite_bucket_and_neighbouring_sizes_in_different_ones()
    {
        using var metrics = new WorkerMetrics();
        IReadOnlyList<long>? advised = null;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument is System.Diagnostics.Metrics.Histogram<long> { Name: "cartrecovery_checkpoint_bytes" } histogram
                && ReferenceEquals(instrument.Meter, typeof(WorkerMetrics).GetField("_meter", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(metrics)))
                advised = histogram.Advice?.HistogramBucketBoundaries;
        };
        listener.Start();

        Assert.NotNull(advised);
        static int Bucket(IReadOnlyList<long> bounds, long bytes) => bounds.TakeWhile(b => bytes > b).Count();
        Assert.True(Bucket(advised, 80_000) < advised.Count, "80 KB lands in +Inf");
        Assert.True(Bucket(advised, 50 * 1024 * 1024) < advised.Count, "50 MiB lands in +Inf");
        Assert.NotEqual(Bucket(advised, 2_000), Bucket(advised, 80_000));
        Assert.NotEqual(Bucket(advised, 80_000), Bucket(advised, 2_000_000));
        Assert.Equal(advised.Order(), advised);
    }
}
