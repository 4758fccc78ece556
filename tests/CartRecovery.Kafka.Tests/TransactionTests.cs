using CartRecovery.Kafka.Embedded;
using Confluent.Kafka;
using Xunit;
using static CartRecovery.Kafka.Tests.KafkaTestSupport;

namespace CartRecovery.Kafka.Tests;

public sealed class TransactionTests
{
    private const string Input = "cart-events";
    private const string Output = "recovery-decisions";
    private const int Partitions = 3;
    private const int Count = 100;
    private const int PerTransaction = 50;
    private static readonly TimeSpan TxnTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Consume_transform_produce_transactions_are_read_back_exactly_by_a_read_committed_consumer()
    {
        using var cluster = StartCluster(brokers: 3);
        cluster.CreateTopic(Input, Partitions, replicationFactor: 3);
        cluster.CreateTopic(Output, Partitions, replicationFactor: 3);
        var log = new ClientLog();
        await ProduceInput(cluster, log);

        var commitMarkers = 0;
        using (var consumer = BuildConsumer(AppConsumerConfig(cluster), log))
        using (var producer = BuildProducer(TransactionalProducerConfig(cluster), log))
        {
            producer.InitTransactions(TxnTimeout);
            consumer.Subscribe(Input);

            var processed = 0;
            var deadline = DateTime.UtcNow + Patience;
            while (processed < Count && DateTime.UtcNow < deadline)
            {
                var batch = ConsumeBatch(consumer, Math.Min(PerTransaction, Count - processed), deadline);

                producer.BeginTransaction();
                var outputs = await Task.WhenAll(batch.Select(r => producer.ProduceAsync(
                    Output, new Message<string, string> { Key = r.Message.Key, Value = Transform(r.Message.Value) })));
                producer.SendOffsetsToTransaction(NextOffsets(batch), consumer.ConsumerGroupMetadata, TxnTimeout);
                producer.CommitTransaction(TxnTimeout);

                // The commit writes one COMMIT control record into every output partition the transaction touched.
                commitMarkers += outputs.Select(o => o.Partition.Value).Distinct().Count();
                processed += batch.Count;
            }

            Assert.Equal(Count, processed);
            consumer.Close();
        }

        var readCommitted = ReadTopic(cluster, Output, Partitions, Count, IsolationLevel.ReadCommitted, log);
        Assert.True(readCommitted.Count == Count, $"read_committed saw {readCommitted.Count} of {Count}{Environment.NewLine}{log}");
        Assert.Equal(
            Enumerable.Range(0, Count).Select(i => Transform(Value(i))),
            readCommitted.Select(r => r.Message.Value).Order(StringComparer.Ordinal));

        // Data plus exactly the commit markers: each transaction really was committed, and nothing was written twice.
        Assert.True(commitMarkers >= 2, $"only {commitMarkers} commit markers expected");
        Assert.Equal(Count + commitMarkers, SumOfHighWatermarks(cluster, Output, Partitions, log));
        Assert.DoesNotContain(log.Errors, e => e.IsFatal);
    }

    /// <summary>
    /// Pins down two gaps of librdkafka 2.16's mock broker, so that tests elsewhere do not rely on them
    /// (a real Kafka cluster behaves differently). If an upgrade closes them, this test fails: then
    /// tighten <see cref="Consume_transform_produce_transactions_are_read_back_exactly_by_a_read_committed_consumer"/>.
    /// </summary>
    [Fact]
    public async Task Mock_gaps_aborted_records_reach_read_committed_readers_and_transactional_offsets_are_not_stored()
    {
        using var cluster = StartCluster();
        cluster.CreateTopic(Input, Partitions);
        cluster.CreateTopic(Output, Partitions);
        var log = new ClientLog();
        await ProduceInput(cluster, log);

        using (var consumer = BuildConsumer(AppConsumerConfig(cluster), log))
        using (var producer = BuildProducer(TransactionalProducerConfig(cluster), log))
        {
            producer.InitTransactions(TxnTimeout);
            consumer.Subscribe(Input);
            var batch = ConsumeBatch(consumer, Count, DateTime.UtcNow + Patience);
            Assert.Equal(Count, batch.Count);

            producer.BeginTransaction();
            await Task.WhenAll(batch.Select(r => producer.ProduceAsync(
                Output, new Message<string, string> { Key = r.Message.Key, Value = Transform(r.Message.Value) })));
            producer.SendOffsetsToTransaction(NextOffsets(batch), consumer.ConsumerGroupMetadata, TxnTimeout);
            producer.AbortTransaction(TxnTimeout);

            producer.BeginTransaction();
            producer.SendOffsetsToTransaction(NextOffsets(batch), consumer.ConsumerGroupMetadata, TxnTimeout);
            producer.CommitTransaction(TxnTimeout);

            // Gap 1: TxnOffsetCommit is accepted but its offsets are never stored (a real broker stores them on commit).
            var committed = consumer.Committed(
                Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Input, p)), TxnTimeout);
            Assert.All(committed, c => Assert.Equal(Offset.Unset, c.Offset));
            consumer.Close();
        }

        // Gap 2: Fetch responses carry no aborted-transaction list (and LSO = high watermark), so a
        // read_committed consumer receives the aborted records (a real broker hides them).
        var readCommitted = ReadTopic(cluster, Output, Partitions, Count, IsolationLevel.ReadCommitted, log);
        Assert.Equal(Count, readCommitted.Count);
    }

    private static async Task ProduceInput(MockKafkaCluster cluster, ClientLog log)
    {
        using var source = BuildProducer(IdempotentProducerConfig(cluster), log);
        await Task.WhenAll(Enumerable.Range(0, Count)
            .Select(i => source.ProduceAsync(Input, new Message<string, string> { Key = Key(i), Value = Value(i) })));
    }

    private static ConsumerConfig AppConsumerConfig(MockKafkaCluster cluster)
    {
        var config = ConsumerConfig(cluster, "recovery-app");
        config.EnableAutoCommit = false;
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        return config;
    }

    private static ProducerConfig TransactionalProducerConfig(MockKafkaCluster cluster)
    {
        var config = IdempotentProducerConfig(cluster);
        config.TransactionalId = "recovery-app-0";
        config.TransactionTimeoutMs = 30_000;
        return config;
    }

    private static List<ConsumeResult<string, string>> ConsumeBatch(IConsumer<string, string> consumer, int size, DateTime deadline)
    {
        var batch = new List<ConsumeResult<string, string>>(size);
        while (batch.Count < size && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is not null)
            {
                batch.Add(r);
            }
        }

        return batch;
    }

    private static IEnumerable<TopicPartitionOffset> NextOffsets(IEnumerable<ConsumeResult<string, string>> batch) =>
        batch.GroupBy(r => r.TopicPartition).Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1));

    private static string Transform(string value) => "decided:" + value;
}
