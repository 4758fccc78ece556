using CartRecovery.Contracts.Serialization;
using CartRecovery.Contracts.Events;

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
}
