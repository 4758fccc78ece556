using CartRecovery.Contracts;
using CartRecovery.Domain.Compliance;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// One assigned input partition p (partition p of every input topic), as the consume loop sees it: where each topic
/// resumes, ends and was last committed, the split records being joined, the merge of the topics into one deterministic
/// order, the batch numbers, idleness and drain progress. Created when p is assigned and dropped when it is revoked or
/// lost, so nothing of a partition outlives its assignment (but its batch numbers: see <see cref="LastSequence"/>).
/// Takes the consumer's results and gives batches and commands; no broker, no pipeline (PartitionFeedSpecs).
///
/// Records are parsed in bulk, not as they are read: <see cref="Accept"/> only queues the raw record, and
/// <see cref="SettleAll"/> (or any question asked of the feed) joins split records, parses the queued records and merges
/// them in the order they were read, each with the wall-clock time it was read at. So every answer is what parsing each
/// record as it was read would have given, and a dispatch's parsing is one loop over pure calls that can move to other
/// threads (helper threads did not pay on this machine: docs/performance.md, session 10).
/// </summary>
public sealed class PartitionFeed
{
    /// <summary>One input topic's partition p.</summary>
    private sealed class TopicCursor
    {
        /// <summary>Assigned to this worker (a cursor can outlive its topic's revocation while p stays assigned).</summary>
        public bool Assigned;
        public bool AtEnd;
        /// <summary>Where the topic-partition ended when its end was last reported (control records included).</summary>
        public long EndOffset;
        /// <summary>Live mode, reading a backlog: at its end since (wall clock), not yet trusted to stay there.</summary>
        public DateTimeOffset? EndSince;
        /// <summary>Delivered a record since it was assigned: only such a topic can be part of a backlog being written.</summary>
        public bool Delivered;
        /// <summary>The next offset it must deliver. A record below it is a stale copy from before a seek or
        /// reassignment: merging it again would apply an event twice and out of order, so it is dropped.</summary>
        public long? Expected;
        /// <summary>Where it resumes after a crash: its last committed checkpoint's offset, or where it was assigned
        /// from. Lag counts from here, so it covers every record not yet durably processed.</summary>
        public long CheckpointedNext;
    }

    /// <summary>A record read and not merged yet, with where its joiner output lies in <see cref="_ready"/>.</summary>
    private record struct Read(ConsumeResult<byte[], byte[]> Result, DateTimeOffset At, int FirstReady = 0, int ReadyCount = 0);

    /// <summary>What <see cref="Accept"/> did with a record.</summary>
    public enum Outcome
    {
        /// <summary>Queued for the merge.</summary>
        Accepted,
        /// <summary>Below the offset its topic-partition must deliver next: a stale copy, dropped.</summary>
        Stale,
        /// <summary>Beyond the drain's end: the topic-partition ends here for this run (the caller pauses it).</summary>
        EndedHere,
    }

    private readonly WorkerSettings _settings;
    private readonly TimeProvider _clock;
    private readonly ComplianceKeys _keys;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<string> _topics;
    private readonly Dictionary<string, TopicCursor> _cursors = new();
    private readonly PartitionInputMerger _merger;
    // Identity hand-overs larger than one input record arrive in parts: joined here before the merge.
    private readonly SplitRecordJoiner _joiner = new();
    private long _abandonedLogged;
    private readonly List<Read> _reads = [];
    private readonly List<SplitRecordJoiner.Ready> _ready = [];
    private InputRecord[] _parsed = [];
    // Released by the merge and not yet handed out in batches (from _releasedAt on).
    private readonly List<InputRecord> _released = [];
    private int _releasedAt;
    private DateTimeOffset _lastInput;
    // Newest event time read, and where the watermark was last moved to while the partition was idle.
    private DateTimeOffset? _newestEventTime;
    private DateTimeOffset? _idleAdvancedTo;

    /// <param name="lastSequence">The last batch number the partition used before (0 for the first assignment).</param>
    public PartitionFeed(int partition, WorkerSettings settings, TimeProvider clock, ComplianceKeys keys, WorkerMetrics metrics,
        ILogger logger, long lastSequence = 0, IReadOnlyList<string>? topics = null)
    {
        Partition = partition;
        _settings = settings;
        _clock = clock;
        _keys = keys;
        _metrics = metrics;
        _logger = logger;
        _topics = topics ?? Topics.Inputs;
        _merger = new PartitionInputMerger(_topics, settings.MaxFutureSkew);
        LastSequence = lastSequence;
        _lastInput = clock.GetUtcNow();
    }

