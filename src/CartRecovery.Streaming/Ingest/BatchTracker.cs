using System.Collections.Concurrent;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Links the consume loop, the output writer and the partition actors. Back-pressure has two bounds, because
/// deciding and writing run at different paces: batches handed to partition actors and not yet decided (they
/// hold the input records), and input records whose outputs are not yet written (the writer collects about a
/// second of outputs per insert, so this bound must cover a second of input or it caps the throughput).
/// Also counts checkpoints in flight and hands saved checkpoints' offsets to the consumer's thread to commit.
/// </summary>
public sealed class BatchTracker(int maxUndecidedBatches, long maxUnwrittenRecords)
{
    private readonly object _gate = new();
    private readonly ConcurrentQueue<CheckpointSaved> _committable = new();
    private int _undecided;
    private long _unwrittenRecords;
    private long _outstanding;
    private long _pendingCheckpoints;
    private volatile Exception? _failure;

    /// <summary>Batches handed out whose outputs are not yet written.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);
    public long PendingCheckpoints => Interlocked.Read(ref _pendingCheckpoints);

    /// <summary>Set when a checkpoint could not be saved or a partition actor failed; the worker stops instead of committing.</summary>
    public Exception? Failure => _failure;

    /// <summary>Blocks while either bound is reached. A batch larger than the record bound still goes through alone.</summary>
    public void Acquire(int records, CancellationToken ct)
    {
        lock (_gate)
        {
            while (_undecided >= maxUndecidedBatches || (_unwrittenRecords > 0 && _unwrittenRecords + records > maxUnwrittenRecords))
            {
                ct.ThrowIfCancellationRequested();
                // A failed partition never decides its batches: waiting for it would be a silent stall.
                if (_failure is { } failure) throw new InvalidOperationException("the worker failed; stopping without committing", failure);
                Monitor.Wait(_gate, 50);
            }
            _undecided++;
            _unwrittenRecords += records;
            Interlocked.Increment(ref _outstanding);
        }
    }

    /// <summary>A partition actor finished deciding a batch: its input records are no longer held.</summary>
    public void Decided()
    {
        lock (_gate)
        {
            _undecided--;
            Monitor.PulseAll(_gate);
        }
    }

    public void Written(IReadOnlyList<BatchCompleted> batches)
    {
        lock (_gate)
        {
            foreach (var batch in batches) _unwrittenRecords -= batch.InputRecords;
            Interlocked.Add(ref _outstanding, -batches.Count);
            Monitor.PulseAll(_gate);
        }
    }

    public void CheckpointRequested() => Interlocked.Increment(ref _pendingCheckpoints);

    public void Checkpointed(CheckpointSaved saved, int requests)
    {
        _committable.Enqueue(saved);
        Interlocked.Add(ref _pendingCheckpoints, -requests);
    }

    public void CheckpointFailed(Exception cause)
    {
        Interlocked.Decrement(ref _pendingCheckpoints);
        Fail(cause);
    }

    /// <summary>The worker cannot go on (a partition actor failed outside one event's decision): wakes the ingest, which
    /// stops with <paramref name="cause"/> instead of waiting for batches that will never be decided.</summary>
    public void Fail(Exception cause)
    {
        lock (_gate)
        {
            _failure ??= cause;
            Monitor.PulseAll(_gate);
        }
    }

    public bool TryTakeCommittable(out CheckpointSaved checkpoint) =>
        _committable.TryDequeue(out checkpoint!);
}
