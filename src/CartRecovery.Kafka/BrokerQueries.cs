using System.Diagnostics;
using Confluent.Kafka;

namespace CartRecovery.Kafka;

/// <summary>
/// Synchronous broker queries (watermarks, offsets for times, metadata) retried through the errors a healthy
/// cluster returns while it moves partition leaders or loads a group. librdkafka retries produce, fetch and commit
/// requests itself, but a direct query such as <c>QueryWatermarkOffsets</c> surfaces the broker's first answer:
/// a worker that asks during a leader election must ask again, not stop.
/// </summary>
public static class BrokerQueries
{
    /// <summary>The errors that say "not now" rather than "never": the cluster is changing and will answer later.</summary>
    private static readonly HashSet<ErrorCode> Transient =
    [
        ErrorCode.NotLeaderForPartition,
        ErrorCode.LeaderNotAvailable,
        ErrorCode.RequestTimedOut,
        ErrorCode.NetworkException,
        ErrorCode.BrokerNotAvailable,
        ErrorCode.ReplicaNotAvailable,
        ErrorCode.NotEnoughReplicas,
        ErrorCode.NotEnoughReplicasAfterAppend,
        ErrorCode.KafkaStorageError,
        ErrorCode.FencedLeaderEpoch,
        ErrorCode.UnknownLeaderEpoch,
        ErrorCode.OffsetNotAvailable,
        ErrorCode.GroupLoadInProgress,
        ErrorCode.GroupCoordinatorNotAvailable,
        ErrorCode.NotCoordinatorForGroup,
        ErrorCode.Local_TimedOut,
        ErrorCode.Local_Transport,
        ErrorCode.Local_AllBrokersDown,
        ErrorCode.Local_WaitCoord,
        ErrorCode.Local_Retry,
    ];

    /// <summary>Whether an error is one a later attempt of the same query can get past.</summary>
    public static bool IsTransient(Error error) => !error.IsFatal && Transient.Contains(error.Code);

    /// <summary>
    /// Runs <paramref name="query"/> until it answers, retrying transient errors with a growing pause for at most
    /// <paramref name="patience"/>; any other error, or a transient one that outlasts the patience, is thrown as is.
    /// </summary>
    public static T Retry<T>(Func<T> query, TimeSpan patience, CancellationToken ct = default)
    {
        var waited = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                return query();
            }
            catch (KafkaException e) when (IsTransient(e.Error) && waited.Elapsed + pause < patience)
            {
                // Leader elections in a real cluster settle within seconds: back off, then ask the new leader.
                if (ct.WaitHandle.WaitOne(pause)) ct.ThrowIfCancellationRequested();
                pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 1_000));
            }
        }
    }

    /// <summary><c>QueryWatermarkOffsets</c>, asked again through leader moves for at most <paramref name="patience"/>.</summary>
    public static WatermarkOffsets QueryWatermarkOffsetsRetrying<TKey, TValue>(this IConsumer<TKey, TValue> consumer, TopicPartition partition, TimeSpan patience) =>
        Retry(() => consumer.QueryWatermarkOffsets(partition, patience), patience);

    /// <summary><c>OffsetsForTimes</c>, asked again through leader moves for at most <paramref name="patience"/>.</summary>
    public static List<TopicPartitionOffset> OffsetsForTimesRetrying<TKey, TValue>(this IConsumer<TKey, TValue> consumer,
        IReadOnlyCollection<TopicPartitionTimestamp> times, TimeSpan patience) =>
        Retry(() => consumer.OffsetsForTimes(times, patience), patience);

    /// <summary>
    /// Each topic's partition count from the cluster's metadata. A topic whose metadata carries a transient error
    /// (its leader being elected) is asked for again; a topic the cluster does not have is named in the error.
    /// </summary>
    public static Dictionary<string, int> PartitionCounts(this IAdminClient admin, IEnumerable<string> topics, string bootstrapServers, TimeSpan patience)
    {
        var wanted = topics.ToList();
        return Retry(() =>
        {
            var metadata = admin.GetMetadata(patience);
            var counts = new Dictionary<string, int>();
            foreach (var topic in wanted)
            {
                var meta = metadata.Topics.FirstOrDefault(t => t.Topic == topic);
                if (meta is { Error.IsError: true } && IsTransient(meta.Error)) throw new KafkaException(meta.Error);
                if (meta is null || meta.Error.IsError) throw new InvalidOperationException($"topic '{topic}' does not exist on {bootstrapServers}");
                counts[topic] = meta.Partitions.Count;
            }
            return counts;
        }, patience);
    }
}
