using System.Globalization;
using System.Text;
using CartRecovery.Contracts;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Which partitions a consumer group's drains have finished, shared through a small compacted Kafka topic: when a
/// drain worker has fired a partition's end-of-input timers, checkpointed and committed it, it records the partition
/// and the input offsets that checkpoint reflects. Committed offsets alone cannot tell this: a live worker, or a
/// drain worker stopped before it drained, commits every offset without having fired the reminders that end of
/// input makes due. Record format (internal control data): key <c>group/partition</c>, value
/// <c>topic=next;topic=next</c>, MAC'd like every record only the worker writes (<see cref="InternalRecords"/>): a
/// record without a valid MAC is ignored and logged (it could otherwise end every drain of a group early).
/// </summary>
public sealed class DrainProgress : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly string _group;
    private readonly IProducer<string, string> _producer;
    private readonly IConsumer<string, string> _reader;
    private readonly Dictionary<TopicPartition, long> _drained = new();
    private readonly Domain.Compliance.ComplianceKeys _keys;
    private readonly ILogger _logger;
    private long _ignored;

    /// <param name="deliveryTimeout">How long a progress record may wait for its broker (the worker's broker patience):
    /// without a broker, <see cref="Record"/> fails after it instead of waiting librdkafka's 5 minutes.</param>
    /// <param name="log">Where librdkafka's log lines go (rate-limited), instead of stderr.</param>
    public DrainProgress(Kafka.Configuration.KafkaClientSettings kafka, string group, Domain.Compliance.ComplianceKeys keys, ILogger logger, TimeSpan? deliveryTimeout = null, Action<string, LogMessage>? log = null)
    {
        _group = group;
        _keys = keys;
        _logger = logger;
        EnsureTopic(kafka);
        var producer = new ProducerBuilder<string, string>(kafka.ProducerConfig(new ProducerConfig
        {
            EnableIdempotence = true, Acks = Acks.All,
            MessageTimeoutMs = deliveryTimeout is { } timeout ? (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds) : null,
        }));
        var reader = new ConsumerBuilder<string, string>(kafka.ConsumerConfig(new ConsumerConfig
        {
            GroupId = $"{group}-drain-progress-reader", EnableAutoCommit = false,
            EnablePartitionEof = true, AutoOffsetReset = AutoOffsetReset.Earliest,
        }));
        if (log is not null)
        {
            producer.SetLogHandler((_, m) => log("drain-progress", m));
            reader.SetLogHandler((_, m) => log("drain-progress", m));
        }
        _producer = producer.Build();
        _reader = reader.Build();
        _reader.Assign(new TopicPartitionOffset(Topics.DrainProgress, 0, Offset.Beginning));
    }

    /// <summary>The partition is drained up to these offsets (a checkpoint taken after its drain is saved and committed).</summary>
    public void Record(int partition, IReadOnlyDictionary<string, long> nextOffsets)
    {
        var value = string.Join(";", nextOffsets.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value.ToString(CultureInfo.InvariantCulture)}"));
        // Waits for the broker's acknowledgement: this record is the group's only evidence that the partition is
        // drained, and one lost without notice would leave every drain worker of the group waiting for it forever.
        // A failure is thrown (the worker stops with the cause; its successor drains the partition again).
        var key = $"{_group}/{partition}";
        var mac = InternalRecords.Sign(_keys, Topics.DrainProgress, key, Encoding.UTF8.GetBytes(value));
        _producer.ProduceAsync(new TopicPartition(Topics.DrainProgress, 0),
                new Message<string, string> { Key = key, Value = value, Headers = new Headers { { InternalRecords.MacHeader, mac } } })
            .GetAwaiter().GetResult();
    }

    /// <summary>Every input topic-partition of the group that a drain finished, with the offset it was drained to.</summary>
    public IReadOnlyDictionary<TopicPartition, long> Read()
    {
        while (_reader.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
        {
            if (result.IsPartitionEOF) break;
            if (InternalRecords.Problem(_keys, Topics.DrainProgress, result.Message.Key is { } k ? Encoding.UTF8.GetBytes(k) : null,
                    Encoding.UTF8.GetBytes(result.Message.Value), result.Message.Headers) is not null)
            {
                // Not the worker's: counted and logged without its content, never taken as progress.
                _logger.LogWarning("drain progress: ignored {Count} records without a valid {Header} (offset {Offset})", ++_ignored, InternalRecords.MacHeader, result.Offset.Value);
                continue;
            }
            var (group, partition) = ParseKey(result.Message.Key);
            if (group != _group) continue;
            foreach (var (topic, next) in ParseValue(result.Message.Value))
                _drained[new TopicPartition(topic, partition)] = next;
        }
        return _drained;
    }

    public static (string Group, int Partition) ParseKey(string key)
    {
        var slash = key.LastIndexOf('/');
        return (key[..slash], int.Parse(key[(slash + 1)..], CultureInfo.InvariantCulture));
    }

    public static IEnumerable<(string Topic, long Next)> ParseValue(string value) =>
        value.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(pair => pair.Split('=')).Select(p => (p[0], long.Parse(p[1], CultureInfo.InvariantCulture)));

    private static void EnsureTopic(Kafka.Configuration.KafkaClientSettings kafka)
    {
        using var admin = new AdminClientBuilder(kafka.AdminConfig()).Build();
        var existing = admin.GetMetadata(Topics.DrainProgress, Timeout).Topics.FirstOrDefault(t => t.Topic == Topics.DrainProgress);
        if (existing is { Error.IsError: false, Partitions.Count: > 0 }) return;
        try
        {
            admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = Topics.DrainProgress, NumPartitions = 1, ReplicationFactor = -1,
                Configs = new Dictionary<string, string> { ["cleanup.policy"] = "compact" },
            }]).GetAwaiter().GetResult();
        }
        catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code == ErrorCode.TopicAlreadyExists)) { }
    }

    public void Dispose()
    {
        _producer.Dispose();
        _reader.Close();
        _reader.Dispose();
    }
}
