namespace CartRecovery.Streaming;

/// <summary>Live mode: where the watermark of a partition without input goes, so its reminders still fall due.</summary>
public enum IdleWatermark
{
    /// <summary>To the newest event time this worker has seen on its other partitions, never past it: a partition
    /// that is merely quiet keeps pace with the stream, while a pause of the whole input (an upstream outage) moves
    /// nothing, so the backlog that follows is decided as if it had never paused. With no input at all, reminders wait
    /// for the next event.</summary>
    Follow,
    /// <summary>To the wall clock once every partition of this worker is idle: reminders fall due in total silence,
    /// but a backlog delivered after an upstream outage arrives behind the watermark and is treated as late.</summary>
    WallClock,
    /// <summary>Never: only input moves the watermark.</summary>
    Off,
}

/// <summary>Settings of the stream worker, bound from configuration (section "Worker") or the CLI.</summary>
public sealed record WorkerSettings
{
    public required string BootstrapServers { get; init; }
    /// <summary>The operator's Kafka client configuration (security, SASL, TLS, client id, tuning; section "Kafka"),
    /// used at <see cref="BootstrapServers"/>. Null: a plaintext cluster.</summary>
    public Kafka.Configuration.KafkaClientSettings? Kafka { get; init; }
    /// <summary>What every Kafka client of the worker is built from (<see cref="Ingest.WorkerKafkaConfig"/>).</summary>
    public Kafka.Configuration.KafkaClientSettings KafkaClients =>
        Kafka?.WithBootstrapServers(BootstrapServers) ?? CartRecovery.Kafka.Configuration.KafkaClientSettings.Plaintext(BootstrapServers);
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
    /// <summary>Back-pressure: decided batches waiting for the analytics insert beyond the group being written (the
    /// writer inserts about once a second, so this must hold a second of input or it caps the throughput: 256 batches
    /// of up to <see cref="MaxBatchRecords"/> records).</summary>
    public int MaxUnwrittenBatches { get; init; } = 256;
    /// <summary>Live mode: where an idle partition's watermark goes (see <see cref="Streaming.IdleWatermark"/>).</summary>
    public IdleWatermark IdleWatermark { get; init; } = IdleWatermark.Follow;
    /// <summary>The policy's <c>max_future_skew</c> (set from the policy by <see cref="Hosting.WorkerHosting"/>): the merge of a
    /// partition's topics orders an event one clock put further ahead than this at the partition's frontier, so it
    /// holds back no other topic's records (<see cref="Ingest.PartitionInputMerger"/>).</summary>
    public TimeSpan MaxFutureSkew { get; init; } = Domain.Policy.RecoveryPolicy.DefaultMaxFutureSkew;
    /// <summary>Live mode: a caught-up partition without input for this long is idle.</summary>
    public TimeSpan IdleWatermarkAfter { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Live mode: a partition whose newest event time is this far behind the wall clock is reading a backlog
    /// (an upstream outage flushing, a catch-up). There latency no longer matters but order does: the producer may
    /// still be writing, and a topic that is momentarily at its end (a record in flight) must not let the other
    /// topics' later records pass. So its merge treats an empty topic as finished only after it stayed at its end
    /// for <see cref="IdleWatermarkAfter"/>. Near real time an empty topic unblocks at once (proactive chat latency).</summary>
    public TimeSpan BacklogBehind { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>How often each partition's state is checkpointed (and its offsets committed).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>SIGTERM: how long to finish in-flight work, checkpoint and commit before leaving anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public required Checkpointing.CheckpointStoreSettings Checkpoints { get; init; }
    /// <summary>How long the worker (live or draining) goes on without any Kafka broker reachable before it says so,
    /// turns not-ready and exits non-zero (a drain would otherwise wait forever, a live worker hide the outage).</summary>
    public TimeSpan BrokerPatience { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary><c>--start-over</c>: a partition without a checkpoint whose group has committed offsets is rebuilt from the
    /// beginning of the input (every decision taken again) instead of stopping the worker. Only from the command line.</summary>
    public bool StartOver { get; init; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers)) throw new ArgumentException("Worker:BootstrapServers is required (e.g. --bootstrap localhost:9092)");
        if (string.IsNullOrWhiteSpace(GroupId)) throw new ArgumentException("Worker:GroupId must not be empty");
        if (MaxBatchDelay < TimeSpan.Zero) throw new ArgumentException($"Worker:MaxBatchDelay must be >= 0 (got {MaxBatchDelay})");
        if (MaxBatchRecords <= 0) throw new ArgumentException($"Worker:MaxBatchRecords must be > 0 (got {MaxBatchRecords})");
        if (CheckpointInterval <= TimeSpan.Zero) throw new ArgumentException($"Worker:CheckpointInterval must be > 0 (got {CheckpointInterval})");
        if (MaxUndecidedBatches <= 0) throw new ArgumentException($"Worker:MaxUndecidedBatches must be > 0 (got {MaxUndecidedBatches})");
        if (BacklogBehind <= TimeSpan.Zero) throw new ArgumentException($"Worker:BacklogBehind must be > 0 (got {BacklogBehind})");
        if (IdleWatermarkAfter <= TimeSpan.Zero) throw new ArgumentException($"Worker:IdleWatermarkAfter must be > 0 (got {IdleWatermarkAfter})");
        if (!Enum.IsDefined(IdleWatermark)) throw new ArgumentException($"Worker:IdleWatermark must be follow, wall-clock or off (got {IdleWatermark})");
        if (BrokerPatience <= TimeSpan.Zero) throw new ArgumentException($"Worker:BrokerPatience must be > 0 (got {BrokerPatience})");
        if (ShutdownTimeout <= TimeSpan.Zero) throw new ArgumentException($"Worker:ShutdownTimeout must be > 0 (got {ShutdownTimeout})");
        if (MaxUnwrittenBatches <= 0) throw new ArgumentException($"Worker:MaxUnwrittenBatches must be > 0 (got {MaxUnwrittenBatches})");
    }
}

/// <summary>The worker could not go on at run time (a broker gone past its patience, a checkpoint store lost or damaged,
/// an output refused): the CLI exits 3 with this message and its causes, distinct from configuration errors (exit 2).</summary>
public sealed class WorkerFailedException(string message, Exception? inner = null) : Exception(message, inner);