    public int Partition { get; }

    /// <summary>The last number given to a command of this partition. Numbers continue across assignments (the next
    /// feed of the partition starts after it): the pipeline tells commands apart by partition and number, and a lost
    /// partition's commands may still be in flight when it comes back.</summary>
    public long LastSequence { get; private set; }

    /// <summary>Read or ended since its batches were last taken: the merge may release more.</summary>
    public bool Changed { get; private set; }

    /// <summary>Handed a batch or an idle advance since its last checkpoint was requested.</summary>
    public bool SinceCheckpoint { get; private set; }

    /// <summary>--drain: drained (timers fired at end of input) and nothing read since.</summary>
    public bool Drained { get; private set; }

    public bool HasAssignedTopics => _cursors.Values.Any(c => c.Assigned);

    /// <summary>Records the merge holds back, waiting for their place in the order to be certain.</summary>
    public int Buffered
    {
        get
        {
            Settle();
            return _merger.Buffered;
        }
    }

    /// <summary>A split record is being joined (records behind it are held back).</summary>
    public bool IsJoining
    {
        get
        {
            Settle();
            return _joiner.IsHolding;
        }
    }

    /// <summary>Every assigned topic at its end, nothing held by the merge or the joiner.</summary>
    public bool IsConsumed
    {
        get
        {
            Settle();
            return AssignedCursors.All(c => c.Value.AtEnd) && _merger.Buffered == 0 && !_joiner.IsHolding;
        }
    }

    /// <summary>The assigned topic-partitions whose end was not reported (for the drain's stall report).</summary>
    public IEnumerable<TopicPartition> NotAtEnd
    {
        get
        {
            Settle();
            return AssignedCursors.Where(c => !c.Value.AtEnd).Select(c => new TopicPartition(c.Key, Partition)).ToList();
        }
    }

    private IEnumerable<KeyValuePair<string, TopicCursor>> AssignedCursors => _cursors.Where(c => c.Value.Assigned);

    /// <summary>An assignment counts as input: a partition just assigned is not idle before the idle interval passed.</summary>
    public void NoteAssigned()
    {
        Settle();
        _lastInput = _clock.GetUtcNow();
    }

    /// <summary>The topic's partition p is assigned and resumes at <paramref name="next"/>.</summary>
    public void Resume(string topic, long next)
    {
        Settle();
        var cursor = Cursor(topic);
        cursor.Assigned = true;
        cursor.Expected = next;
        cursor.CheckpointedNext = next;
    }

    /// <summary>The topic's partition p is revoked or lost: everything known of it is forgotten (an unfinished split
    /// record too). Returns whether the partition still has assigned topics.</summary>
    public bool Revoke(string topic)
    {
        Settle();
        _cursors.Remove(topic);
        _joiner.Forget(new TopicPartition(topic, Partition));
        return HasAssignedTopics;
    }

    public bool IsAssigned(string topic) => _cursors.TryGetValue(topic, out var cursor) && cursor.Assigned;

    /// <summary>A checkpoint holding the topic's records below <paramref name="next"/> is committed.</summary>
    public void Checkpointed(string topic, long next)
    {
        if (_cursors.TryGetValue(topic, out var cursor)) cursor.CheckpointedNext = next;
    }

    /// <summary>Takes a consumed record (not an end-of-partition event: <see cref="ReachedEnd"/>).</summary>
    /// <param name="beyondDrainEnd">--drain: written after the drain began (the next run's input), unless stale.</param>
    public Outcome Accept(ConsumeResult<byte[], byte[]> result, bool beyondDrainEnd = false)
    {
        var topic = result.Topic;
        var offset = result.Offset.Value;
        var cursor = Cursor(topic);
        if (cursor.Expected is { } expected && offset < expected && offset >= 0) return Outcome.Stale;
        if (beyondDrainEnd)
        {
            Settle();
            cursor.AtEnd = true;
            cursor.EndOffset = long.MaxValue; // nothing more is read here in this run
            _merger.MarkEnd(topic);
            Changed = true;
            return Outcome.EndedHere;
        }
        cursor.Expected = offset + 1;
        _reads.Add(new Read(result, _clock.GetUtcNow()));
        // A drained partition that still receives a record (another worker's identity hand-over) is drained,
        // checkpointed and committed again, so what the record changed is not left outside a checkpoint.
        Drained = false;
        Changed = true;
        return Outcome.Accepted;
    }

