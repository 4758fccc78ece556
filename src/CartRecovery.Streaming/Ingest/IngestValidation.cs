using CartRecovery.Contracts.Serialization;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Compliance;

namespace CartRecovery.Streaming.Ingest;

/// <summary>What the ingest admits of an input record: a valid event on its own topic under its shopper's key, or the
/// reject reason its dead letter carries. Never throws, whatever the bytes (a poison record costs one dead letter).</summary>
public static class IngestValidation
{
    public readonly record struct Admission(ShopperEvent? Event, string? Reason, string? Detail);

    public static Admission Admit(string topic, byte[]? key, ReadOnlySpan<byte> payload) => Admit(topic, key, EventParser.Parse(payload));

    /// <summary>The same checks on a record already parsed (a split record joined from its parts).</summary>
    public static Admission Admit(string topic, byte[]? key, ParseResult parsed)
    {
        if (parsed.Event is not { } evt) return new Admission(null, parsed.RejectReason, parsed.Detail);
        if (!EventParser.BelongsOn(evt, topic)) return new Admission(null, RejectReasons.WrongTopic, $"{evt.GetType().Name} does not belong on {topic}");
        // Every record is keyed by its shopper: a record without a key could sit on any partition, so it is not
        // decided (another partition may hold the shopper's state) but dead-lettered like a wrong key.
        if (key is null) return new Admission(null, RejectReasons.MissingField, "record key is missing: it must be the shopper_id");
        if (!key.AsSpan().SequenceEqual(System.Text.Encoding.UTF8.GetBytes(evt.ShopperId)))
            return new Admission(null, RejectReasons.KeyMismatch, "record key is not the shopper_id: the event may sit on another shopper's partition");
        return new Admission(evt, null, null);
    }

    /// <summary>A consumed record (or a split record joined from its parts) as the merge takes it: its event, or its
    /// dead letter. Pure and thread-safe (PartitionFeed parses a dispatch's records in parallel); the caller counts the
    /// dead letter.</summary>
    public static InputRecord ToRecord(SplitRecordJoiner.Ready ready, ComplianceKeys keys)
    {
        var result = ready.Result;
        var tp = result.TopicPartition;
        // A part whose content is in a joined record (or was given up): progress only.
        if (ready.Skip) return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, null, null);
        var payload = ready.Joined ?? result.Message.Value ?? [];
        var parsed = ready.Problem is { } problem ? ParseResult.Reject(RejectReasons.InvalidField, problem)
            : ready.Joined is not null ? SplitRecords.ParseJoined(payload) : EventParser.Parse(payload);
        var (evt, reason, detail) = Admit(tp.Topic, result.Message.Key, parsed);
        ShopperEvent? refused = null;
        if (evt is not null)
        {
            // A split record is checked whole: its first part carries the MAC of the joined value.
            if (InternalRecords.IsInternal(evt) && InternalRecords.Problem(keys, tp.Topic, result.Message.Key, payload, result.Message.Headers) is { } macProblem)
                // On the shopper's own partition, so the refusal is audited in the shopper's chain (PartitionActor).
                (reason, detail, refused) = (RejectReasons.UnauthenticatedInternalRecord, macProblem, evt);
            else return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, evt, null);
        }
        var letter = DeadLetters.Create(tp.Topic, tp.Partition.Value, result.Offset.Value, reason!, detail ?? "", payload, result.Message.Timestamp.UtcDateTime);
        return new InputRecord(tp.Topic, tp.Partition.Value, result.Offset.Value, null, letter, result.Message.Key, payload, refused);
    }
}
