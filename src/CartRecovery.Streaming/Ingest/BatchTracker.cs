using System.Collections.Concurrent;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Links the consume loop and the output writer: bounds the batches in flight (back-pressure on the
/// consumer) and passes written batches back so their offsets can be committed on the consumer's thread.
/// </summary>
public sealed class BatchTracker(int maxOutstanding)
{
    private readonly SemaphoreSlim _slots = new(maxOutstanding, maxOutstanding);
    private readonly ConcurrentQueue<BatchCompleted> _written = new();
    private long _outstanding;

    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>Blocks while too many batches are in flight.</summary>
    public void Acquire(CancellationToken ct)
    {
        _slots.Wait(ct);
        Interlocked.Increment(ref _outstanding);
    }

    public void Written(IReadOnlyList<BatchCompleted> batches)
    {
        foreach (var batch in batches) _written.Enqueue(batch);
        Interlocked.Add(ref _outstanding, -batches.Count);
        _slots.Release(batches.Count);
    }

    public bool TryTakeWritten(out BatchCompleted batch) => _written.TryDequeue(out batch!);
}
