namespace CartRecovery.Contracts;

/// <summary>Kafka topic names: part of the contract with storefronts, dispatchers and data teams.</summary>
public static class Topics
{
    public const string CartEvents = "cart-events";
    public const string OrderEvents = "order-events";
    public const string ConsentEvents = "consent-events";
    /// <summary>Outcomes of triggers reported back by dispatchers, the chat tool and the survey (docs/events.md).</summary>
    public const string OutcomeEvents = "outcome-events";
    public const string RecoveryTriggers = "recovery-triggers";
    public const string DeadLetter = "dead-letter";
    /// <summary>Drain progress of consumer groups: one record per partition a drain finished (compacted, keyed by
    /// group and partition), so every drain worker of a group knows when the group's work is done.</summary>
    public const string DrainProgress = "cartrecovery-drain-progress";

    /// <summary>Input topics, co-partitioned by shopper id: partition p of each holds the same shoppers.</summary>
    public static readonly IReadOnlyList<string> Inputs = [CartEvents, OrderEvents, ConsentEvents, OutcomeEvents];
}
