using CartRecovery.Kafka.Embedded;
using Confluent.Kafka;
using Xunit;
using static CartRecovery.Kafka.Tests.KafkaTestSupport;

namespace CartRecovery.Kafka.Tests;

public sealed class MockKafkaClusterTests
{
    [Fact]
    public void Start_exposes_one_bootstrap_address_per_broker()
    {
        using var cluster = MockKafkaCluster.Start(brokers: 3);

        Assert.Equal(3, cluster.BrokerCount);
        var addresses = cluster.BootstrapServers.Split(',');
        Assert.Equal(3, addresses.Length);
        Assert.All(addresses, a => Assert.Matches(@"^[^:]+:\d+$", a));
    }

    [Fact]
    public void Errors_of_the_mock_surface_as_KafkaException_with_the_error_name()
    {
        using var cluster = MockKafkaCluster.Start();
        cluster.CreateTopic("orders", partitions: 2);

        var duplicate = Assert.Throws<KafkaException>(() => cluster.CreateTopic("orders", partitions: 2));
        Assert.Equal(ErrorCode.TopicAlreadyExists, duplicate.Error.Code);
        Assert.Contains("TOPIC_ALREADY_EXISTS", duplicate.Message, StringComparison.Ordinal);

        var unknownPartition = Assert.Throws<KafkaException>(() => cluster.SetPartitionLeader("orders", 7, 1));
        Assert.Equal(ErrorCode.UnknownTopicOrPart, unknownPartition.Error.Code);
        var unknownBroker = Assert.Throws<KafkaException>(() => cluster.SetPartitionLeader("orders", 0, 42));
        Assert.Equal(ErrorCode.BrokerNotAvailable, unknownBroker.Error.Code);
        Assert.Throws<KafkaException>(() => cluster.SetBrokerDown(42));
        Assert.Throws<ArgumentOutOfRangeException>(() => cluster.CreateTopic("too-replicated", 1, replicationFactor: 2));
    }

    [Fact]
    public void Dispose_is_idempotent_and_later_calls_throw()
    {
        var cluster = MockKafkaCluster.Start();
        cluster.Dispose();
        cluster.Dispose();

        Assert.Throws<ObjectDisposedException>(() => cluster.CreateTopic("t", 1));
        Assert.Throws<ObjectDisposedException>(() => cluster.PushRequestErrors(0, ErrorCode.RequestTimedOut));
    }

    [Fact]
    public async Task PushRequestErrors_fails_the_next_produce_request_with_that_error()
    {
        using var cluster = StartCluster();
        cluster.CreateTopic("injected", partitions: 1);
        var log = new ClientLog();
        var config = new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = false, LingerMs = 0 };
        using var producer = BuildProducer(config, log);
        // Connect and learn the metadata first, so the injected error hits a Produce request.
        await producer.ProduceAsync("injected", new Message<string, string> { Key = "k", Value = "warm-up" });

        cluster.PushRequestErrors(0, ErrorCode.MsgSizeTooLarge); // permanent, does not poison the topic

        var failed = await Assert.ThrowsAsync<ProduceException<string, string>>(
            () => producer.ProduceAsync("injected", new Message<string, string> { Key = "k", Value = "rejected" }));
        Assert.Equal(ErrorCode.MsgSizeTooLarge, failed.Error.Code);

        var next = await producer.ProduceAsync("injected", new Message<string, string> { Key = "k", Value = "accepted" });
        Assert.Equal(PersistenceStatus.Persisted, next.Status);
        Assert.Equal(2, SumOfHighWatermarks(cluster, "injected", 1, log)); // warm-up + accepted
    }

    [Fact]
    public async Task A_down_broker_accepts_nothing_until_it_is_up_again()
    {
        using var cluster = StartCluster();
        cluster.CreateTopic("outage", partitions: 1);
        var log = new ClientLog();
        var config = new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = false,
            LingerMs = 0,
            MessageTimeoutMs = 1500,
            ReconnectBackoffMs = 20,
            ReconnectBackoffMaxMs = 300,
        };
        using var producer = BuildProducer(config, log);
        await producer.ProduceAsync("outage", new Message<string, string> { Key = "k", Value = "before" });

        cluster.SetBrokerDown(1);
        var timedOut = await Assert.ThrowsAsync<ProduceException<string, string>>(
            () => producer.ProduceAsync("outage", new Message<string, string> { Key = "k", Value = "during" }));
        Assert.Equal(ErrorCode.Local_MsgTimedOut, timedOut.Error.Code);

        cluster.SetBrokerUp(1);
        config.MessageTimeoutMs = (int)Patience.TotalMilliseconds; // reconnecting may take a while on a busy machine
        using var afterwards = BuildProducer(config, log);
        var after = await afterwards.ProduceAsync("outage", new Message<string, string> { Key = "k", Value = "after" });
        Assert.Equal(PersistenceStatus.Persisted, after.Status);

        var values = ReadTopic(cluster, "outage", 1, expected: 2, IsolationLevel.ReadUncommitted, log).Select(r => r.Message.Value).ToList();
        Assert.Equal(["before", "after"], values);
    }
}
