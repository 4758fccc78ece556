using System.Text;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
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
}
