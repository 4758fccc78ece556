using CartRecovery.Contracts.Serialization;
using CartRecovery.Traffic;
using CartRecovery.Kafka.Configuration;
using Confluent.Kafka;

namespace CartRecovery.Host;

/// <summary>Publishes generated or imported events to their input topics, keyed by shopper id, in order.</summary>
public static class TrafficPublisher
{
    /// <summary>To a plaintext cluster (the embedded broker, a test broker).</summary>
    public static long Publish(string bootstrap, IEnumerable<GeneratedEvent> events) => Publish(KafkaClientSettings.Plaintext(bootstrap), events);

    public static long Publish(KafkaClientSettings kafka, IEnumerable<GeneratedEvent> events)
    {
        using var producer = new ProducerBuilder<string, byte[]>(kafka.ProducerConfig(new ProducerConfig
        {
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            // The embedded broker (librdkafka's mock cluster) keeps only the newest 5 MB of message sets per
            // partition and silently drops older ones; compressed batches hold several times more events.
            CompressionType = CompressionType.Lz4,
        })).Build();
        long sent = 0, failed = 0;
        Error? lastError = null;
        foreach (var generated in events)
        {
            producer.Produce(generated.Topic, new Message<string, byte[]>
            {
                Key = generated.Event.ShopperId,
                Value = ContractJson.SerializeEvent(generated.Event),
                Timestamp = new Timestamp(generated.Event.EventTime),
            }, report =>
            {
                if (report.Error.IsError) { Interlocked.Increment(ref failed); lastError = report.Error; }
            });
            sent++;
        }
        producer.Flush(TimeSpan.FromMinutes(2));
        if (failed > 0) throw new KafkaException(lastError ?? new Error(ErrorCode.Local_Fail));
        return sent;
    }

    /// <summary>Raw bytes for scripted tests and replays of recorded topic dumps (malformed records included).</summary>
    public static void PublishRaw(string bootstrap, IEnumerable<(string Topic, string? Key, byte[] Value)> records)
    {
        using var producer = new ProducerBuilder<string?, byte[]>(
            KafkaClientSettings.Plaintext(bootstrap).ProducerConfig(new ProducerConfig { EnableIdempotence = true, CompressionType = CompressionType.Lz4 })).Build();
        foreach (var (topic, key, value) in records)
            producer.Produce(topic, new Message<string?, byte[]> { Key = key, Value = value });
        producer.Flush(TimeSpan.FromMinutes(1));
    }
}
