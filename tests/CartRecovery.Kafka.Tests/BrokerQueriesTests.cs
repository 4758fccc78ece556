using Confluent.Kafka;
using Xunit;
using static CartRecovery.Kafka.Tests.KafkaTestSupport;

namespace CartRecovery.Kafka.Tests;

/// <summary>A worker asking the cluster for watermarks while leaders move (CI failure of 2026-11-30: the drain's
/// first watermark query met "Not leader for partition" and the worker exited 1).</summary>
public sealed class BrokerQueriesTests
{
    private const short ListOffsetsApiKey = 2;
    private const string Topic = "leaders-moving";

    [Fact]
    public async Task Watermarks_are_answered_through_leader_elections_that_fail_the_plain_query()
    {
        using var cluster = StartCluster(brokers: 3);
        cluster.CreateTopic(Topic, partitions: 1, replicationFactor: 3);
        await ProduceAsync(cluster, count: 5);
        using var consumer = new ConsumerBuilder<byte[], byte[]>(ConsumerConfig(cluster, "watermarks")).Build();
        var partition = new TopicPartition(Topic, 0);

        // Connected and the leader known first, so the injected error answers the query itself.
        Assert.Equal(5, consumer.QueryWatermarkOffsets(partition, Patience).High.Value);

        // More errors in a row than librdkafka retries a request itself (it sometimes absorbs one or two).
        cluster.PushRequestErrors(ListOffsetsApiKey, Enumerable.Repeat(ErrorCode.NotLeaderForPartition, 6).ToArray());
        var plain = Assert.Throws<KafkaException>(() => consumer.QueryWatermarkOffsets(partition, Patience));
        Assert.Equal(ErrorCode.NotLeaderForPartition, plain.Error.Code);

        cluster.PushRequestErrors(ListOffsetsApiKey, ErrorCode.NotLeaderForPartition, ErrorCode.LeaderNotAvailable, ErrorCode.RequestTimedOut);
        cluster.SetPartitionLeader(Topic, 0, brokerId: 2);
        var offsets = consumer.QueryWatermarkOffsetsRetrying(partition, Patience);

        Assert.Equal(0, offsets.Low.Value);
        Assert.Equal(5, offsets.High.Value);
    }

    [Fact]
    public async Task An_error_that_will_not_pass_is_thrown_at_once()
    {
        using var cluster = StartCluster();
        cluster.CreateTopic(Topic, partitions: 1);
        await ProduceAsync(cluster, count: 1);
        using var consumer = new ConsumerBuilder<byte[], byte[]>(ConsumerConfig(cluster, "refused")).Build();

        Assert.Equal(1, consumer.QueryWatermarkOffsets(new TopicPartition(Topic, 0), Patience).High.Value);

        cluster.PushRequestErrors(ListOffsetsApiKey, Enumerable.Repeat(ErrorCode.TopicAuthorizationFailed, 6).ToArray());
        var error = Assert.Throws<KafkaException>(() => consumer.QueryWatermarkOffsetsRetrying(new TopicPartition(Topic, 0), Patience));

        Assert.Equal(ErrorCode.TopicAuthorizationFailed, error.Error.Code);
    }

    [Fact]
    public void A_transient_error_that_outlasts_the_patience_is_thrown()
    {
        var attempts = 0;
        var error = Assert.Throws<KafkaException>(() => BrokerQueries.Retry<int>(
            () => { attempts++; throw new KafkaException(ErrorCode.NotLeaderForPartition); }, TimeSpan.FromMilliseconds(400)));

        Assert.Equal(ErrorCode.NotLeaderForPartition, error.Error.Code);
        Assert.InRange(attempts, 2, 10);
    }

    [Fact]
    public void Partition_counts_come_from_the_metadata_and_a_missing_topic_is_named()
    {
        using var cluster = StartCluster(brokers: 3);
        cluster.CreateTopic("six", partitions: 6, replicationFactor: 3);
        cluster.CreateTopic("two", partitions: 2);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

        Assert.Equal(new Dictionary<string, int> { ["six"] = 6, ["two"] = 2 }, admin.PartitionCounts(["six", "two"], cluster.BootstrapServers, Patience));
        var missing = Assert.Throws<InvalidOperationException>(() => admin.PartitionCounts(["six", "absent"], cluster.BootstrapServers, Patience));
        Assert.Contains("'absent' does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ErrorCode.NotLeaderForPartition, true)]
    [InlineData(ErrorCode.LeaderNotAvailable, true)]
    [InlineData(ErrorCode.GroupLoadInProgress, true)]
    [InlineData(ErrorCode.Local_Transport, true)]
    [InlineData(ErrorCode.TopicAuthorizationFailed, false)]
    [InlineData(ErrorCode.UnknownTopicOrPart, false)]
    [InlineData(ErrorCode.OffsetOutOfRange, false)]
    public void Transient_errors_are_the_ones_a_changing_cluster_returns(ErrorCode code, bool transient) =>
        Assert.Equal(transient, BrokerQueries.IsTransient(new Error(code)));

    private static async Task ProduceAsync(Embedded.MockKafkaCluster cluster, int count)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        for (var i = 0; i < count; i++)
            await producer.ProduceAsync(Topic, new Message<byte[], byte[]> { Key = [(byte)i], Value = [(byte)i] });
    }
}
