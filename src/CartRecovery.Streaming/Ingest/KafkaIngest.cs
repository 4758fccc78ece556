using Akka.Actor;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Kafka;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Pipeline;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// The consume loop: reads the input topics in a consumer group and gives each record to its partition's
/// <see cref="PartitionFeed"/> (which validates it, rejects becoming dead letters, and merges partition p of every input
/// topic deterministically), hands the feeds' batches to the partition actors with back-pressure, asks for
/// checkpoints, and commits a partition's offsets only once a checkpoint holding the state they produced is saved
/// (which the partition actor does only after the outputs are written).
/// On assignment it restores each partition's checkpoint and seeks to its offsets; on revocation, drain and
/// shutdown it finishes the work handed out, checkpoints and commits. Runs on its own thread: a Confluent
/// consumer is not thread-safe.
/// </summary>
public sealed class KafkaIngest
{
    private readonly WorkerSettings _settings;
    private readonly IActorRef _partitions;
    private readonly WorkerPipeline _pipeline;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    // Everything known of each assigned partition, created on assignment and dropped on revocation or loss; sorted,
    // because batches, checkpoints and idle advances are handed out in partition order.
    private readonly SortedDictionary<int, PartitionFeed> _feeds = new();
    // The last command number of each partition whose feed was dropped: a feed of it assigned again numbers on from there.
    private readonly Dictionary<int, long> _lastSequences = new();
    private long _staleRecords;
    // --drain: what the group must finish, and when this worker last read the group's progress.
    private DrainScope? _drain;
    private DrainProgress? _progress;
    private long _groupCheckedAt;
    private LoopWatchdog? _watchdog;
    // When a record was last read, and a drain's stall last reported (Environment.TickCount64).
    private long _lastRead = Environment.TickCount64;
    private long _stallReportedAt;
    private long _writerReportedAt;
    private long _lagReportedAt;
    private string _waitingOn = "";
    private bool _closing;
    private DateTimeOffset _lastCheckpoint;

    private readonly WorkerHealth _health;
    private readonly BrokerWatch _watch;
    // Set inside the assignment callback when the worker must not go on (its checkpoints are gone); thrown by the loop.
    private WorkerFailedException? _startFailure;

    private readonly Domain.Compliance.ComplianceKeys _keys;

    public KafkaIngest(WorkerSettings settings, IActorRef partitions, WorkerPipeline pipeline, WorkerMetrics metrics, WorkerHealth health,
        ILogger logger, TimeProvider clock, Domain.Compliance.ComplianceKeys keys, BrokerWatch watch)
    {
        _keys = keys;
        _health = health;
        _watch = watch;
        settings.Validate();
        _settings = settings;
        _partitions = partitions;
        _pipeline = pipeline;
        _metrics = metrics;
        _logger = logger;
        _clock = clock;
    }

    public long RecordsRead { get; private set; }

    /// <summary>Records re-read after a restore: the tail between the last checkpoint and the crash.</summary>
    public long RestoredPartitions { get; private set; }

