using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Streaming.Ingest;

/// <summary>One consumed Kafka record: a valid event, or a rejection bound for the dead-letter topic.</summary>
public sealed record InputRecord(string Topic, int Partition, long Offset, ShopperEvent? Event, DeadLetter? Rejected,
    byte[]? Key = null, byte[]? Payload = null);
