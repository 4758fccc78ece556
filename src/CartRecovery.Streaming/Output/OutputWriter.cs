using System.Diagnostics;
using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Storage;
using Confluent.Kafka;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Output;

public sealed record OutputSettings
{
    /// <summary>Flush when this many rows are buffered ...</summary>
    public int MaxBatchRows { get; init; } = 50_000;
    /// <summary>... or when the oldest buffered batch is this old (about one insert per second per table).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
    public string TriggerTopic { get; init; } = Topics.RecoveryTriggers;
    public string DeadLetterTopic { get; init; } = Topics.DeadLetter;
    /// <summary>A windowed replay first rebuilds shopper state from the history before its window: the decisions of
    /// that warm-up (event time before this instant) are state, not output, and are not written anywhere.</summary>
    public DateTimeOffset? WriteFrom { get; init; }

    /// <summary>The part of a batch that is output: everything, or only what falls at or after <see cref="WriteFrom"/>.
    /// The batch's offsets, counts and watermark are kept: they are progress, not output.</summary>
    public BatchCompleted Writable(BatchCompleted batch) => WriteFrom is not { } from ? batch : batch with
    {
        Triggers = [.. batch.Triggers.Where(t => t.EventTime >= from)],
        Audits = [.. batch.Audits.Where(a => a.EventTime >= from)],
        Outcomes = [.. batch.Outcomes.Where(o => o.EndedAt >= from)],
        DeadLetters = [.. batch.DeadLetters.Where(d => d.Rejected!.ReceivedAt >= from)],
        OutcomeRows = batch.OutcomeRows is null ? null : [.. batch.OutcomeRows.Where(o => o.EventTime >= from)],
        Profiles = batch.Profiles is null ? null : [.. batch.Profiles.Where(p => p.UpdatedAt >= from)],
    };

    /// <summary>The input topic that carries identity hand-overs and forwarded events to the customer's key.</summary>
    public string ForwardTopic { get; init; } = Topics.CartEvents;
}

/// <summary>
/// Writes completed batches, as two stages of the worker's pipeline (<see cref="Pipeline.WorkerPipeline"/>):
/// <see cref="Publish"/> sends a batch's triggers to the recovery-triggers topic and its dead letters to the
/// dead-letter topic as soon as it is decided (a proactive chat reaches the agents without waiting for the next
/// analytics insert); <see cref="FlushAsync"/> writes a group of batches' rows to the analytics store and waits for
/// every Kafka acknowledgement. Only then are the batches' offsets committable, so a crash replays a short tail whose
/// outputs carry the same deterministic ids (ReplacingMergeTree tables and dispatchers deduplicate on them).
/// </summary>
public sealed class OutputWriter
{
    private readonly IAnalyticsStore _store;
    private readonly IProducer<string, byte[]> _producer;
    private readonly OutputSettings _settings;
    private readonly WorkerMetrics _metrics;

    public OutputWriter(IAnalyticsStore store, IProducer<string, byte[]> producer, OutputSettings settings, WorkerMetrics metrics)
    {
        _store = store;
        _producer = producer;
        _settings = settings;
        _metrics = metrics;
    }

    /// <summary>How long the worker waits for the engine to remove the parts an erasure replaced (docs/compliance.md).</summary>
    public static readonly TimeSpan ErasurePurgeTimeout = TimeSpan.FromMinutes(5);

    private readonly List<Task<ErasurePurge>> _purges = [];

    /// <summary>Completes when the parts replaced by every erasure written so far are gone from disk (or the wait timed
    /// out: the result says how many are left).</summary>
    public async Task<ErasurePurge> ErasuresPurgedAsync()
    {
        Task<ErasurePurge>[] pending;
        lock (_purges) pending = [.. _purges];
        var results = await Task.WhenAll(pending);
        return new ErasurePurge(results.Sum(r => r.ReplacedPartsLeft), results.Sum(r => r.DetachedPartsDropped));
    }

    public long TriggersWritten { get; private set; }
    public long FlushCount { get; private set; }

