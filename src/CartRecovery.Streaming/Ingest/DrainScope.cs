using Confluent.Kafka;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// What a drain (<c>--drain</c>) must finish: every partition of the input topics up to its high watermark at the
/// moment the drain began (so a live producer does not keep it running), for the whole consumer group, not only
/// for the partitions one worker happens to hold.
///
/// The group's progress is read from its committed offsets, so workers that join and leave need no other channel.
/// A partition is finished only once its end-of-input timers have fired (its watermark went to end of time), which
/// a commit alone does not show: a worker that consumed a partition to its end and was then stopped or lost the
/// partition in a rebalance has committed every offset but sent no reminder that end of input makes due. So, while
/// draining, a partition's commit stops one record short of its end until a checkpoint taken after its drain is
/// saved. The checkpoint, not the commit, decides where a new owner resumes, so nothing is re-read because of it.
/// </summary>
public sealed class DrainScope
{
    private readonly IReadOnlyDictionary<TopicPartition, long> _end;

    public DrainScope(IReadOnlyDictionary<TopicPartition, long> end) => _end = end;

    /// <summary>Every input partition of the group and the offset its drain ends at (the high watermark at start).</summary>
    public IReadOnlyDictionary<TopicPartition, long> End => _end;

    /// <summary>Reads each input partition's high watermark now.</summary>
    public static DrainScope Begin(IConsumer<byte[], byte[]> consumer, IReadOnlyDictionary<string, int> partitionCounts, TimeSpan timeout)
    {
        var end = new Dictionary<TopicPartition, long>();
        foreach (var (topic, count) in partitionCounts)
            for (var partition = 0; partition < count; partition++)
            {
                var tp = new TopicPartition(topic, partition);
                var offsets = consumer.QueryWatermarkOffsets(tp, timeout);
                // Nothing left to read (empty, or every record removed by retention): nothing to wait for.
                end[tp] = offsets.High.Value > offsets.Low.Value ? offsets.High.Value : 0;
            }
        return new DrainScope(end);
    }

    /// <summary>A record at or beyond the end arrived after the drain began: it belongs to the next run.</summary>
    public bool IsBeyondEnd(TopicPartition tp, long offset) => _end.TryGetValue(tp, out var end) && offset >= end;

    /// <summary>A topic-partition with nothing to read in this drain, or whose reading resumes at or past its end.</summary>
    public bool IsAtEnd(TopicPartition tp, long next) => !_end.TryGetValue(tp, out var end) || end == 0 || next >= end;

    /// <summary>The offset to commit for a saved checkpoint: one short of the end until the partition is drained.</summary>
    public long CommitOffset(TopicPartition tp, long next, bool drained) =>
        !drained && _end.TryGetValue(tp, out var end) && end > 0 && next >= end ? end - 1 : next;

    /// <summary>The group's work is done when every partition with input has a commit at its end.</summary>
    public bool IsDone(IReadOnlyDictionary<TopicPartition, long> committed) =>
        _end.All(e => e.Value == 0 || (committed.TryGetValue(e.Key, out var offset) && offset >= e.Value));

    /// <summary>Partitions whose commits are short of their end (for the log while waiting on the group).</summary>
    public IEnumerable<TopicPartition> Unfinished(IReadOnlyDictionary<TopicPartition, long> committed) =>
        _end.Where(e => e.Value > 0 && !(committed.TryGetValue(e.Key, out var offset) && offset >= e.Value)).Select(e => e.Key);
}
