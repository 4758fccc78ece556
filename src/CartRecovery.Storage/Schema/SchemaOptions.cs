namespace CartRecovery.Storage.Schema;

/// <summary>
/// Parameters of schema.sql (docs/analytics.md): retention per table group (days; null keeps rows forever, which
/// drops the TTL clause) and the attribution window of the recovery_outcomes view.
/// </summary>
public sealed record SchemaOptions
{
    /// <summary>recovery_triggers.</summary>
    public int? TriggerRetentionDays { get; init; } = 400;

    /// <summary>session_outcomes.</summary>
    public int? OutcomeRetentionDays { get; init; } = 400;

    /// <summary>audit_log.</summary>
    public int? AuditRetentionDays { get; init; } = 400;

    /// <summary>dead_letters.</summary>
    public int? DeadLetterRetentionDays { get; init; } = 30;

    /// <summary>outcome_events (dispatcher, chat and survey outcomes).</summary>
    public int? OutcomeEventRetentionDays { get; init; } = 400;

    /// <summary>shopper_profiles (counted from a profile's last update).</summary>
    public int? ProfileRetentionDays { get; init; } = 400;

    /// <summary>Consent evidence (audit_log rows of consent changes, exempt from <see cref="AuditRetentionDays"/>): kept while the
    /// consent is in force and this many days after it stopped being in force (superseded by a newer change for the same
    /// purpose and channel, or its valid_until passed); null keeps it until the shopper is erased.</summary>
    public int? ConsentEvidenceDays { get; init; } = 1095;

    /// <summary>How long after abandonment an order still counts as converting the cart.</summary>
    public TimeSpan AttributionWindow { get; init; } = TimeSpan.FromDays(5);

    public static SchemaOptions Default { get; } = new();

    /// <summary>No TTL anywhere: for replays of old traffic, whose event times would otherwise be expired at once.</summary>
    public static SchemaOptions KeepForever { get; } = new()
    {
        TriggerRetentionDays = null,
        OutcomeRetentionDays = null,
        AuditRetentionDays = null,
        DeadLetterRetentionDays = null,
        OutcomeEventRetentionDays = null,
        ProfileRetentionDays = null,
        ConsentEvidenceDays = null,
    };
}