    /// <summary>A batch whose Kafka records are produced, with its trigger rows serialised once (the Kafka payload's
    /// JSON is the ClickHouse row), and how many rows it writes.</summary>
    public sealed record Published(BatchCompleted Batch, List<string> TriggerRows)
    {
        public int Rows { get; } = Batch.Triggers.Count + Batch.Audits.Count + Batch.Outcomes.Count + Batch.DeadLetters.Count +
            (Batch.OutcomeRows?.Count ?? 0) + (Batch.Profiles?.Count ?? 0);
    }

    /// <summary>Marks the worker's own records on an input topic (identity hand-overs and forwarded events): a drain
    /// reads them however late they were written, since they are this run's work, not new input.</summary>
    public const string ForwardHeader = "cartrecovery-forward";

    public static bool IsForward(Message<byte[], byte[]> message) => message.Headers?.TryGetLastBytes(ForwardHeader, out _) == true;

    /// <summary>Produces the batch's triggers, forwards and dead letters (acknowledged later, see <see cref="FlushAsync"/>).</summary>
    public Published Publish(BatchCompleted batch) => new(batch, PublishRecords(batch));

    /// <summary>Writes the batches' rows and waits until every Kafka record they produced is acknowledged.</summary>
    public async Task FlushAsync(List<Published> published, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var batches = published.ConvertAll(p => p.Batch);
        var triggers = published.Sum(p => p.TriggerRows.Count);
        var audits = batches.SelectMany(b => b.Audits).ToList();
        var outcomes = batches.SelectMany(b => b.Outcomes).ToList();
        var deadLetters = batches.SelectMany(b => b.DeadLetters).ToList();
        var outcomeRows = batches.SelectMany(b => b.OutcomeRows ?? []).ToList();
        var profiles = batches.SelectMany(b => b.Profiles ?? []).ToList();
        foreach (var row in outcomeRows) _metrics.OutcomeReceived(row.Type, row.Matched);

        foreach (var audit in audits)
        {
            if (audit.Decision == AuditDecisions.Suppressed) _metrics.Suppressed(audit.Reason);
            else if (audit.Decision == AuditDecisions.DuplicateEvent) _metrics.DuplicateEvent();
        }

        // An erasure applies to what the store holds before its batch: rows of earlier batches are written first, then
        // erased, then the erasing batch's rows (already redacted up to the request) follow.
        var from = 0;
        for (var i = 0; i < published.Count; i++)
        {
            if (published[i].Batch.Erasures.Count == 0) continue;
            await InsertRowsAsync(published.GetRange(from, i - from), ct);
            foreach (var erasure in published[i].Batch.Erasures)
                await AnalyticsErasure.EraseAsync(_store, erasure.ShopperId, erasure.Pseudonym, erasure.SessionPseudonym, ct);
            // The parts the erasure replaced still hold the shopper on disk until the engine's cleanup removes them (about
            // 30 s): watched in the background, not in the write path, and awaited when the worker stops.
            var replaced = await AnalyticsErasure.ReplacedPartsAsync(_store, ct);
            lock (_purges) _purges.Add(AnalyticsErasure.PurgeAsync(_store, replaced, ErasurePurgeTimeout, CancellationToken.None));
            from = i;
        }
        await InsertRowsAsync(published.GetRange(from, published.Count - from), ct);

        // The triggers went out when their batches were decided; wait for every acknowledgement.
        await Task.Run(() => _producer.Flush(ct), ct);
        if (_deliveryError is { } error)
            throw new KafkaException(error);

        TriggersWritten += triggers;
        FlushCount++;
        _metrics.Flushed(triggers + audits.Count + outcomes.Count + deadLetters.Count + outcomeRows.Count + profiles.Count, Stopwatch.GetElapsedTime(started));
        foreach (var batch in batches)
        {
            _metrics.EventsProcessed(batch.Events, batch.LateEvents);
            _metrics.ActiveSessions(batch.Partition, batch.ActiveSessions);
            _metrics.Watermark(batch.Partition, batch.Watermark.Settled);
        }
    }

