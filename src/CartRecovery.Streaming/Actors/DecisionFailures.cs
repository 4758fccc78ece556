using System.Text;
using CartRecovery.Contracts.Events;
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
        var where = cause.TargetSite is { } site ? $" in {site.DeclaringType?.Name}.{site.Name}" : "";
        // The record's broker timestamp is not kept past parsing: the event time stands in for when it was received.
        var letter = Ingest.DeadLetters.Create(source.Topic, source.Partition, source.Offset, RejectReasons.DecisionFailed, $"{cause.GetType().Name}{where}", payload, evt.EventTime);
        return new InputRecord(source.Topic, source.Partition, source.Offset, null, letter, Encoding.UTF8.GetBytes(evt.ShopperId), payload);
    }

    /// <summary>The <see cref="DeadLetter.Topic"/> of a deadline whose decision threw: no input record stands behind it.</summary>
    public const string TimerSource = "timer";

    /// <summary>A deadline (a session's, or the shopper's own when <paramref name="sessionId"/> is empty) whose decision
    /// threw, as a dead letter: offset -1, the payload names the shopper, the session, the deadline's kind and instant.</summary>
    public static InputRecord TimerDeadLetter(int partition, string shopperId, string sessionId, Deadline deadline, Exception cause)
    {
        var description = new System.Text.Json.Nodes.JsonObject
        {
            ["shopper_id"] = shopperId, ["session_id"] = sessionId, ["deadline"] = deadline.Kind.ToString(), ["at"] = deadline.At,
        };
        var payload = Encoding.UTF8.GetBytes(description.ToJsonString());
        var where = cause.TargetSite is { } site ? $" in {site.DeclaringType?.Name}.{site.Name}" : "";
        var letter = Ingest.DeadLetters.Create(TimerSource, partition, -1, RejectReasons.DecisionFailed, $"{deadline.Kind} deadline: {cause.GetType().Name}{where}",
            payload, deadline.At);
        return new InputRecord(TimerSource, partition, -1, null, letter, Encoding.UTF8.GetBytes(shopperId), payload);
    }
}