    public Task RunAsync(CancellationToken stop) =>
        Task.Factory.StartNew(() => Loop(stop), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Loop(CancellationToken stop)
    {
        using var watchdog = _watchdog = new LoopWatchdog(_logger, _pipeline.Describe, _pipeline.ReportPartitionStages);
        var config = WorkerKafkaConfig.InputConsumer(_settings);
        var partitionCounts = ValidateTopics();

        var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler((c, partitions) => Assigned(c, partitions))
            .SetPartitionsRevokedHandler((c, partitions) => Revoked(c, [.. partitions.Select(p => p.TopicPartition)]))
            .SetPartitionsLostHandler((_, partitions) => Lost([.. partitions.Select(p => p.TopicPartition)]))
            // Rate-limited, and an outage past Worker:BrokerPatience stops the worker (BrokerWatch).
            .SetErrorHandler((_, e) => _watch.Error("consumer", e))
            .SetLogHandler((_, m) => _watch.Log("consumer", m))
            .Build();
        if (_settings.Drain)
        {
            _drain = DrainScope.Begin(consumer, partitionCounts, TimeSpan.FromSeconds(20));
            _progress = new DrainProgress(_settings.KafkaClients, _settings.GroupId, _keys, _logger, _settings.BrokerPatience, (client, m) => _watch.Log(client, m));
            _logger.LogInformation("drain: the group finishes {Records} records in {Partitions} topic-partitions (their ends now)",
                _drain.End.Values.Sum(), _drain.End.Count);
        }
        consumer.Subscribe(Topics.Inputs);
        _lastCheckpoint = _clock.GetUtcNow();

        var sinceDispatch = 0;
        var firstUndispatched = 0L;
        var maxDelayMs = (long)_settings.MaxBatchDelay.TotalMilliseconds;
        var finished = false;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                ThrowIfFailed();
                CommitCheckpointed(consumer);
                ReportLag(consumer);
                ConsumeResult<byte[], byte[]>? result;
                try
                {
                    // Rebalance callbacks run inside the poll and name their own steps.
                    _watchdog.Enter("polling the broker");
                    result = consumer.Consume(TimeSpan.FromMilliseconds(20));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    // Broker-side trouble (a fetch timed out, a leader moved): librdkafka retries; nothing was lost.
                    _watch.Error("consumer", e.Error);
                    continue;
                }
                if (_startFailure is { } startFailure) throw startFailure;
                if (result is not null) _watch.Reachable();
                if (result is null)
                {
                    SettleEnds();
                    DispatchAll(stop);
                    sinceDispatch = 0;
                    if (_drain is not null && !IsFullyConsumed()) ReportUnconsumedIfStalled();
                    ReportWriterIfStalled();
                    if (_drain is not null && IsFullyConsumed() && ForwardsConsumed(consumer))
                    {
                        DrainOwnPartitions(consumer, stop);
                        if (IsGroupDone())
                        {
                            finished = true;
                            _logger.LogInformation("drained: {Records} records read; outputs written, state checkpointed, offsets committed", RecordsRead);
                            return;
                        }
                        // Stay in the group: the partitions of workers that leave come here and are finished here.
                        continue;
                    }
                    if (!_settings.Drain) AdvanceIdlePartitions(stop);
                    CheckpointIfDue(stop);
                    continue;
                }

                var tp = result.TopicPartition;
                if (!_feeds.TryGetValue(tp.Partition.Value, out var feed)) continue; // revoked meanwhile
                if (result.IsPartitionEOF)
                {
                    feed.ReachedEnd(tp.Topic, result.Offset.Value);
                    continue;
                }
                // --drain: a record written after the drain began is the next run's input. (The worker's own identity
                // hand-overs are part of this run's work, however late they were written.)
                var beyondDrainEnd = _drain is not null && _drain.IsBeyondEnd(tp, result.Offset.Value) && !Output.OutputWriter.IsForward(result.Message);
                switch (feed.Accept(result, beyondDrainEnd))
                {
                    case PartitionFeed.Outcome.Stale:
                        if (++_staleRecords % 1000 == 1) _logger.LogWarning("dropped {Count} stale records delivered below the resume offset", _staleRecords);
                        continue;
                    case PartitionFeed.Outcome.EndedHere:
                        consumer.Pause([tp]); // stop fetching it: this is our end
                        continue;
                }
                _lastRead = Environment.TickCount64;
                RecordsRead++;
                if (sinceDispatch++ == 0) firstUndispatched = Environment.TickCount64;
                // The delay bounds the latency a trickle of input adds; while the partition actors are still deciding
                // earlier batches, a batch handed now would only wait behind them: it grows instead (fewer, larger
                // batches carry a shopper's events to its session actor in one message; docs/architecture.md).
                if (sinceDispatch >= _settings.MaxBatchRecords
                    || (Environment.TickCount64 - firstUndispatched >= maxDelayMs && _pipeline.Undecided == 0))
                {
                    SettleEnds();
                    DispatchAll(stop);
                    sinceDispatch = 0;
                    CheckpointIfDue(stop);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while waiting for back-pressure: a graceful stop like any other, finished below.
        }
        finally
        {
            _health.Stopping();
            // A worker that found its checkpoints gone saves nothing: an empty checkpoint would hide the loss from the next start.
            if (!finished && _pipeline.Failure is null && _startFailure is null)
            {
                // Graceful stop (SIGTERM): finish what was handed out, checkpoint, commit, then leave the group.
                using var grace = new CancellationTokenSource(_settings.ShutdownTimeout);
                try
                {
                    CheckpointAndCommit(consumer, _feeds.Keys.ToList(), grace.Token);
                    _logger.LogInformation("stopped: state checkpointed and offsets committed");
                }
                catch (OperationCanceledException)
                {
                    _logger.LogWarning("shutdown timeout: leaving without a final checkpoint with {Batches} batches and {Checkpoints} checkpoints unfinished (the next owner replays from the last one)",
                        _pipeline.Outstanding, _pipeline.PendingCheckpoints);
                }
            }
            // Everything is checkpointed and committed above: the revocation that Close triggers only forgets the
            // partitions (a synchronous commit inside it can block forever while the group is rebalancing).
            _closing = true;
            // Leaving the group needs the broker; without one, Close would wait for it: the shutdown timeout bounds it.
            var closed = Task.Run(() =>
            {
                consumer.Close();
                consumer.Dispose();
            });
            try
            {
                if (!closed.Wait(_settings.ShutdownTimeout))
                    _logger.LogWarning("the consumer did not leave the group within {Seconds:F0} s (broker unreachable?); exiting without it", _settings.ShutdownTimeout.TotalSeconds);
            }
            catch (AggregateException e)
            {
                _logger.LogWarning("closing the consumer failed: {Reason}", e.GetBaseException().Message);
            }
            _progress?.Dispose();
        }
    }

    /// <summary>Hands each partition's records whose merged order is certain to the pipeline, in batches.</summary>
    private void DispatchAll(CancellationToken ct)
    {
        var changed = _feeds.Values.Where(f => f.Changed).ToList();
        if (changed.Count > 0) _watchdog?.Enter("handing batches to the pipeline (back-pressure)");
        foreach (var feed in changed)
            while (feed.NextBatch() is { } batch) _pipeline.HandBatch(batch, ct);
    }

    /// <summary>Per partition, the records between the last committed checkpoint and the input topics' high
    /// watermarks: what the worker still has to process durably (what a crash now would re-read). Read from the
    /// watermarks the consumer's fetches last brought (no broker round trip), about once a second. A partition whose
    /// high watermark no fetch has brought yet is not reported: unknown is not 0.</summary>
    private void ReportLag(IConsumer<byte[], byte[]> consumer)
    {
        if (Environment.TickCount64 - _lagReportedAt < 1_000) return;
        _lagReportedAt = Environment.TickCount64;
        foreach (var feed in _feeds.Values)
            if (feed.Lag(consumer.GetWatermarkOffsets) is { } lag) _metrics.Lag(feed.Partition, lag);
    }

    /// <summary>A drain that has read nothing for a while and is not at the end of its input says what it waits for (every
    /// 30 s): the topic-partitions whose end was not reported, and the records the merge holds back.</summary>
    private void ReportUnconsumedIfStalled()
    {
        var now = Environment.TickCount64;
        var stalledFor = now - Math.Max(_lastRead, _stallReportedAt);
        if (stalledFor < (long)LoopWatchdog.ReportAfter.TotalMilliseconds) return;
        _stallReportedAt = now;
        var notAtEnd = _feeds.Values.SelectMany(f => f.NotAtEnd).Select(tp => $"{tp.Topic}[{tp.Partition.Value}]").Order().ToList();
        var held = _feeds.Values.Where(f => f.Buffered > 0).Select(f => $"{f.Partition}:{f.Buffered}").ToList();
        _logger.LogWarning("drain: nothing read for {Seconds:F0} s and the input is not consumed to its end: end not reported for {NotAtEnd}; " +
            "records held by the merge (partition:count) {Held}; split record pending {Split}",
            (now - _lastRead) / 1000.0, notAtEnd.Count == 0 ? "none" : string.Join(",", notAtEnd), held.Count == 0 ? "none" : string.Join(",", held), _feeds.Values.Any(f => f.IsJoining));
    }

    /// <summary>The loop goes round while a write is stuck (a drain waits for its outputs by polling): the writer's step
    /// and the pipeline's state are reported once the write has lasted 30 s, then every 30 s.</summary>
    private void ReportWriterIfStalled()
    {
        var busy = _pipeline.WriterBusy;
        if (busy < LoopWatchdog.ReportAfter) return;
        var now = Environment.TickCount64;
        if (now - _writerReportedAt < (long)LoopWatchdog.ReportAfter.TotalMilliseconds) return;
        _writerReportedAt = now;
        _logger.LogWarning("a write has lasted {Seconds:F0} s: {State}", busy.TotalSeconds, _pipeline.Describe());
        _pipeline.ReportPartitionStages();
    }

    private bool IsFullyConsumed() => _feeds.Values.All(f => f.IsConsumed);

    /// <summary>End of input is end of event time: each partition this worker holds and has not drained yet fires
    /// every pending timer, then is checkpointed and committed (its commit reaching its end only now).</summary>
    private void DrainOwnPartitions(IConsumer<byte[], byte[]> consumer, CancellationToken stop)
    {
        var undrained = _feeds.Values.Where(f => !f.Drained).ToList();
        if (undrained.Count == 0) return;
        _watchdog?.Enter("handing the drain to its partitions");
        foreach (var feed in undrained) _pipeline.HandBatch(feed.DrainCommand(), stop);
        CheckpointAndCommit(consumer, [.. undrained.Select(f => f.Partition)], stop);
        foreach (var feed in undrained) feed.MarkDrained();
        _logger.LogInformation("drained partitions {Partitions}", string.Join(",", undrained.Select(f => f.Partition)));
    }

    /// <summary>Whether every input partition of the group is consumed to its drain end and drained, read from the
    /// group's drain progress (at most twice a second).</summary>
    private bool IsGroupDone()
    {
        if (Environment.TickCount64 - _groupCheckedAt < 500) return false;
        _groupCheckedAt = Environment.TickCount64;
        IReadOnlyDictionary<TopicPartition, long> drained;
        try
        {
            _watchdog?.Enter("reading the group's drain progress");
            drained = _progress!.Read();
        }
        catch (KafkaException e)
        {
            _logger.LogWarning("reading the group's drain progress failed: {Reason}; retrying", e.Error.Reason);
            return false;
        }
        if (_drain!.IsDone(drained)) return true;
        var waitingOn = string.Join(",", _drain.Unfinished(drained).Select(tp => tp.Partition.Value).Distinct().Order());
        if (waitingOn != _waitingOn)
            _logger.LogInformation("drain: this worker's partitions are done; waiting for the group's partitions {Partitions}", waitingOn);
        _waitingOn = waitingOn;
        return false;
    }

    /// <summary>The worker itself publishes identity hand-overs and forwarded events to the input topics: the input is
    /// consumed only once every batch handed out is written (so they are acknowledged) and consumed.</summary>
    private bool ForwardsConsumed(IConsumer<byte[], byte[]> consumer)
    {
        if (_pipeline.Outstanding > 0) return false;
        _watchdog?.Enter("querying the input's high watermarks");
        return _feeds.Values.All(f => f.EndsHold(tp => consumer.QueryWatermarkOffsetsRetrying(tp, TimeSpan.FromSeconds(10)).High.Value));
    }

    private void CheckpointIfDue(CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        if (now - _lastCheckpoint < _settings.CheckpointInterval) return;
        _lastCheckpoint = now;
        foreach (var feed in _feeds.Values)
            if (feed.DueCheckpoint() is { } checkpoint) _pipeline.HandCheckpoint(checkpoint, ct);
    }

    private void RequestCheckpoint(int partition, CancellationToken ct)
    {
        if (_feeds.TryGetValue(partition, out var feed)) _pipeline.HandCheckpoint(feed.CheckpointCommand(), ct);
    }

    /// <summary>Waits for the batches handed out, checkpoints the partitions, waits for the saves, commits.</summary>
    private void CheckpointAndCommit(IConsumer<byte[], byte[]> consumer, IReadOnlyList<int> partitions, CancellationToken ct)
    {
        _watchdog?.Enter("requesting checkpoints");
        foreach (var partition in partitions.Order()) RequestCheckpoint(partition, ct);
        _watchdog?.Enter("waiting for the outputs to be written and the checkpoints saved");
        _pipeline.WaitSettled(ct);
        CommitCheckpointed(consumer);
    }

    private void ThrowIfFailed() => _pipeline.ThrowIfFailed();

    /// <summary>Live mode: a partition that is caught up (every input topic at its end) and has had no input for a
    /// while moves its watermark as <see cref="IdleWatermark"/> says, so its timers still fire without traffic.</summary>
    private void AdvanceIdlePartitions(CancellationToken ct)
    {
        if (_settings.IdleWatermark == IdleWatermark.Off) return;
        var now = _clock.GetUtcNow();
        var idle = _feeds.Values.Where(feed => feed.IsIdle(now)).ToList();
        if (idle.Count == 0) return;
        DateTimeOffset to;
        if (_settings.IdleWatermark == IdleWatermark.WallClock)
        {
            // Only when the whole input is silent: a partition that is merely quiet keeps pace with the others.
            if (idle.Count < _feeds.Count) return;
            to = now;
        }
        else
        {
            // The newest event time the other partitions' frontiers accepted: an idle partition never runs ahead of what
            // the others have shown, and an event one bad clock put years ahead (which moved no frontier) moves none here.
            var frontiers = _feeds.Keys.Select(_pipeline.Frontier).OfType<DateTimeOffset>().ToList();
            if (frontiers.Count == 0) return;
            to = frontiers.Max();
        }
        // Wall clock: once per idle interval, not on every poll.
        var step = _settings.IdleWatermark == IdleWatermark.WallClock ? _settings.IdleWatermarkAfter : TimeSpan.Zero;
        foreach (var feed in idle)
        {
            if (feed.AdvanceIdleTo(to, step) is not { } advance) continue;
            _pipeline.HandBatch(advance, ct);
            _metrics.IdleWatermarkAdvanced(_settings.IdleWatermark);
        }
    }

    /// <summary>Parses what was read since the last time, in parallel (<see cref="PartitionFeed.SettleAll"/>), and
    /// confirms the ends of a backlog's topics that stayed at their end for the idle interval.</summary>
    private void SettleEnds()
    {
        _watchdog?.Enter("parsing and merging the records read");
        PartitionFeed.SettleAll(_feeds.Values);
        var now = _clock.GetUtcNow();
        foreach (var feed in _feeds.Values) feed.ConfirmEnds(now);
    }

    private void CommitCheckpointed(IConsumer<byte[], byte[]> consumer)
    {
        var offsets = new Dictionary<TopicPartition, long>();
        var drained = new Dictionary<int, IReadOnlyDictionary<string, long>>();
        while (_pipeline.TryTakeCommittable(out var checkpoint))
        {
            foreach (var (topic, next) in checkpoint.NextOffsets) offsets[new TopicPartition(topic, checkpoint.Partition)] = next;
            if (checkpoint.Drained && _feeds.ContainsKey(checkpoint.Partition)) drained[checkpoint.Partition] = checkpoint.NextOffsets;
            else drained.Remove(checkpoint.Partition);
        }
        var owned = offsets.Where(o => _feeds.TryGetValue(o.Key.Partition.Value, out var feed) && feed.IsAssigned(o.Key.Topic))
            .Select(o => new TopicPartitionOffset(o.Key, o.Value)).ToList();
        foreach (var committed in owned) _feeds[committed.Partition.Value].Checkpointed(committed.Topic, committed.Offset.Value);
        if (owned.Count > 0)
        {
            try
            {
                _watchdog?.Enter("committing offsets (synchronous)");
                consumer.Commit(owned);
            }
            catch (KafkaException e)
            {
                // Not fatal: the checkpoint, not the commit, decides where a new owner resumes; the commit shows lag.
                _logger.LogWarning("offset commit failed: {Reason}", e.Error.Reason);
            }
        }
        // The checkpoint, not the commit, is what a new owner resumes from: a saved drained checkpoint is progress.
        if (drained.Count > 0) _watchdog?.Enter("recording the drain progress (awaiting the broker's acknowledgement)");
        foreach (var (partition, next) in drained) _progress?.Record(partition, next);
    }

    /// <summary>Restores each newly assigned partition from its checkpoint and resumes every input topic at its offsets.</summary>
    private IEnumerable<TopicPartitionOffset> Assigned(IConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions)
    {
        // An assignment completing while the worker leaves (or after it failed) is never read from: nothing to restore.
        if (_closing || _startFailure is not null || _pipeline.Failure is not null)
            return partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Unset)).ToList();
        var resumed = new List<TopicPartitionOffset>();
        foreach (var group in partitions.GroupBy(p => p.Partition.Value).OrderBy(g => g.Key))
        {
            var partition = group.Key;
            if (!_feeds.TryGetValue(partition, out var feed))
                _feeds[partition] = feed = new PartitionFeed(partition, _settings, _clock, _keys, _metrics, _logger, _lastSequences.GetValueOrDefault(partition));
            feed.NoteAssigned();
            _watchdog?.Enter("restoring assigned partitions from their checkpoints");
            // Everything handed out before (a lost partition's forget, say) reaches the actors first.
            using (var patience = new CancellationTokenSource(TimeSpan.FromMinutes(2))) _pipeline.WaitDelivered(patience.Token);
            var asked = _partitions.Ask<PartitionRestored>(new RestorePartition(partition), TimeSpan.FromMinutes(2));
            // A checkpoint that cannot be read fails its partition actor, and with it the pipeline: stop with that cause now.
            while (!asked.Wait(TimeSpan.FromMilliseconds(100))) _pipeline.ThrowIfFailed();
            var restored = asked.GetAwaiter().GetResult();
            if (restored.NextOffsets.Count > 0) RestoredPartitions++;
            else if (_startFailure is null && CheckpointLost(consumer, [.. group]) is { } lost)
            {
                if (!_settings.StartOver)
                {
                    // Thrown by the loop before any record is decided (the offsets below are never read from).
                    _startFailure = new WorkerFailedException(lost + "; the checkpoint store is missing or empty (a new file, a wiped volume, another database?). " +
                        "Restore it, or start over from the beginning of the input with --start-over (every decision is taken again)");
                }
                else
                    _logger.LogWarning("partition {Partition}: {Lost}; starting over from the beginning of the input (--start-over)", partition, lost);
            }
            foreach (var tp in group)
            {
                var next = restored.NextOffsets.GetValueOrDefault(tp.Topic);
                feed.Resume(tp.Topic, next);
                resumed.Add(new TopicPartitionOffset(tp, restored.NextOffsets.ContainsKey(tp.Topic) ? new Offset(next) : Offset.Beginning));
            }
            if (_startFailure is not null) break; // stopping: nothing is resumed
            _logger.LogInformation("partition {Partition} assigned: resuming at {Offsets} with {Sessions} sessions from its checkpoint",
                partition, string.Join(",", group.Select(tp => restored.NextOffsets.GetValueOrDefault(tp.Topic))), restored.Sessions);
        }
        if (_startFailure is null) _health.PartitionsRestored();
        return resumed;
    }

    private void Revoked(IConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions)
    {
        if (_closing)
        {
            Forget(partitions);
            return;
        }
        // Finish and checkpoint what this worker holds before the partitions move to another worker.
        var numbers = partitions.Select(p => p.Partition.Value).Distinct().Where(_feeds.ContainsKey).ToList();
        _watchdog?.Enter("checkpointing revoked partitions");
        using var grace = new CancellationTokenSource(_settings.ShutdownTimeout);
        CheckpointAndCommit(consumer, numbers, grace.Token);
        Forget(partitions);
    }

    /// <summary>A partition without a checkpoint whose group committed offsets: the worker committed them only after saving a
    /// checkpoint, so the store that held it is gone. Returns what was found, or null when the group never committed.</summary>
    private string? CheckpointLost(IConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions)
    {
        List<TopicPartitionOffset> committed;
        try
        {
            committed = consumer.Committed(partitions, TimeSpan.FromSeconds(30));
        }
        catch (KafkaException e)
        {
            _startFailure = new WorkerFailedException($"partition {partitions[0].Partition.Value} has no checkpoint, and the group's committed offsets could not be read to tell whether it ever had one", e);
            return null;
        }
        var positive = committed.Where(c => c.Offset.Value >= 0).ToList();
        return positive.Count == 0 ? null
            : $"partition {partitions[0].Partition.Value} has no checkpoint, but group {_settings.GroupId} committed offsets {string.Join(",", positive.Select(c => $"{c.Topic}={c.Offset.Value}"))}";
    }

    private void Lost(List<TopicPartition> partitions)
    {
        _logger.LogWarning("partitions lost: {Partitions}", string.Join(",", partitions.Select(p => p.ToString())));
        Forget(partitions);
    }

    private void Forget(List<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
            if (_feeds.TryGetValue(tp.Partition.Value, out var feed)) feed.Revoke(tp.Topic);
        foreach (var partition in partitions.Select(p => p.Partition.Value).Distinct())
        {
            if (_feeds.TryGetValue(partition, out var feed))
            {
                if (feed.HasAssignedTopics) continue;
                _feeds.Remove(partition);
                _lastSequences[partition] = feed.LastSequence;
            }
            _pipeline.ForgetFrontier(partition);
            // In order with the commands still in the pipeline: an actor must not be stopped before what was handed to it.
            var forget = new PartitionSupervisor.ForgetPartition(partition);
            if (_pipeline.Failure is null) _pipeline.HandMessage(forget, CancellationToken.None);
            else _partitions.Tell(forget);
            _metrics.Released(partition);
        }
        if (!_feeds.Values.Any(f => f.HasAssignedTopics)) _health.NoPartitions();
    }

    /// <summary>Checks the input topics exist and are co-partitioned; returns each one's partition count.</summary>
    private Dictionary<string, int> ValidateTopics()
    {
        using var admin = new AdminClientBuilder(WorkerKafkaConfig.Admin(_settings)).SetLogHandler((_, m) => _watch.Log("admin", m)).Build();
        var counts = admin.PartitionCounts(Topics.Inputs, _settings.BootstrapServers, TimeSpan.FromSeconds(20));
        if (counts.Values.Distinct().Count() > 1)
            throw new InvalidOperationException("input topics must be co-partitioned (same partition count): " +
                string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}")));
        return counts;
    }
}
