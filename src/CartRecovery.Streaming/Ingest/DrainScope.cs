using CartRecovery.Kafka;
using Confluent.Kafka;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// What a drain (<c>--drain</c>) must finish: every partition of the input topics up to its high watermark at the
/// moment the drain began (so a live producer does not keep it running), for the whole consumer group, not only
/// for the partitions one worker happens to hold.
///
/// A partition is finished only once it is consumed to its end and its end-of-input timers have fired (its
/// watermark went to end of time), checkpointed and committed; <see cref="DrainProgress"/> shares that between the
/// group's workers. Committed offsets cannot: a live worker, or a drain worker that consumed a partition to its end
/// and was stopped or lost it in a rebalance, has committed every offset without sending the reminders that end of
/// input makes due.
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
                var offsets = consumer.QueryWatermarkOffsetsRetrying(tp, timeout);
                // Nothing left to read (empty, or every record removed by retention): nothing to wait for.
                end[tp] = offsets.High.Value > offsets.Low.Value ? offsets.High.Value : 0;
            }
        return new DrainScope(end);
    }

    /// <summary>A record at or beyond the end arrived after the drain began: it belongs to the next run.</summary>
    public bool IsBeyondEnd(TopicPartition tp, long offset) => _end.TryGetValue(tp, out var end) && offset >= end;

    /// <summary>The group's work is done when every topic-partition with input was drained at or past its end.</summary>
    public bool IsDone(IReadOnlyDictionary<TopicPartition, long> drained) => !Unfinished(drained).Any();

    /// <summary>Topic-partitions not yet drained to their end (for the log while waiting on the group).</summary>
    public IEnumerable<TopicPartition> Unfinished(IReadOnlyDictionary<TopicPartition, long> drained) =>
        _end.Where(e => e.Value > 0 && !(drained.TryGetValue(e.Key, out var offset) && offset >= e.Value)).Select(e => e.Key);
}
