using Confluent.Kafka;
using Xunit;
using static CartRecovery.Kafka.Tests.KafkaTestSupport;

namespace CartRecovery.Kafka.Tests;

public sealed class FaultInjectionTests
{
    private const string Topic = "clicks-under-fire";
    private const int Partitions = 4;
    private const int Count = 1_000;
    private const short ProduceApiKey = 0;

    [Fact]
    public async Task Idempotent_producer_delivers_exactly_once_through_retriable_errors_and_leader_moves()
    {
        using var cluster = StartCluster(brokers: 3);
        cluster.CreateTopic(Topic, Partitions, replicationFactor: 3);
        var log = new ClientLog();

        var config = IdempotentProducerConfig(cluster);
        config.MessageTimeoutMs = (int)Patience.TotalMilliseconds;
        var deliveries = new List<DeliveryResult<string, string>>(Count);
        using (var producer = BuildProducer(config, log))
        {
            cluster.PushRequestErrors(
                ProduceApiKey,
                ErrorCode.NotLeaderForPartition,
                ErrorCode.RequestTimedOut,
                ErrorCode.NotEnoughReplicas,
                ErrorCode.NotLeaderForPartition);

            // The first message travels alone, so its Produce requests meet all four errors in turn
            // (librdkafka sends one request per partition; nothing else is in flight yet).
            deliveries.Add(await producer.ProduceAsync(Topic, new Message<string, string> { Key = Key(0), Value = Value(0) }));

            var firstHalf = Enumerable.Range(1, Count / 2 - 1)
                .Select(i => producer.ProduceAsync(Topic, new Message<string, string> { Key = Key(i), Value = Value(i) }))
                .ToList();

            // Move every partition's leadership to another broker while the first half is in flight,
            // and fail a few more Produce requests.
            for (var p = 0; p < Partitions; p++)
            {
                cluster.SetPartitionLeader(Topic, p, brokerId: 1 + ((p + 1) % cluster.BrokerCount));
            }

            cluster.PushRequestErrors(
                ProduceApiKey,
                ErrorCode.RequestTimedOut,
                ErrorCode.NotEnoughReplicasAfterAppend,
                ErrorCode.LeaderNotAvailable);

            var secondHalf = Enumerable.Range(Count / 2, Count / 2)
                .Select(i => producer.ProduceAsync(Topic, new Message<string, string> { Key = Key(i), Value = Value(i) }))
                .ToList();

            deliveries.AddRange(await Task.WhenAll(firstHalf.Concat(secondHalf)));
        }

        Assert.All(deliveries, d => Assert.Equal(PersistenceStatus.Persisted, d.Status));
        Assert.DoesNotContain(log.Errors, e => e.IsFatal);

        // Exactly once in the log: no lost and no duplicated record.
        Assert.Equal(Count, SumOfHighWatermarks(cluster, Topic, Partitions, log));

        var consumed = ReadTopic(cluster, Topic, Partitions, Count, IsolationLevel.ReadUncommitted, log);
        Assert.True(consumed.Count == Count, $"read {consumed.Count} of {Count}{Environment.NewLine}{log}");
        Assert.Equal(
            Enumerable.Range(0, Count).Select(Value),
            consumed.Select(r => r.Message.Value).Order(StringComparer.Ordinal));

        // Retries never reordered a key's messages.
        foreach (var byKey in consumed.GroupBy(r => r.Message.Key))
        {
            Assert.Single(byKey.Select(r => r.Partition.Value).Distinct());
            var sequence = byKey.Select(r => Sequence(r.Message.Value)).ToList();
            Assert.Equal(sequence.Order(), sequence);
        }
    }
}
