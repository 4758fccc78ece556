using System.Collections.Concurrent;
using CartRecovery.Kafka.Embedded;
using Confluent.Kafka;

namespace CartRecovery.Kafka.Tests;

/// <summary>Client factories and bounded polling helpers shared by the mock-cluster tests.</summary>
internal static class KafkaTestSupport
{
    /// <summary>Upper bound for any single wait; only reached when a test is failing.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static MockKafkaCluster StartCluster(int brokers = 1)
    {
        var cluster = MockKafkaCluster.Start(brokers);
        cluster.SetGroupInitialRebalanceDelay(TimeSpan.Zero);
        return cluster;
    }

    public static ProducerConfig IdempotentProducerConfig(MockKafkaCluster cluster) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        RetryBackoffMs = 20,
        ReconnectBackoffMs = 20,
        ReconnectBackoffMaxMs = 500,
    };

    public static ConsumerConfig ConsumerConfig(MockKafkaCluster cluster, string groupId) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        GroupId = groupId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        FetchWaitMaxMs = 10,
        EnablePartitionEof = false,
        ReconnectBackoffMs = 20,
        ReconnectBackoffMaxMs = 500,
    };

    /// <summary>Client log lines and errors, kept instead of written to stderr; shown in assertion messages.</summary>
    public sealed class ClientLog
    {
        private readonly ConcurrentQueue<string> lines = new();
        private readonly ConcurrentQueue<Error> errors = new();

        public IReadOnlyCollection<Error> Errors => errors;

        public void Log(LogMessage message) => lines.Enqueue($"{message.Level} {message.Name} {message.Facility}: {message.Message}");

        public void Error(Error error)
        {
            errors.Enqueue(error);
            lines.Enqueue($"ERROR {error.Code} fatal={error.IsFatal}: {error.Reason}");
        }

        public override string ToString() => string.Join(Environment.NewLine, lines.TakeLast(50));
    }

    public static IProducer<string, string> BuildProducer(ProducerConfig config, ClientLog log) =>
        new ProducerBuilder<string, string>(config)
            .SetLogHandler((_, m) => log.Log(m))
            .SetErrorHandler((_, e) => log.Error(e))
            .Build();

    public static IConsumer<string, string> BuildConsumer(ConsumerConfig config, ClientLog log) =>
        new ConsumerBuilder<string, string>(config)
            .SetLogHandler((_, m) => log.Log(m))
            .SetErrorHandler((_, e) => log.Error(e))
            .Build();

    /// <summary>
    /// Consumes until <paramref name="expected"/> messages arrived (or <see cref="Patience"/> ran out),
    /// then keeps polling for <paramref name="extraPoll"/> so that duplicates would show up too.
    /// </summary>
    public static List<ConsumeResult<string, string>> ConsumeAtLeast(IConsumer<string, string> consumer, int expected, TimeSpan extraPoll)
    {
        var results = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow + Patience;
        while (results.Count < expected && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is not null)
            {
                results.Add(r);
            }
        }

        var extraDeadline = DateTime.UtcNow + extraPoll;
        while (DateTime.UtcNow < extraDeadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is not null)
            {
                results.Add(r);
            }
        }

        return results;
    }

    /// <summary>Reads a whole topic from the beginning with Assign (no group), as a checker.</summary>
    public static List<ConsumeResult<string, string>> ReadTopic(
        MockKafkaCluster cluster, string topic, int partitions, int expected, IsolationLevel isolation, ClientLog log)
    {
        var config = ConsumerConfig(cluster, "checker-" + Guid.NewGuid().ToString("N"));
        config.IsolationLevel = isolation;
        config.EnableAutoCommit = false;
        using var consumer = BuildConsumer(config, log);
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var results = ConsumeAtLeast(consumer, expected, TimeSpan.FromSeconds(1));
        consumer.Close();
        return results;
    }

    /// <summary>Sum of the high watermarks (log end offsets) of all partitions of a topic.</summary>
    public static long SumOfHighWatermarks(MockKafkaCluster cluster, string topic, int partitions, ClientLog log)
    {
        using var consumer = BuildConsumer(ConsumerConfig(cluster, "watermarks-" + Guid.NewGuid().ToString("N")), log);
        return Enumerable.Range(0, partitions)
            .Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30)).High.Value);
    }

    public static string Key(int i) => $"cart-{i % 50:D2}";

    public static string Value(int i) => $"event-{i:D5}";

    public static int Sequence(string value) => int.Parse(value.AsSpan("event-".Length), System.Globalization.CultureInfo.InvariantCulture);
}
