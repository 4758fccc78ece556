using System.Security.Cryptography;
using Akka.Actor;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Streaming.Actors;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// The consume loop: reads the input topics in a consumer group, validates each record (rejects become dead
/// letters), merges partition p of every input topic deterministically, hands batches to the partition actors
/// with back-pressure, and commits offsets only for batches whose outputs the <see cref="Output.OutputWriter"/>
/// has durably written. Runs on its own thread: a Confluent consumer is not thread-safe.
/// </summary>
public sealed class KafkaIngest
{
    private readonly WorkerSettings _settings;
    private readonly IActorRef _partitions;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly BatchTracker _tracker;
    private readonly Dictionary<int, PartitionInputMerger> _mergers = new();
    private readonly Dictionary<int, long> _sequences = new();
    private readonly HashSet<TopicPartition> _assigned = new();
    private readonly HashSet<TopicPartition> _atEnd = new();
    private readonly Dictionary<int, DateTimeOffset> _lastInput = new();

    public KafkaIngest(WorkerSettings settings, IActorRef partitions, BatchTracker tracker, WorkerMetrics metrics, ILogger logger, TimeProvider clock)
    {
        settings.Validate();
        _settings = settings;
        _partitions = partitions;
        _metrics = metrics;
        _logger = logger;
        _clock = clock;
        _tracker = tracker;
    }

    public long RecordsRead { get; private set; }

