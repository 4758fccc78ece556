using Confluent.Kafka;
using Xunit;
using static CartRecovery.Kafka.Tests.KafkaTestSupport;

namespace CartRecovery.Kafka.Tests;

public sealed class ProduceConsumeTests
{
    private const string Topic = "clicks";
    private const int Partitions = 4;
    private const int Count = 1_000;

    [Fact]
    public async Task Keyed_messages_reach_a_consumer_group_exactly_once_and_keys_stick_to_partitions()
    {
        using var cluster = StartCluster();
        cluster.CreateTopic(Topic, Partitions);
        var log = new ClientLog();

        var deliveries = new List<DeliveryResult<string, string>>(Count);
        using (var producer = BuildProducer(IdempotentProducerConfig(cluster), log))
        {
            var pending = Enumerable.Range(0, Count)
                .Select(i => producer.ProduceAsync(Topic, new Message<string, string> { Key = Key(i), Value = Value(i) }))
                .ToList();
            deliveries.AddRange(await Task.WhenAll(pending));
        }

        Assert.All(deliveries, d => Assert.Equal(PersistenceStatus.Persisted, d.Status));
        // A 4-partition topic and 50 keys: the producer really spread the load.
        Assert.Equal(Partitions, deliveries.Select(d => d.Partition.Value).Distinct().Count());

        List<ConsumeResult<string, string>> consumed;
        using (var consumer = BuildConsumer(ConsumerConfig(cluster, "clicks-app"), log))
        {
            consumer.Subscribe(Topic);
            consumed = ConsumeAtLeast(consumer, Count, extraPoll: TimeSpan.FromSeconds(1));
            consumer.Close();
        }

        // Every message exactly once.
        Assert.True(consumed.Count == Count, $"consumed {consumed.Count} of {Count}{Environment.NewLine}{log}");
        Assert.Equal(
            Enumerable.Range(0, Count).Select(Value),
            consumed.Select(r => r.Message.Value).Order(StringComparer.Ordinal));

        // Same key → same partition, the one the producer was told about, and per-key order is kept.
        var deliveredPartition = deliveries.ToDictionary(d => d.Message.Value, d => d.Partition.Value);
        foreach (var byKey in consumed.GroupBy(r => r.Message.Key))
        {
            Assert.Single(byKey.Select(r => r.Partition.Value).Distinct());
            Assert.All(byKey, r => Assert.Equal(deliveredPartition[r.Message.Value], r.Partition.Value));
            var sequence = byKey.Select(r => Sequence(r.Message.Value)).ToList();
            Assert.Equal(sequence.Order(), sequence);
        }

        Assert.DoesNotContain(log.Errors, e => e.IsFatal);
    }
}
