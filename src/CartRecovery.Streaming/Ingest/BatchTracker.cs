using System.Collections.Concurrent;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Links the consume loop, the output writer and the partition actors: bounds the batches in flight
/// (back-pressure on the consumer), counts checkpoints in flight, and hands saved checkpoints' offsets to the
/// consumer's thread for committing.
/// </summary>
public sealed class BatchTracker(int maxOutstanding)
{
    private readonly SemaphoreSlim _slots = new(maxOutstanding, maxOutstanding);
    private readonly ConcurrentQueue<(int Partition, IReadOnlyDictionary<string, long> NextOffsets)> _committable = new();
    private long _outstanding;
    private long _pendingCheckpoints;
    private volatile Exception? _failure;

    public long Outstanding => Interlocked.Read(ref _outstanding);
    public long PendingCheckpoints => Interlocked.Read(ref _pendingCheckpoints);

    /// <summary>Set when a checkpoint could not be saved; the worker stops instead of committing.</summary>
    public Exception? Failure => _failure;

    /// <summary>Blocks while too many batches are in flight.</summary>
    public void Acquire(CancellationToken ct)
    {
        _slots.Wait(ct);
        Interlocked.Increment(ref _outstanding);
    }

    public void Written(IReadOnlyList<BatchCompleted> batches)
    {
        Interlocked.Add(ref _outstanding, -batches.Count);
        _slots.Release(batches.Count);
    }

    public void CheckpointRequested() => Interlocked.Increment(ref _pendingCheckpoints);

    public void Checkpointed(int partition, IReadOnlyDictionary<string, long> nextOffsets, int requests)
    {
        _committable.Enqueue((partition, nextOffsets));
        Interlocked.Add(ref _pendingCheckpoints, -requests);
    }

    public void CheckpointFailed(Exception cause)
    {
        _failure = cause;
        Interlocked.Decrement(ref _pendingCheckpoints);
    }

    public bool TryTakeCommittable(out (int Partition, IReadOnlyDictionary<string, long> NextOffsets) checkpoint) =>
        _committable.TryDequeue(out checkpoint);
}
