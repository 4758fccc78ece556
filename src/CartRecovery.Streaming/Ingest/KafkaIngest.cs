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
/// The consume loop: reads the input topics in a consumer group, validates each record (rejects become dead
/// letters), merges partition p of every input topic deterministically, hands batches to the partition actors
/// with back-pressure, asks for checkpoints, and commits a partition's offsets only once a checkpoint holding the
/// state they produced is saved (which the partition actor does only after the outputs are written).
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
    private readonly Dictionary<int, PartitionInputMerger> _mergers = new();
    private readonly Dictionary<int, long> _sequences = new();
    private readonly HashSet<TopicPartition> _assigned = new();
    private readonly HashSet<TopicPartition> _atEnd = new();
    // Where each topic-partition ended when its end was last reported (control records included).
    private readonly Dictionary<TopicPartition, long> _endOffsets = new();
    private readonly Dictionary<int, DateTimeOffset> _lastInput = new();
    // Newest event time read per partition, and where each idle partition's watermark was last moved to.
    private readonly Dictionary<int, DateTimeOffset> _newestEventTime = new();
    private readonly Dictionary<int, DateTimeOffset> _idleAdvancedTo = new();
    // Live mode, reading a backlog: topic-partitions at their end since (wall clock), not yet trusted to stay there.
    private readonly Dictionary<TopicPartition, DateTimeOffset> _endSince = new();
    // Topic-partitions that delivered a record since they were assigned: only those can be part of a backlog being written.
    private readonly HashSet<TopicPartition> _delivered = new();
    private readonly HashSet<int> _sinceCheckpoint = new();
    // The next offset each assigned topic-partition must deliver. A record below it is a stale copy from before a
    // seek or reassignment: merging it again would apply an event twice and out of order, so it is dropped.
    private readonly Dictionary<TopicPartition, long> _expected = new();
    // The offset each assigned topic-partition resumes from after a crash: its last committed checkpoint's, or where
    // it was assigned from. Lag counts from here, so it covers every record not yet durably processed.
    private readonly Dictionary<TopicPartition, long> _checkpointedNext = new();
    private long _staleRecords;
    // Identity hand-overs larger than one input record arrive in parts: joined here before the merge.
    private readonly SplitRecordJoiner _joiner = new();
    private readonly List<SplitRecordJoiner.Ready> _ready = [];
    private long _abandonedLogged;
    // --drain: what the group must finish, the partitions this worker has drained since it was assigned them, and
    // when it last read the group's progress.
    private DrainScope? _drain;
    private DrainProgress? _progress;
    private readonly HashSet<int> _drained = new();
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

        var dirty = new HashSet<int>();
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
                    SettleEnds(dirty);
                    DispatchAll(dirty, stop);
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
                if (!_mergers.TryGetValue(tp.Partition.Value, out var merger)) continue; // revoked meanwhile
                if (!result.IsPartitionEOF && _expected.TryGetValue(tp, out var expected) && result.Offset.Value < expected && result.Offset.Value >= 0)
                {
                    if (++_staleRecords % 1000 == 1) _logger.LogWarning("dropped {Count} stale records delivered below the resume offset", _staleRecords);
                    continue;
                }
                if (_drain is not null && !result.IsPartitionEOF && _drain.IsBeyondEnd(tp, result.Offset.Value) && !Output.OutputWriter.IsForward(result.Message))
                {
                    // Written after the drain began: the next run's input. Stop fetching it; this is our end. (The
                    // worker's own identity hand-overs are part of this run's work, however late they were written.)
                    consumer.Pause([tp]);
                    _atEnd.Add(tp);
                    _endOffsets[tp] = long.MaxValue; // nothing more is read here in this run
                    merger.MarkEnd(tp.Topic);
                    dirty.Add(tp.Partition.Value);
                    continue;
                }
                if (result.IsPartitionEOF)
                {
                    _atEnd.Add(tp);
                    _endOffsets[tp] = result.Offset.Value;
                    if (_drain is null && IsReadingBacklog(tp.Partition.Value))
                    {
                        _endSince.TryAdd(tp, _clock.GetUtcNow());
                        continue;
                    }
                    merger.MarkEnd(tp.Topic);
                    dirty.Add(tp.Partition.Value);
                    continue;
                }
                _lastRead = Environment.TickCount64;
                _atEnd.Remove(tp);
                _endSince.Remove(tp);
                _delivered.Add(tp);
                _expected[tp] = result.Offset.Value + 1;
                RecordsRead++;
                _ready.Clear();
                _joiner.Accept(result, _ready);
                foreach (var ready in _ready)
                {
                    var record = ready.Skip ? new InputRecord(tp.Topic, tp.Partition.Value, ready.Result.Offset.Value, null, null) : ToRecord(ready.Result, ready.Joined, ready.Problem);
                    merger.Add(record);
                    if (record.Event is { } read && read.EventTime > _newestEventTime.GetValueOrDefault(tp.Partition.Value))
                        _newestEventTime[tp.Partition.Value] = read.EventTime;
                }
                if (_joiner.Abandoned > _abandonedLogged)
                {
                    _abandonedLogged = _joiner.Abandoned;
                    _logger.LogWarning("{Count} split records left unfinished and superseded so far (a writer failed mid-sequence and sent them again)", _joiner.Abandoned);
                }
                if (_drain is null && IsReadingBacklog(tp.Partition.Value)) ReopenOtherEnds(tp, merger);
                _lastInput[tp.Partition.Value] = _clock.GetUtcNow();
                // A drained partition that still receives a record (another worker's identity hand-over) is drained,
                // checkpointed and committed again, so what the record changed is not left outside a checkpoint.
                _drained.Remove(tp.Partition.Value);
                dirty.Add(tp.Partition.Value);
                if (sinceDispatch++ == 0) firstUndispatched = Environment.TickCount64;
                if (sinceDispatch >= _settings.MaxBatchRecords || Environment.TickCount64 - firstUndispatched >= maxDelayMs)
                {
                    SettleEnds(dirty);
                    DispatchAll(dirty, stop);
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
                    CheckpointAndCommit(consumer, _mergers.Keys.ToList(), grace.Token);
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

    /// <param name="joined">The whole record when <paramref name="result"/> is the first part of a split record.</param>
    /// <param name="problem">Why the joined record is rejected before it is parsed.</param>
    private InputRecord ToRecord(ConsumeResult<byte[], byte[]> result, byte[]? joined = null, string? problem = null)
    {
        var tp = result.TopicPartition;
        var payload = joined ?? result.Message.Value ?? [];
        var parsed = problem is not null ? ParseResult.Reject(RejectReasons.InvalidField, problem)
            : joined is not null ? SplitRecords.ParseJoined(payload) : EventParser.Parse(payload);
        var (evt, reason, detail) = IngestValidation.Admit(tp.Topic, result.Message.Key, parsed);
        ShopperEvent? refused = null;
        if (evt is not null)
        {
            // A split record is checked whole: its first part carries the MAC of the joined value.
            if (InternalRecords.IsInternal(evt) && InternalRecords.Problem(_keys, tp.Topic, result.Message.Key, payload, result.Message.Headers) is { } macProblem)
                // On the shopper's own partition, so the refusal is audited in the shopper's chain (PartitionActor).
                (reason, detail, refused) = (RejectReasons.UnauthenticatedInternalRecord, macProblem, evt);
            else return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, evt, null);
        }

        _metrics.DeadLettered(reason!);
        var letter = DeadLetters.Create(tp.Topic, tp.Partition.Value, result.Offset.Value, reason!, detail ?? "", payload, result.Message.Timestamp.UtcDateTime);
        return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, null, letter, result.Message.Key, payload, refused);
    }

    private void DispatchAll(HashSet<int> partitions, CancellationToken ct)
    {
        if (partitions.Count > 0) _watchdog?.Enter("handing batches to the pipeline (back-pressure)");
        var released = new List<InputRecord>();
        foreach (var partition in partitions.Order())
        {
            if (!_mergers.TryGetValue(partition, out var merger)) continue;
            released.Clear();
            merger.Release(released);
            for (var i = 0; i < released.Count; i += _settings.MaxBatchRecords)
            {
                var chunk = released.GetRange(i, Math.Min(_settings.MaxBatchRecords, released.Count - i));
                _pipeline.HandBatch(new ProcessBatch(partition, NextSequence(partition), chunk), ct);
                _sinceCheckpoint.Add(partition);
            }
        }
        partitions.Clear();
    }

    private long NextSequence(int partition) => _sequences[partition] = _sequences.GetValueOrDefault(partition) + 1;

    /// <summary>Per partition, the records between the last committed checkpoint and the input topics' high
    /// watermarks: what the worker still has to process durably (what a crash now would re-read). Read from the
    /// watermarks the consumer's fetches last brought (no broker round trip), about once a second. A partition whose
    /// high watermark no fetch has brought yet is not reported: unknown is not 0.</summary>
    private void ReportLag(IConsumer<byte[], byte[]> consumer)
    {
        if (Environment.TickCount64 - _lagReportedAt < 1_000) return;
        _lagReportedAt = Environment.TickCount64;
        foreach (var partition in _assigned.GroupBy(tp => tp.Partition.Value))
        {
            long lag = 0;
            var known = true;
            foreach (var tp in partition)
            {
                var watermarks = consumer.GetWatermarkOffsets(tp);
                if (watermarks.High.Value < 0)
                {
                    known = false;
                    break;
                }
                var from = Math.Max(_checkpointedNext.GetValueOrDefault(tp), Math.Max(0, watermarks.Low.Value));
                lag += Math.Max(0, watermarks.High.Value - from);
            }
            if (known) _metrics.Lag(partition.Key, lag);
        }
    }

    /// <summary>A drain that has read nothing for a while and is not at the end of its input says what it waits for (every
    /// 30 s): the topic-partitions whose end was not reported, and the records the merge holds back.</summary>
    private void ReportUnconsumedIfStalled()
    {
        var now = Environment.TickCount64;
        var stalledFor = now - Math.Max(_lastRead, _stallReportedAt);
        if (stalledFor < (long)LoopWatchdog.ReportAfter.TotalMilliseconds) return;
        _stallReportedAt = now;
        var notAtEnd = _assigned.Where(tp => !_atEnd.Contains(tp)).Select(tp => $"{tp.Topic}[{tp.Partition.Value}]").Order().ToList();
        var held = _mergers.Where(m => m.Value.Buffered > 0).Select(m => $"{m.Key}:{m.Value.Buffered}").ToList();
        _logger.LogWarning("drain: nothing read for {Seconds:F0} s and the input is not consumed to its end: end not reported for {NotAtEnd}; " +
            "records held by the merge (partition:count) {Held}; split record pending {Split}",
            (now - _lastRead) / 1000.0, notAtEnd.Count == 0 ? "none" : string.Join(",", notAtEnd), held.Count == 0 ? "none" : string.Join(",", held), _joiner.IsHolding);
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

    private bool IsFullyConsumed() =>
        _assigned.All(_atEnd.Contains) && _mergers.Values.All(m => m.Buffered == 0) && !_joiner.IsHolding;

    /// <summary>End of input is end of event time: each partition this worker holds and has not drained yet fires
    /// every pending timer, then is checkpointed and committed (its commit reaching its end only now).</summary>
    private void DrainOwnPartitions(IConsumer<byte[], byte[]> consumer, CancellationToken stop)
    {
        var undrained = _mergers.Keys.Where(p => !_drained.Contains(p)).Order().ToList();
        if (undrained.Count == 0) return;
        _watchdog?.Enter("handing the drain to its partitions");
        foreach (var partition in undrained) _pipeline.HandBatch(new Drain(partition, NextSequence(partition)), stop);
        CheckpointAndCommit(consumer, undrained, stop);
        _drained.UnionWith(undrained);
        _logger.LogInformation("drained partitions {Partitions}", string.Join(",", undrained));
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
        foreach (var tp in _assigned)
        {
            if (consumer.QueryWatermarkOffsetsRetrying(tp, TimeSpan.FromSeconds(10)).High.Value <= _endOffsets.GetValueOrDefault(tp)) continue;
            _atEnd.Remove(tp); // a record arrived after the end was reported: wait for it
            return false;
        }
        return true;
    }

    private void CheckpointIfDue(CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        if (now - _lastCheckpoint < _settings.CheckpointInterval) return;
        _lastCheckpoint = now;
        foreach (var partition in _sinceCheckpoint.Order()) RequestCheckpoint(partition, ct);
        _sinceCheckpoint.Clear();
    }

    private void RequestCheckpoint(int partition, CancellationToken ct) => _pipeline.HandCheckpoint(new Checkpoint(partition, NextSequence(partition)), ct);

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
        var idle = _mergers.Keys.Where(partition => IsIdle(partition, now)).Order().ToList();
        if (idle.Count == 0) return;
        DateTimeOffset to;
        if (_settings.IdleWatermark == IdleWatermark.WallClock)
        {
            // Only when the whole input is silent: a partition that is merely quiet keeps pace with the others.
            if (idle.Count < _mergers.Count) return;
            to = now;
        }
        else
        {
            // The newest event time the other partitions' frontiers accepted: an idle partition never runs ahead of what
            // the others have shown, and an event one bad clock put years ahead (which moved no frontier) moves none here.
            var frontiers = _mergers.Keys.Select(_pipeline.Frontier).OfType<DateTimeOffset>().ToList();
            if (frontiers.Count == 0) return;
            to = frontiers.Max();
        }
        foreach (var partition in idle)
        {
            // Wall clock: once per idle interval, not on every poll.
            var step = _settings.IdleWatermark == IdleWatermark.WallClock ? _settings.IdleWatermarkAfter : TimeSpan.Zero;
            if (_idleAdvancedTo.TryGetValue(partition, out var last) && to - last <= step) continue;
            _idleAdvancedTo[partition] = to;
            _pipeline.HandBatch(new AdvanceIdle(partition, NextSequence(partition), to), ct);
            _metrics.IdleWatermarkAdvanced(_settings.IdleWatermark);
            _sinceCheckpoint.Add(partition);
        }
    }

    /// <summary>Backlog: new input on one topic of a partition means the producer is writing again, so the partition's
    /// other topics, at their end until now, may soon deliver earlier records too: each must confirm its end again
    /// (stay there for the idle interval) before the merge may pass it. A topic that has delivered nothing since it was
    /// assigned is not being written with this backlog (outcome-events before any dispatcher reports, say): reopening it
    /// would stall every partition for the idle interval on each new record.</summary>
    private void ReopenOtherEnds(TopicPartition arrived, PartitionInputMerger merger)
    {
        foreach (var topic in Topics.Inputs)
        {
            if (topic == arrived.Topic || !merger.IsMarkedEnd(topic) || !_delivered.Contains(new TopicPartition(topic, arrived.Partition))) continue;
            merger.ReopenEnd(topic);
            _endSince.TryAdd(new TopicPartition(topic, arrived.Partition), _clock.GetUtcNow());
        }
    }

    private bool IsReadingBacklog(int partition) =>
        _newestEventTime.TryGetValue(partition, out var newest) && _clock.GetUtcNow() - newest > _settings.BacklogBehind;

    /// <summary>Backlog: a topic-partition that stayed at its end for the idle interval is finished for now, and no
    /// longer holds back the merge of its partition.</summary>
    private void SettleEnds(HashSet<int> dirty)
    {
        if (_endSince.Count == 0) return;
        var now = _clock.GetUtcNow();
        foreach (var (tp, _) in _endSince.Where(e => now - e.Value >= _settings.IdleWatermarkAfter).ToList())
        {
            _endSince.Remove(tp);
            if (!_mergers.TryGetValue(tp.Partition.Value, out var merger)) continue;
            merger.MarkEnd(tp.Topic);
            dirty.Add(tp.Partition.Value);
        }
    }

    private bool IsIdle(int partition, DateTimeOffset now) =>
        _assigned.Where(tp => tp.Partition.Value == partition).All(_atEnd.Contains) &&
        _mergers[partition].Buffered == 0 &&
        now - _lastInput.GetValueOrDefault(partition, now) >= _settings.IdleWatermarkAfter;

    private void CommitCheckpointed(IConsumer<byte[], byte[]> consumer)
    {
        var offsets = new Dictionary<TopicPartition, long>();
        var drained = new Dictionary<int, IReadOnlyDictionary<string, long>>();
        while (_pipeline.TryTakeCommittable(out var checkpoint))
        {
            foreach (var (topic, next) in checkpoint.NextOffsets) offsets[new TopicPartition(topic, checkpoint.Partition)] = next;
            if (checkpoint.Drained && _mergers.ContainsKey(checkpoint.Partition)) drained[checkpoint.Partition] = checkpoint.NextOffsets;
            else drained.Remove(checkpoint.Partition);
        }
        var owned = offsets.Where(o => _assigned.Contains(o.Key)).Select(o => new TopicPartitionOffset(o.Key, o.Value)).ToList();
        foreach (var committed in owned) _checkpointedNext[committed.TopicPartition] = committed.Offset.Value;
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
            if (!_mergers.ContainsKey(partition)) _mergers[partition] = new PartitionInputMerger(Topics.Inputs, _settings.MaxFutureSkew);
            _lastInput[partition] = _clock.GetUtcNow();
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
                _assigned.Add(tp);
                var next = restored.NextOffsets.GetValueOrDefault(tp.Topic);
                _expected[tp] = next;
                _checkpointedNext[tp] = next;
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
        var numbers = partitions.Select(p => p.Partition.Value).Distinct().Where(_mergers.ContainsKey).ToList();
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
        {
            _assigned.Remove(tp);
            _atEnd.Remove(tp);
            _endSince.Remove(tp);
            _delivered.Remove(tp);
            _endOffsets.Remove(tp);
            _expected.Remove(tp);
            _checkpointedNext.Remove(tp);
            _joiner.Forget(tp);
        }
        foreach (var partition in partitions.Select(p => p.Partition.Value).Distinct())
        {
            if (_assigned.Any(a => a.Partition.Value == partition)) continue;
            _mergers.Remove(partition);
            _sinceCheckpoint.Remove(partition);
            _drained.Remove(partition);
            _newestEventTime.Remove(partition);
            _pipeline.ForgetFrontier(partition);
            _idleAdvancedTo.Remove(partition);
            // In order with the commands still in the pipeline: an actor must not be stopped before what was handed to it.
            var forget = new PartitionSupervisor.ForgetPartition(partition);
            if (_pipeline.Failure is null) _pipeline.HandMessage(forget, partition, CancellationToken.None);
            else _partitions.Tell(forget);
            _metrics.Released(partition);
        }
        if (_assigned.Count == 0) _health.NoPartitions();
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