    /// <summary>The consumer reached the end of the topic's partition p at <paramref name="offset"/>.</summary>
    public void ReachedEnd(string topic, long offset)
    {
        Settle();
        var cursor = Cursor(topic);
        cursor.AtEnd = true;
        cursor.EndOffset = offset;
        var now = _clock.GetUtcNow();
        if (!_settings.Drain && IsReadingBacklog(now))
        {
            cursor.EndSince ??= now;
            return;
        }
        _merger.MarkEnd(topic);
        Changed = true;
    }

    /// <summary>Backlog: a topic that stayed at its end for the idle interval is finished for now, and no longer holds
    /// back the merge.</summary>
    public void ConfirmEnds(DateTimeOffset now)
    {
        Settle();
        foreach (var (topic, cursor) in _cursors)
        {
            if (cursor.EndSince is not { } since || now - since < _settings.IdleWatermarkAfter) continue;
            cursor.EndSince = null;
            _merger.MarkEnd(topic);
            Changed = true;
        }
    }

    /// <summary>The next batch of records whose place in the merged order is certain, up to
    /// <see cref="WorkerSettings.MaxBatchRecords"/> records and numbered in order; null when there is none.</summary>
    public ProcessBatch? NextBatch()
    {
        Changed = false;
        if (_releasedAt == _released.Count)
        {
            Settle();
            _released.Clear();
            _releasedAt = 0;
            _merger.Release(_released);
            if (_released.Count == 0) return null;
        }
        var chunk = _released.GetRange(_releasedAt, Math.Min(_settings.MaxBatchRecords, _released.Count - _releasedAt));
        _releasedAt += chunk.Count;
        SinceCheckpoint = true;
        return new ProcessBatch(Partition, NextSequence(), chunk);
    }

    /// <summary>Live mode: caught up (every assigned topic at its end, nothing held) and without input for the idle interval.</summary>
    public bool IsIdle(DateTimeOffset now)
    {
        Settle();
        return AssignedCursors.All(c => c.Value.AtEnd) && _merger.Buffered == 0 && now - _lastInput >= _settings.IdleWatermarkAfter;
    }

    /// <summary>An idle partition's watermark moves to <paramref name="to"/>, unless it was moved there or within
    /// <paramref name="step"/> of it before; null when it stays.</summary>
    public AdvanceIdle? AdvanceIdleTo(DateTimeOffset to, TimeSpan step)
    {
        if (_idleAdvancedTo is { } last && to - last <= step) return null;
        _idleAdvancedTo = to;
        SinceCheckpoint = true;
        return new AdvanceIdle(Partition, NextSequence(), to);
    }

    /// <summary>The end of input reached (--drain): fire every pending timer.</summary>
    public Drain DrainCommand() => new(Partition, NextSequence());

    /// <summary>Marks the partition drained, once its drain is checkpointed and committed.</summary>
    public void MarkDrained() => Drained = true;

    /// <summary>A checkpoint of the partition (on revocation, drain or shutdown, whatever it was handed since the last).</summary>
    public Checkpoint CheckpointCommand() => new(Partition, NextSequence());

    /// <summary>The periodic checkpoint: only when the partition was handed something since the last one; null otherwise.</summary>
    public Checkpoint? DueCheckpoint()
    {
        if (!SinceCheckpoint) return null;
        SinceCheckpoint = false;
        return CheckpointCommand();
    }

    /// <summary>The records between the last committed checkpoint and the high watermarks: what the worker still has to
    /// process durably. Null while a topic's high watermark is unknown (unknown is not 0).</summary>
    public long? Lag(Func<TopicPartition, WatermarkOffsets> watermarks)
    {
        long lag = 0;
        foreach (var (topic, cursor) in AssignedCursors)
        {
            var offsets = watermarks(new TopicPartition(topic, Partition));
            if (offsets.High.Value < 0) return null;
            var from = Math.Max(cursor.CheckpointedNext, Math.Max(0, offsets.Low.Value));
            lag += Math.Max(0, offsets.High.Value - from);
        }
        return lag;
    }

