using System.Security.Cryptography;
using System.Text;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Streaming.Ingest;

namespace CartRecovery.Streaming.Actors;

/// <summary>An event whose decision threw, as a dead letter: where it was read, the cause (exception type and the
/// method that threw, never the message, which may echo input values), and the event as the worker understood it, so
/// it can be inspected and replayed once the decision code is fixed.</summary>
public static class DecisionFailures
{
    public static InputRecord DeadLetter(InputRecord source, ShopperEvent evt, Exception cause)
    {
        var payload = ContractJson.SerializeEvent(evt);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(payload));
        var where = cause.TargetSite is { } site ? $" in {site.DeclaringType?.Name}.{site.Name}" : "";
        var letter = new DeadLetter
        {
            DeadLetterId = DeterministicId.From("dead-letter", source.Topic, source.Partition.ToString(), source.Offset.ToString(), sha256),
            Topic = source.Topic,
            Partition = source.Partition,
            Offset = source.Offset,
            Reason = RejectReasons.DecisionFailed,
            Detail = $"{cause.GetType().Name}{where}",
            PayloadSha256 = sha256,
            // The record's broker timestamp is not kept past parsing: the event time stands in for when it was received.
            ReceivedAt = evt.EventTime,
        };
        return new InputRecord(source.Topic, source.Partition, source.Offset, null, letter, Encoding.UTF8.GetBytes(evt.ShopperId), payload);
    }
}
