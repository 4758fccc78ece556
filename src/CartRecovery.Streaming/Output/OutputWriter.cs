using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Akka.Actor;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Storage;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Ingest;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
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
/// Writes completed batches: triggers to the recovery-triggers topic, dead letters to the dead-letter topic,
/// rows to the analytics store; then reports the batches' offsets as committable. Nothing is committable before
/// its outputs are acknowledged, so a crash replays a short tail whose outputs carry the same deterministic ids
/// (ReplacingMergeTree tables and dispatchers deduplicate on them).
/// </summary>
public sealed class OutputWriter : IBatchSink
{
    // Decided batches and durability markers, in the order the partition actors produced them. The publisher sends
    // each batch's Kafka records (off the actors' threads: a full producer queue must not block a partition actor) and
    // passes batches and markers on, in the same order, to the writer as published batches.
    private readonly Channel<object> _decided = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<object> _batches = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly IAnalyticsStore _store;
    private readonly IProducer<string, byte[]> _producer;
    private readonly OutputSettings _settings;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly BatchTracker _tracker;

    public OutputWriter(IAnalyticsStore store, IProducer<string, byte[]> producer, OutputSettings settings, WorkerMetrics metrics,
        ILogger<OutputWriter> logger, BatchTracker tracker)
    {
        _store = store;
        _producer = producer;
        _settings = settings;
        _metrics = metrics;
        _logger = logger;
        _tracker = tracker;
    }

    public long TriggersWritten { get; private set; }
    public long FlushCount { get; private set; }

    /// <summary>Called by a partition actor when a batch is decided. Its triggers go to Kafka at once (by the
    /// publisher, not on the actor's thread), so a proactive chat reaches the agents without waiting for the next
    /// analytics insert; the batch's offsets still become committable only after <see cref="FlushAsync"/> has seen
    /// every delivery acknowledged.</summary>
    public void Complete(BatchCompleted decided)
    {
        _tracker.Decided();
        if (!_decided.Writer.TryWrite(_settings.Writable(decided))) throw new InvalidOperationException("output writer is closed");
    }

    /// <summary>A batch whose Kafka records are produced, with its trigger rows serialised once (the Kafka payload's
    /// JSON is the ClickHouse row).</summary>
    private sealed record Published(BatchCompleted Batch, List<string> TriggerRows);

    public void WhenDurable(long sequence, IActorRef replyTo)
    {
        if (!_decided.Writer.TryWrite(new DurabilityMarker(sequence, replyTo))) throw new InvalidOperationException("output writer is closed");
    }

    public void Checkpointed(CheckpointSaved saved, int requests, int bytes, TimeSpan duration)
    {
        _metrics.Checkpointed(saved.Partition, bytes, duration);
        _tracker.Checkpointed(saved, requests);
    }

    public void CheckpointFailed(int partition, Exception cause)
    {
        _logger.LogError(cause, "checkpoint of partition {Partition} failed", partition);
        _tracker.CheckpointFailed(cause);
    }

    public void PartitionFailed(Exception cause)
    {
        _logger.LogError(cause, "a partition actor failed; the worker stops without committing");
        _tracker.Fail(cause);
    }

    public void Close() => _decided.Writer.TryComplete();

    /// <summary>Marks the worker's own records on an input topic (identity hand-overs and forwarded events): a drain
    /// reads them however late they were written, since they are this run's work, not new input.</summary>
    public const string ForwardHeader = "cartrecovery-forward";

    public static bool IsForward(Message<byte[], byte[]> message) => message.Headers?.TryGetLastBytes(ForwardHeader, out _) == true;

    private sealed record DurabilityMarker(long Sequence, IActorRef ReplyTo);

    public async Task RunAsync(CancellationToken ct)
    {
        var publishing = Task.Run(PublishAllAsync, CancellationToken.None);
        await WriteAllAsync(ct);
        await publishing;
    }

    /// <summary>Produces each decided batch's Kafka records and hands it on to the writer, in order, until closed.</summary>
    private async Task PublishAllAsync()
    {
        try
        {
            await foreach (var item in _decided.Reader.ReadAllAsync())
                _batches.Writer.TryWrite(item is BatchCompleted batch ? new Published(batch, Publish(batch)) : item);
            _batches.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _batches.Writer.TryComplete(e);
            throw;
        }
    }

    private async Task WriteAllAsync(CancellationToken ct)
    {
        var pending = new List<Published>();
        var markers = new List<DurabilityMarker>();
        var rows = 0;
        var reader = _batches.Reader;
        while (true)
        {
            if (pending.Count == 0)
            {
                if (!await reader.WaitToReadAsync(ct)) break;
            }
            var deadline = DateTime.UtcNow + _settings.FlushInterval;
            while (rows < _settings.MaxBatchRows)
            {
                if (reader.TryRead(out var item))
                {
                    if (item is DurabilityMarker marker)
                    {
                        // A checkpoint waits for this point: write now rather than at the next interval.
                        markers.Add(marker);
                        break;
                    }
                    var published = (Published)item;
                    pending.Add(published);
                    var batch = published.Batch;
                    rows += batch.Triggers.Count + batch.Audits.Count + batch.Outcomes.Count + batch.DeadLetters.Count + (batch.OutcomeRows?.Count ?? 0) + (batch.Profiles?.Count ?? 0);
                    continue;
                }
                var wait = deadline - DateTime.UtcNow;
                if (wait <= TimeSpan.Zero || reader.Completion.IsCompleted) break;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(wait);
                try
                {
                    if (!await reader.WaitToReadAsync(timeout.Token)) break;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    break;
                }
            }
            if (pending.Count > 0) await FlushAsync(pending, ct);
            foreach (var marker in markers) marker.ReplyTo.Tell(new OutputsDurable(marker.Sequence));
            pending.Clear();
            markers.Clear();
            rows = 0;
            if (reader.Completion.IsCompleted && !reader.TryPeek(out _)) break;
        }
    }

    private async Task FlushAsync(List<Published> published, CancellationToken ct)
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
                await AnalyticsErasure.EraseAsync(_store, erasure.ShopperId, erasure.Pseudonym, ct);
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
        _tracker.Written(batches);
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
    private List<string> Publish(BatchCompleted batch)
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