    private async Task InsertRowsAsync(List<Published> published, CancellationToken ct)
    {
        var batches = published.ConvertAll(p => p.Batch);
        await InsertAsync(Tables.RecoveryTriggers, published.SelectMany(p => p.TriggerRows).ToList(), ct);
        await InsertAsync(Tables.AuditLog, batches.SelectMany(b => b.Audits).Select(ContractJson.Serialize).ToList(), ct);
        await InsertAsync(Tables.SessionOutcomes, batches.SelectMany(b => b.Outcomes).Select(ContractJson.Serialize).ToList(), ct);
        await InsertAsync(Tables.DeadLetters, batches.SelectMany(b => b.DeadLetters).Select(d => ContractJson.Serialize(d.Rejected!)).ToList(), ct);
        await InsertAsync(Tables.OutcomeEvents, batches.SelectMany(b => b.OutcomeRows ?? []).Select(ContractJson.Serialize).ToList(), ct);
        await InsertAsync(Tables.ShopperProfiles, batches.SelectMany(b => b.Profiles ?? []).Select(ContractJson.Serialize).ToList(), ct);
    }

    /// <summary>Produces the batch's triggers, forwards and dead letters; returns the trigger rows for the analytics store.</summary>
    private List<string> PublishRecords(BatchCompleted batch)
    {
        var triggerRows = new List<string>(batch.Triggers.Count);
        foreach (var trigger in batch.Triggers)
        {
            var json = ContractJson.SerializeToUtf8(trigger);
            triggerRows.Add(Encoding.UTF8.GetString(json));
            Produce(_settings.TriggerTopic, new Message<string, byte[]>
            {
                Key = trigger.ShopperId,
                Value = json,
                Headers = new Headers { { "trigger_id", Encoding.UTF8.GetBytes(trigger.TriggerId) }, { "kind", Encoding.UTF8.GetBytes(trigger.Kind) } },
            });
            _metrics.Triggered(trigger.Kind, trigger.Channel);
        }
        // Identity hand-overs and forwarded events go to the customer's key on the input topic (docs/events.md,
        // "Identity"); like triggers, the batch's offsets are committable only once they are acknowledged.
        foreach (var forward in batch.Forwards ?? [])
            Produce(_settings.ForwardTopic, new Message<string, byte[]>
            {
                Key = forward.ShopperId,
                Value = ContractJson.SerializeEvent(forward),
                Timestamp = new Timestamp(forward.EventTime),
                Headers = new Headers { { ForwardHeader, [1] } },
            });
        foreach (var record in batch.DeadLetters)
        {
            var letter = record.Rejected!;
            Produce(_settings.DeadLetterTopic, new Message<string, byte[]>
            {
                Key = record.Key is null ? null! : Encoding.UTF8.GetString(record.Key),
                Value = record.Payload ?? [],
                Headers = new Headers
                {
                    { "reason", Encoding.UTF8.GetBytes(letter.Reason) },
                    { "detail", Encoding.UTF8.GetBytes(letter.Detail) },
                    { "source_topic", Encoding.UTF8.GetBytes(letter.Topic) },
                    { "source_partition", Encoding.UTF8.GetBytes(letter.Partition.ToString()) },
                    { "source_offset", Encoding.UTF8.GetBytes(letter.Offset.ToString()) },
                    { "dead_letter_id", Encoding.UTF8.GetBytes(letter.DeadLetterId) },
                },
            });
        }
        return triggerRows;
    }

    private void Produce(string topic, Message<string, byte[]> message)
    {
        while (true)
        {
            try
            {
                _producer.Produce(topic, message, OnDelivery);
                return;
            }
            catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The producer's queue is full: wait for deliveries (back-pressure on the publisher, then the ingest).
                _producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    // Any failed delivery fails the writer: the batches' offsets are never committed, and the next owner replays them.
    private void OnDelivery(DeliveryReport<string, byte[]> report)
    {
        if (report.Error.IsError) _deliveryError ??= report.Error;
    }

    private volatile Error? _deliveryError;

    private async Task InsertAsync(string table, List<string> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        await _store.InsertJsonEachRowAsync(table, rows, ct);
        _metrics.RowsWritten(table, rows.Count);
    }
}
