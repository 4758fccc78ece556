namespace CartRecovery.Streaming;

/// <summary>Settings of the stream worker, bound from configuration (section "Worker") or the CLI.</summary>
public sealed record WorkerSettings
{
    public required string BootstrapServers { get; init; }
    public string GroupId { get; init; } = "cartrecovery-worker";
    /// <summary>Static membership: a restarted pod with the same id gets its partitions back without a rebalance.</summary>
    public string? GroupInstanceId { get; init; }
    /// <summary>Exit once every input partition is consumed, treating end of input as end of event time.</summary>
    public bool Drain { get; init; }
    public int MaxBatchRecords { get; init; } = 2_000;
    /// <summary>How long consumed records may wait to be handed to the partition actors while input keeps coming:
    /// bounds the latency a steady trickle of input adds (a proactive chat must go out within a fraction of a second).</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(10);
    /// <summary>Back-pressure: batches handed to partition actors and not yet decided.</summary>
    public int MaxUndecidedBatches { get; init; } = 64;
    /// <summary>Back-pressure: input records whose outputs are not yet written (about a second of input or more).</summary>
    public long MaxUnwrittenRecords { get; init; } = 500_000;
    /// <summary>Live mode: after this long without input, a partition's watermark follows the wall clock.</summary>
    public TimeSpan IdleWatermarkAfter { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How often each partition's state is checkpointed (and its offsets committed).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>SIGTERM: how long to finish in-flight work, checkpoint and commit before leaving anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public required Checkpointing.CheckpointStoreSettings Checkpoints { get; init; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers)) throw new ArgumentException("Worker:BootstrapServers is required (e.g. --bootstrap localhost:9092)");
        if (string.IsNullOrWhiteSpace(GroupId)) throw new ArgumentException("Worker:GroupId must not be empty");
        if (MaxBatchDelay < TimeSpan.Zero) throw new ArgumentException($"Worker:MaxBatchDelay must be >= 0 (got {MaxBatchDelay})");
        if (MaxBatchRecords <= 0) throw new ArgumentException($"Worker:MaxBatchRecords must be > 0 (got {MaxBatchRecords})");
        if (CheckpointInterval <= TimeSpan.Zero) throw new ArgumentException($"Worker:CheckpointInterval must be > 0 (got {CheckpointInterval})");
        if (MaxUndecidedBatches <= 0) throw new ArgumentException($"Worker:MaxUndecidedBatches must be > 0 (got {MaxUndecidedBatches})");
        if (MaxUnwrittenRecords <= 0) throw new ArgumentException($"Worker:MaxUnwrittenRecords must be > 0 (got {MaxUnwrittenRecords})");
    }
}