    public Task RunAsync(CancellationToken ct) =>
        Task.Factory.StartNew(() => Loop(ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Loop(CancellationToken ct)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _settings.BootstrapServers,
            GroupId = _settings.GroupId,
            GroupInstanceId = _settings.GroupInstanceId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
            // Range assignment gives one consumer partition p of every input topic (the topics are co-partitioned
            // by shopper); a sticky assignor may split them and break the per-shopper merge.
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
            FetchWaitMaxMs = 10,
            MaxPollIntervalMs = 300_000,
        };
        ValidateTopics();

        using var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler((_, partitions) => Assigned(partitions))
            .SetPartitionsRevokedHandler((c, partitions) => Revoked(c, partitions.Select(p => p.TopicPartition).ToList()))
            .SetPartitionsLostHandler((_, partitions) => Lost(partitions.Select(p => p.TopicPartition).ToList()))
            .SetErrorHandler((_, e) => _logger.LogWarning("kafka consumer: {Code} {Reason}", e.Code, e.Reason))
            .Build();
        consumer.Subscribe(Topics.Inputs);

        var dirty = new HashSet<int>();
        var sinceDispatch = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                CommitWritten(consumer);
                var result = consumer.Consume(TimeSpan.FromMilliseconds(20));
                if (result is null)
                {
                    DispatchAll(dirty, ct);
                    sinceDispatch = 0;
                    if (_settings.Drain && IsFullyConsumed())
                    {
                        DrainAndCommit(consumer, ct);
                        return;
                    }
                    if (!_settings.Drain) AdvanceIdlePartitions(ct);
                    continue;
                }

                var tp = result.TopicPartition;
                if (!_mergers.TryGetValue(tp.Partition.Value, out var merger)) continue; // revoked meanwhile
                if (result.IsPartitionEOF)
                {
                    _atEnd.Add(tp);
                    merger.MarkEnd(tp.Topic);
                    dirty.Add(tp.Partition.Value);
                    continue;
                }
                _atEnd.Remove(tp);
                RecordsRead++;
                merger.Add(ToRecord(result));
                _lastInput[tp.Partition.Value] = _clock.GetUtcNow();
                dirty.Add(tp.Partition.Value);
                if (++sinceDispatch >= _settings.MaxBatchRecords)
                {
                    DispatchAll(dirty, ct);
                    sinceDispatch = 0;
                }
            }
        }
        finally
        {
            // Graceful stop: what is written gets committed; the rest is replayed by the next owner.
            CommitWritten(consumer);
            consumer.Close();
        }
    }

    private InputRecord ToRecord(ConsumeResult<byte[], byte[]> result)
    {
        var tp = result.TopicPartition;
        var payload = result.Message.Value ?? [];
        var parsed = EventParser.Parse(payload);
        var (reason, detail) = (parsed.RejectReason, parsed.Detail);
        if (parsed.Event is { } evt)
        {
            if (!EventParser.BelongsOn(evt, tp.Topic)) (reason, detail) = (RejectReasons.WrongTopic, $"{evt.GetType().Name} does not belong on {tp.Topic}");
            else if (result.Message.Key is { } key && !key.AsSpan().SequenceEqual(System.Text.Encoding.UTF8.GetBytes(evt.ShopperId)))
                (reason, detail) = ("key_mismatch", "record key is not the shopper_id: the event may sit on another shopper's partition");
            else return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, evt, null);
        }

        _metrics.DeadLettered(reason!);
        var letter = new DeadLetter
        {
            DeadLetterId = DeterministicId.From("dead-letter", tp.Topic, tp.Partition.Value.ToString(), result.Offset.Value.ToString()),
            Topic = tp.Topic,
            Partition = tp.Partition.Value,
            Offset = result.Offset.Value,
            Reason = reason!,
            Detail = detail ?? "",
            PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(payload)),
            ReceivedAt = result.Message.Timestamp.UtcDateTime,
        };
        return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, null, letter, result.Message.Key, payload);
    }

    private void DispatchAll(HashSet<int> partitions, CancellationToken ct)
    {
        var released = new List<InputRecord>();
        foreach (var partition in partitions.Order())
        {
            if (!_mergers.TryGetValue(partition, out var merger)) continue;
            released.Clear();
            merger.Release(released);
            for (var i = 0; i < released.Count; i += _settings.MaxBatchRecords)
            {
                var chunk = released.GetRange(i, Math.Min(_settings.MaxBatchRecords, released.Count - i));
                Send(new ProcessBatch(partition, NextSequence(partition), chunk), ct);
            }
        }
        partitions.Clear();
    }

    private void Send(object message, CancellationToken ct)
    {
        _tracker.Acquire(ct);
        _partitions.Tell(message);
    }

    private long NextSequence(int partition) => _sequences[partition] = _sequences.GetValueOrDefault(partition) + 1;

    private bool IsFullyConsumed() =>
        _assigned.Count > 0 && _assigned.All(_atEnd.Contains) && _mergers.Values.All(m => m.Buffered == 0);

    private void DrainAndCommit(IConsumer<byte[], byte[]> consumer, CancellationToken ct)
    {
        foreach (var partition in _mergers.Keys.Order()) Send(new Drain(partition, NextSequence(partition)), ct);
        WaitForOutstanding(consumer, ct);
        _logger.LogInformation("drained: {Records} records read, all outputs written and offsets committed", RecordsRead);
    }

    private void WaitForOutstanding(IConsumer<byte[], byte[]> consumer, CancellationToken ct)
    {
        while (_tracker.Outstanding > 0)
        {
            ct.ThrowIfCancellationRequested();
            CommitWritten(consumer);
            Thread.Sleep(5);
        }
        CommitWritten(consumer);
    }

    private void AdvanceIdlePartitions(CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        foreach (var partition in _mergers.Keys)
        {
            if (now - _lastInput.GetValueOrDefault(partition, DateTimeOffset.MinValue) < _settings.IdleWatermarkAfter) continue;
            _lastInput[partition] = now;
            Send(new AdvanceIdle(partition, NextSequence(partition), now), ct);
        }
    }

    private void CommitWritten(IConsumer<byte[], byte[]> consumer)
    {
        var offsets = new Dictionary<TopicPartition, long>();
        while (_tracker.TryTakeWritten(out var batch))
            foreach (var (topic, next) in batch.NextOffsets)
            {
                var tp = new TopicPartition(topic, batch.Partition);
                if (next > offsets.GetValueOrDefault(tp)) offsets[tp] = next;
            }
        var owned = offsets.Where(o => _assigned.Contains(o.Key)).Select(o => new TopicPartitionOffset(o.Key, o.Value)).ToList();
        if (owned.Count == 0) return;
        try
        {
            consumer.Commit(owned);
        }
        catch (KafkaException e)
        {
            // Not fatal: a later commit covers these offsets; a crash before it replays a tail the idempotent sinks absorb.
            _logger.LogWarning("offset commit failed: {Reason}", e.Error.Reason);
        }
    }

    private void Assigned(List<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
        {
            _assigned.Add(tp);
            if (!_mergers.ContainsKey(tp.Partition.Value)) _mergers[tp.Partition.Value] = new PartitionInputMerger(Topics.Inputs);
        }
        _logger.LogInformation("assigned partitions {Partitions}", string.Join(",", partitions.Select(p => p.Partition.Value).Distinct().Order()));
    }

    private void Revoked(IConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions)
    {
        // Finish and commit what was handed out before the partitions move to another worker.
        WaitForOutstanding(consumer, CancellationToken.None);
        Forget(partitions);
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
        }
        foreach (var partition in partitions.Select(p => p.Partition.Value).Distinct())
        {
            if (_assigned.Any(a => a.Partition.Value == partition)) continue;
            _mergers.Remove(partition);
            _partitions.Tell(new PartitionSupervisor.ForgetPartition(partition));
        }
    }

    private void ValidateTopics()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _settings.BootstrapServers }).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(20));
        var counts = new Dictionary<string, int>();
        foreach (var topic in Topics.Inputs)
        {
            var meta = metadata.Topics.FirstOrDefault(t => t.Topic == topic);
            if (meta is null || meta.Error.IsError)
                throw new InvalidOperationException($"input topic '{topic}' does not exist on {_settings.BootstrapServers}");
            counts[topic] = meta.Partitions.Count;
        }
        if (counts.Values.Distinct().Count() > 1)
            throw new InvalidOperationException("input topics must be co-partitioned (same partition count): " +
                string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}")));
    }
}
