using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Streaming.Ingest;

/// <summary>One consumed Kafka record: a valid event, or a rejection bound for the dead-letter topic.</summary>
/// <param name="Refused">A rejection that is also audited: the parsed event of a record that claimed to be the worker's
/// own and was not (InternalRecords), for the audit row in its shopper's chain. Never applied.</param>
public sealed record InputRecord(string Topic, int Partition, long Offset, ShopperEvent? Event, DeadLetter? Rejected,
    byte[]? Key = null, byte[]? Payload = null, ShopperEvent? Refused = null);
