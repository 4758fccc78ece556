using CartRecovery.Kafka.Configuration;
using Confluent.Kafka;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// The worker's Kafka clients, built from the operator's <see cref="KafkaClientSettings"/> (security, client id,
/// tuning) plus what the worker's guarantees need, which no setting overrides (see
/// <see cref="KafkaClientSettings.PinnedProperties"/>).
/// </summary>
public static class WorkerKafkaConfig
{
    /// <summary>The input consumer of the consumer group.</summary>
    public static ConsumerConfig InputConsumer(WorkerSettings settings) => settings.KafkaClients.ConsumerConfig(new ConsumerConfig
    {
        GroupId = settings.GroupId,
        GroupInstanceId = settings.GroupInstanceId,
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        EnablePartitionEof = true,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        IsolationLevel = IsolationLevel.ReadCommitted,
        // Range assignment gives one consumer partition p of every input topic (the topics are co-partitioned
        // by shopper); a sticky assignor may split them across consumers and break the per-shopper merge.
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
        // Defaults an operator may change: a low fetch wait keeps proactive chat latency low (and librdkafka's mock
        // cluster serves subscribed consumers very slowly at the default 500 ms).
        FetchWaitMaxMs = 10,
        MaxPollIntervalMs = 300_000,
        SessionTimeoutMs = 10_000,
    });

    /// <summary>The producer of recovery triggers and identity hand-overs: idempotent, acks=all (exactly-once effects
    /// rest on deterministic ids and durable writes before a checkpoint).</summary>
    public static ProducerConfig OutputProducer(WorkerSettings settings) => settings.KafkaClients.ProducerConfig(new ProducerConfig
    {
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        CompressionType = CompressionType.Lz4,
    });

    public static AdminClientConfig Admin(WorkerSettings settings) => settings.KafkaClients.AdminConfig();
}