    /// <summary>--drain: whether each assigned topic still ends where its end was reported. One whose high watermark moved
    /// on (the worker's own identity hand-over, written since) is no longer at its end: false.</summary>
    public bool EndsHold(Func<TopicPartition, long> highWatermark)
    {
        Settle();
        foreach (var (topic, cursor) in AssignedCursors)
        {
            if (highWatermark(new TopicPartition(topic, Partition)) <= cursor.EndOffset) continue;
            cursor.AtEnd = false; // a record arrived after the end was reported: wait for it
            return false;
        }
        return true;
    }

    private long NextSequence() => ++LastSequence;

    private TopicCursor Cursor(string topic)
    {
        if (!_cursors.TryGetValue(topic, out var cursor)) _cursors[topic] = cursor = new TopicCursor();
        return cursor;
    }

    private bool IsReadingBacklog(DateTimeOffset now) => _newestEventTime is { } newest && now - newest > _settings.BacklogBehind;

    /// <summary>Merges what this feed read and has not merged yet.</summary>
    public void Settle()
    {
        if (_reads.Count > 0) SettleAll([this]);
    }

    /// <summary>Joins, parses and merges what the feeds read, each feed in its read order: the same merge as parsing
    /// each record as it was read.</summary>
    public static void SettleAll(IEnumerable<PartitionFeed> feeds)
    {
        var reading = feeds.Where(f => f._reads.Count > 0).ToList();
        if (reading.Count == 0) return;
        foreach (var feed in reading)
        {
            feed.Join();
            // On the consume thread: helper threads measured slower on this busy 2-core machine (docs/performance.md,
            // session 10). Parsing is a pure function of the record, so this loop is where to spread it over cores.
            for (var i = 0; i < feed._ready.Count; i++) feed._parsed[i] = IngestValidation.ToRecord(feed._ready[i], feed._keys);
        }
        foreach (var feed in reading) feed.Merge();
    }

    /// <summary>Split records: the joiner sees the records in read order; what it hands on is parsed next.</summary>
    private void Join()
    {
        for (var i = 0; i < _reads.Count; i++)
        {
            var first = _ready.Count;
            _joiner.Accept(_reads[i].Result, _ready);
            _reads[i] = _reads[i] with { FirstReady = first, ReadyCount = _ready.Count - first };
        }
        if (_parsed.Length < _ready.Count) _parsed = new InputRecord[Math.Max(_ready.Count, _parsed.Length * 2)];
    }

    /// <summary>Each read record, in read order, as the consume loop handled it when it parsed records as read.</summary>
    private void Merge()
    {
        foreach (var read in _reads)
        {
            var topic = read.Result.Topic;
            var cursor = Cursor(topic);
            cursor.AtEnd = false;
            cursor.EndSince = null;
            cursor.Delivered = true;
            for (var i = read.FirstReady; i < read.FirstReady + read.ReadyCount; i++)
            {
                var record = _parsed[i];
                if (record.Rejected is { } letter) _metrics.DeadLettered(letter.Reason);
                _merger.Add(record);
                if (record.Event is { } evt && (_newestEventTime is not { } newest || evt.EventTime > newest)) _newestEventTime = evt.EventTime;
            }
            if (!_settings.Drain && IsReadingBacklog(read.At)) ReopenOtherEnds(topic, read.At);
            _lastInput = read.At;
        }
        _reads.Clear();
        Array.Clear(_parsed, 0, _ready.Count);
        _ready.Clear();
        if (_joiner.Abandoned > _abandonedLogged)
        {
            _abandonedLogged = _joiner.Abandoned;
            _logger.LogWarning("partition {Partition}: {Count} split records left unfinished and superseded so far (a writer failed mid-sequence and sent them again)",
                Partition, _joiner.Abandoned);
        }
    }

    /// <summary>Backlog: new input on one topic means the producer is writing again, so the partition's other topics, at
    /// their end until now, may soon deliver earlier records too: each must confirm its end again (stay there for the idle
    /// interval) before the merge may pass it. A topic that has delivered nothing since it was assigned is not being
    /// written with this backlog (outcome-events before any dispatcher reports, say): reopening it would stall the
    /// partition for the idle interval on each new record.</summary>
    private void ReopenOtherEnds(string arrived, DateTimeOffset now)
    {
        foreach (var topic in _topics)
        {
            if (topic == arrived || !_merger.IsMarkedEnd(topic) || !(_cursors.TryGetValue(topic, out var cursor) && cursor.Delivered)) continue;
            _merger.ReopenEnd(topic);
            cursor.EndSince ??= now;
        }
    }
}
