using System.Security.Cryptography;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;

namespace CartRecovery.Streaming.Ingest;

/// <summary>The one way a rejected input becomes a <see cref="DeadLetter"/> row: the worker's rejected records, its
/// decision failures and a replay's rejected input lines all get the same id scheme and payload hash.</summary>
public static class DeadLetters
{
    public static DeadLetter Create(string topic, int partition, long offset, string reason, string detail, ReadOnlySpan<byte> payload, DateTimeOffset receivedAt) =>
        Create(topic, partition, offset, reason, detail, Convert.ToHexStringLower(SHA256.HashData(payload)), receivedAt);

    /// <summary>A dead letter of a payload that is no longer at hand, by its SHA-256 (lowercase hex).</summary>
    public static DeadLetter Create(string topic, int partition, long offset, string reason, string detail, string sha256, DateTimeOffset receivedAt)
    {
        return new DeadLetter
        {
            // Offsets alone do not identify a record across clusters (a replay's staging broker numbers its copies
            // anew): the payload's hash keeps a backfilled dead letter from replacing another record's row.
            DeadLetterId = DeterministicId.From("dead-letter", topic, partition.ToString(), offset.ToString(), sha256),
            Topic = topic,
            Partition = partition,
            Offset = offset,
            Reason = reason,
            Detail = detail,
            PayloadSha256 = sha256,
            ReceivedAt = receivedAt,
        };
    }
}
