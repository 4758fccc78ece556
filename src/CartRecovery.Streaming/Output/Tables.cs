namespace CartRecovery.Streaming.Output;

/// <summary>Analytics table names (the DDL lives in CartRecovery.Storage/Schema/schema.sql).</summary>
public static class Tables
{
    public const string RecoveryTriggers = "recovery_triggers";
    public const string AuditLog = "audit_log";
    public const string SessionOutcomes = "session_outcomes";
    public const string DeadLetters = "dead_letters";
    public const string OutcomeEvents = "outcome_events";
    public const string ShopperProfiles = "shopper_profiles";
    /// <summary>Anchors of the audit chains (not an analyst table: read by `audit verify`).</summary>
    public const string AuditChainHeads = "audit_chain_heads";
    public static readonly IReadOnlyList<string> All = [RecoveryTriggers, AuditLog, SessionOutcomes, DeadLetters, OutcomeEvents, ShopperProfiles];
}
