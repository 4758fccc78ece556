using System.Diagnostics;
using System.Text;
using System.Text.Json;
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

    /// <summary>The producer's <c>message.max.bytes</c>: no record the writer produces is larger (<see cref="OutputLimits"/>).</summary>
    public int MaxRecordBytes { get; init; } = OutputLimits.DefaultMaxRecordBytes;
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
    private readonly Domain.Compliance.ComplianceKeys _keys;

    public OutputWriter(IAnalyticsStore store, IProducer<string, byte[]> producer, OutputSettings settings, WorkerMetrics metrics, Domain.Compliance.ComplianceKeys keys)
    {
        _store = store;
        _producer = producer;
        _settings = settings;
        _metrics = metrics;
        _keys = keys;
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

    /// <summary>A batch whose Kafka records are produced, with its trigger rows serialised once: the UTF-8 JSON of each
    /// trigger's Kafka record is its ClickHouse row (the same fitted trigger, the same bytes), copied as it is into the
    /// insert's buffer; and how many rows it writes.</summary>
    public sealed record Published(BatchCompleted Batch, List<byte[]> TriggerRows)
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

    private volatile string _activity = "idle";
    private long _activitySince = Environment.TickCount64;

    /// <summary>What the writer is doing and for how long (stall reports: a worker waiting on its writes says on what).</summary>
    public string Activity => $"{_activity} for {(Environment.TickCount64 - Interlocked.Read(ref _activitySince)) / 1000.0:F0} s";

    /// <summary>How long the writer has been at its current write (zero when idle).</summary>
    public TimeSpan Busy => _activity == "idle" ? TimeSpan.Zero
        : TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _activitySince));

    private void Doing(string activity)
    {
        _activity = activity;
        Interlocked.Exchange(ref _activitySince, Environment.TickCount64);
    }

    /// <summary>Writes the batches' rows and waits until every Kafka record they produced is acknowledged.</summary>
    public async Task FlushAsync(List<Published> published, CancellationToken ct)
    {
        try
        {
            await WriteAndAcknowledgeAsync(published, ct);
        }
        finally
        {
            Doing("idle");
        }
    }

    private async Task WriteAndAcknowledgeAsync(List<Published> published, CancellationToken ct)
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
            Doing("erasing shoppers' rows (synchronous mutations)");
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
        Doing("waiting for the Kafka acknowledgements of the batches' records");
        await Task.Run(() => _producer.Flush(ct), ct);
        if (_deliveryError is { } error)
            throw new OutputFailedException(error);

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

    // Each table's rows are serialised once, as UTF-8, into a pooled buffer (JsonEachRowBuffer) that the store sends
    // as it is; the buffer goes back to the pool when the insert is done, so a steady flow of flushes reuses its memory.
    private async Task InsertRowsAsync(List<Published> published, CancellationToken ct)
    {
        var batches = published.ConvertAll(p => p.Batch);
        using (var triggers = new JsonEachRowBuffer())
        {
            foreach (var row in published.SelectMany(p => p.TriggerRows))
            {
                triggers.AppendRow(row);
                if (triggers.Rows.Length < InsertPartBytes) continue;
                await InsertAsync(Tables.RecoveryTriggers, triggers, ct);
                triggers.Clear();
            }
            await InsertAsync(Tables.RecoveryTriggers, triggers, ct);
        }
        await InsertAsync(Tables.AuditLog, batches.SelectMany(b => b.Audits), ContractJson.Serialize, ct);
        // After the rows they anchor: a crash between the two leaves heads behind their rows until the replay writes both.
        await InsertAsync(Tables.AuditChainHeads,
            Domain.Compliance.AuditChainAnchors.HeadsOf(batches.SelectMany(b => b.Audits), _keys), ContractJson.Serialize, ct);
        await InsertAsync(Tables.SessionOutcomes, batches.SelectMany(b => b.Outcomes), ContractJson.Serialize, ct);
        await InsertAsync(Tables.DeadLetters, batches.SelectMany(b => b.DeadLetters).Select(d => d.Rejected!), ContractJson.Serialize, ct);
        await InsertAsync(Tables.OutcomeEvents, batches.SelectMany(b => b.OutcomeRows ?? []), ContractJson.Serialize, ct);
        await InsertAsync(Tables.ShopperProfiles, batches.SelectMany(b => b.Profiles ?? []), ContractJson.Serialize, ct);
    }

    /// <summary>Produces the batch's triggers, forwards and dead letters; returns the trigger rows for the analytics store.</summary>
    private List<byte[]> PublishRecords(BatchCompleted batch)
    {
        var triggerRows = new List<byte[]>(batch.Triggers.Count);
        foreach (var decided in batch.Triggers)
        {
            // The row in the analytics store is the record on the topic: both get the fitted trigger.
            var (trigger, json) = OutputLimits.FitTrigger(decided, _settings.MaxRecordBytes - OutputLimits.RecordOverheadBytes - Encoding.UTF8.GetByteCount(decided.ShopperId));
            triggerRows.Add(json);
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
        // Signed: only the worker may write them (docs/events.md, "Internal records").
        foreach (var forward in batch.Forwards ?? [])
            ProduceForward(forward);
        foreach (var record in batch.DeadLetters)
        {
            var letter = record.Rejected!;
            // A huge rejected record is not republished whole (it would not fit a record either): its first bytes and the
            // digest of the whole identify it at its source offset.
            var (value, truncated) = OutputLimits.DeadLetterValue(record.Payload);
            var headers = new Headers
            {
                { "reason", Encoding.UTF8.GetBytes(letter.Reason) },
                { "detail", Encoding.UTF8.GetBytes(letter.Detail) },
                { "source_topic", Encoding.UTF8.GetBytes(letter.Topic) },
                { "source_partition", Encoding.UTF8.GetBytes(letter.Partition.ToString()) },
                { "source_offset", Encoding.UTF8.GetBytes(letter.Offset.ToString()) },
                { "dead_letter_id", Encoding.UTF8.GetBytes(letter.DeadLetterId) },
            };
            if (truncated)
            {
                headers.Add("payload_truncated", "true"u8.ToArray());
                headers.Add("payload_bytes", Encoding.UTF8.GetBytes((record.Payload?.Length ?? 0).ToString()));
                headers.Add("payload_sha256", Encoding.UTF8.GetBytes(letter.PayloadSha256));
            }
            Produce(_settings.DeadLetterTopic, new Message<string, byte[]>
            {
                Key = OutputLimits.DeadLetterKey(record.Key)!,
                Value = value,
                Headers = headers,
            });
        }
        return triggerRows;
    }

    /// <summary>A hand-over or forwarded event to the customer's key: one record, or, when it is larger than an input
    /// record may be, its parts in order (<see cref="SplitRecords"/>), read back whole by the customer's partition.</summary>
    private void ProduceForward(Contracts.Events.ShopperEvent forward)
    {
        var value = ContractJson.SerializeEvent(forward);
        // Signed over the whole value: the reading partition checks the MAC of the joined record (InternalRecords).
        var mac = Ingest.InternalRecords.Sign(_keys, _settings.ForwardTopic, forward.ShopperId, value);
        if (!SplitRecords.MustSplit(value.Length))
        {
            Produce(_settings.ForwardTopic, new Message<string, byte[]>
            {
                Key = forward.ShopperId, Value = value, Timestamp = new Timestamp(forward.EventTime),
                Headers = new Headers { { ForwardHeader, [1] }, { Ingest.InternalRecords.MacHeader, mac } },
            });
            return;
        }
        if (value.Length > SplitRecords.MaxJoinedBytes)
            throw new OutputFailedException($"{_settings.ForwardTopic}: a {forward.GetType().Name} of {value.Length} bytes exceeds the {SplitRecords.MaxJoinedBytes} bytes " +
                $"a split record may carry (record key {OutputLimits.KeyDigest(forward.ShopperId)})");
        foreach (var (part, index, partOf) in SplitRecords.Split(value))
            Produce(_settings.ForwardTopic, new Message<string, byte[]>
            {
                Key = forward.ShopperId, Value = part, Timestamp = new Timestamp(forward.EventTime),
                Headers = new Headers { { ForwardHeader, [1] }, { Ingest.InternalRecords.MacHeader, mac }, { SplitRecords.PartHeader, index }, { SplitRecords.PartOfHeader, partOf } },
            });
    }

    private void Produce(string topic, Message<string, byte[]> message)
    {
        // librdkafka refuses a record over message.max.bytes; say which and why instead of its bare error.
        var size = message.Value.Length + OutputLimits.Overhead(message.Key, message.Headers?.Select(h => (h.Key, (byte[]?)h.GetValueBytes())) ?? []);
        if (size > _settings.MaxRecordBytes)
            throw new OutputFailedException($"{topic}: a record of {size} bytes exceeds message.max.bytes {_settings.MaxRecordBytes} (record key {OutputLimits.KeyDigest(message.Key)})");
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
            catch (ProduceException<string, byte[]> e)
            {
                throw new OutputFailedException($"producing to {topic} failed: {e.Error.Code} {e.Error.Reason} (record key {OutputLimits.KeyDigest(message.Key)})", e);
            }
        }
    }

    // Any failed delivery fails the writer: the batches' offsets are never committed, and the next owner replays them.
    private void OnDelivery(DeliveryReport<string, byte[]> report)
    {
        if (report.Error.IsError)
            _deliveryError ??= $"delivery to {report.Topic} failed: {report.Error.Code} {report.Error.Reason} (record key {OutputLimits.KeyDigest(report.Message?.Key)})";
    }

    private volatile string? _deliveryError;

    /// <summary>Writes dead letters found outside the pipeline (a file replay's rejected input lines) as the same rows
    /// the worker writes for its own, in inserts of at most <paramref name="maxRows"/>.</summary>
    public static async Task InsertDeadLettersAsync(IAnalyticsStore store, IReadOnlyList<DeadLetter> letters, CancellationToken ct, int maxRows = 50_000)
    {
        using var rows = new JsonEachRowBuffer();
        foreach (var chunk in letters.Chunk(maxRows))
        {
            using var part = ((IEnumerable<DeadLetter>)chunk).GetEnumerator();
            bool more;
            do
            {
                rows.Clear();
                more = WriteRows(rows, part, ContractJson.Serialize, DefaultInsertPartBytes);
                if (rows.RowCount > 0) await store.InsertJsonEachRowAsync(Tables.DeadLetters, rows.Rows, ct);
            } while (more);
        }
    }

    /// <summary>A table's rows go to the store in parts of about this many bytes (the store cuts its statements at about
    /// the same size anyway): what a flush holds in memory is bounded whatever its rows, and never meets an array's limit.</summary>
    public const int DefaultInsertPartBytes = 64 * 1024 * 1024;

    /// <summary><see cref="DefaultInsertPartBytes"/>; lowered by tests to exercise the parts.</summary>
    internal int InsertPartBytes { get; init; } = DefaultInsertPartBytes;

    /// <summary>Serialises rows from <paramref name="rows"/> with <paramref name="serialize"/> (a <see cref="ContractJson"/>
    /// row writer) straight into <paramref name="buffer"/>, one line each, until they run out (false) or the buffer holds
    /// <paramref name="partBytes"/> (true: insert it, clear it, and call again for the rest).</summary>
    private static bool WriteRows<T>(JsonEachRowBuffer buffer, IEnumerator<T> rows, Action<Utf8JsonWriter, T> serialize, int partBytes)
    {
        using var json = new Utf8JsonWriter(buffer.Writer, ContractJson.RowWriterOptions);
        while (rows.MoveNext())
        {
            serialize(json, rows.Current); // flushes into the buffer
            json.Reset(); // the next row is a new JSON value
            buffer.EndRow();
            if (buffer.Rows.Length >= partBytes) return true;
        }
        return false;
    }

    private async Task InsertAsync<T>(string table, IEnumerable<T> rows, Action<Utf8JsonWriter, T> serialize, CancellationToken ct)
    {
        using var buffer = new JsonEachRowBuffer();
        using var part = rows.GetEnumerator();
        bool more;
        do
        {
            buffer.Clear();
            more = WriteRows(buffer, part, serialize, InsertPartBytes);
            await InsertAsync(table, buffer, ct);
        } while (more);
    }

    private async Task InsertAsync(string table, JsonEachRowBuffer rows, CancellationToken ct)
    {
        if (rows.RowCount == 0) return;
        Doing($"inserting {rows.RowCount} rows into {table}");
        await _store.InsertJsonEachRowAsync(table, rows.Rows, ct);
        _metrics.RowsWritten(table, rows.RowCount);
    }
}

/// <summary>An output could not be written (a record refused by the producer or the broker, a delivery that failed):
/// the worker stops without committing, and the message names the topic, the error and the record's key (as a digest:
/// keys are shopper ids, which logs never carry).</summary>
public sealed class OutputFailedException(string message, Exception? inner = null) : Exception(message, inner);
