using CartRecovery.Contracts.Events;

namespace CartRecovery.Contracts.Outputs;

public static class TriggerKinds
{
    public const string Reminder = "reminder";
    public const string ProactiveChat = "proactive_chat";
    public const string IncentiveVoid = "incentive_void";
    /// <summary>A shopper viewed items of a category, put nothing in a cart and went quiet (policy <c>browse_abandonment</c>).</summary>
    public const string BrowseAbandonment = "browse_abandonment";
    /// <summary>A customer whose profile turned at risk (overdue against their own rhythm of ordering; policy <c>win_back</c>).</summary>
    public const string WinBack = "win_back";
    /// <summary>A recovery case ended without an order: the shopper is asked why (policy <c>survey_invitation</c>); the
    /// answer's <c>survey_answered.trigger_id</c> is this trigger's id.</summary>
    public const string SurveyInvitation = "survey_invitation";
}

/// <summary>
/// A trigger for dispatchers (email, SMS, push) and support agents (proactive chat), on the
/// recovery-triggers topic and in the recovery_triggers table. <see cref="TriggerId"/> is deterministic
/// (shopper, session, step, kind, policy version), so re-deliveries are recognisable downstream.
/// </summary>
public sealed record RecoveryTrigger
{
    public required string TriggerId { get; init; }
    public required string Kind { get; init; }
    public required string ShopperId { get; init; }
    public required string SessionId { get; init; }
    public required int Step { get; init; }
    public required string Channel { get; init; }
    /// <summary>The risk score that decided: for a reminder, the score when the cart was left (what a step's min_score and
    /// latest_delay compare); for a chat, the score when it was offered; for a win-back, the churn risk.</summary>
    public required double Score { get; init; }
    public IReadOnlyList<string> TopFactors { get; init; } = [];
    /// <summary>A reminder's score at send time (idle hours in it, near 1 for every reminder): kept for comparison only,
    /// it decides nothing; 0 for the other kinds.</summary>
    public double SendTimeScore { get; init; }
    public required string Reason { get; init; }
    public IReadOnlyList<CartLine> CartLines { get; init; } = [];
    /// <summary>Lines of the cart not listed in <see cref="CartLines"/>: a trigger lists at most
    /// <see cref="OutputLimits.MaxTriggerLines"/> lines, in cart order, and fewer when they would not fit one Kafka record
    /// (docs/events.md, "Output sizes"); <see cref="CartValue"/> is always the whole cart's.</summary>
    public int CartLinesOmitted { get; init; }
    public decimal CartValue { get; init; }
    public string Currency { get; init; } = "";
    public string IncentiveCode { get; init; } = "";
    /// <summary>What the code gives: percent, fixed_amount (in <see cref="Currency"/>) or free_shipping; empty without a code.</summary>
    public string IncentiveType { get; init; } = "";
    /// <summary>Percent off or amount off; 0 for free shipping.</summary>
    public decimal IncentiveValue { get; init; }
    /// <summary>When the code stops being valid (issued + the step's incentive_valid_for); null without a code.</summary>
    public DateTimeOffset? IncentiveExpiresAt { get; init; }
    /// <summary>The consent event this message relies on (empty for proactive chat and voids).</summary>
    public string ConsentEventId { get; init; } = "";
    public required string PolicyVersion { get; init; }
    public string Variant { get; init; } = "";
    public string Segment { get; init; } = "";
    public string OriginChannel { get; init; } = "";
    /// <summary>Context a support agent needs for proactive chat: furthest funnel step and payment error codes.</summary>
    public string FunnelStep { get; init; } = "";
    public IReadOnlyList<string> PaymentErrorCodes { get; init; } = [];
    /// <summary>Event time at which the decision was taken.</summary>
    public required DateTimeOffset EventTime { get; init; }
    /// <summary>Event time at which the step was due by policy (before grace and quiet-hours deferral).</summary>
    public required DateTimeOffset DueTime { get; init; }

    // What a dispatcher needs to send a compliant message (docs/compliance.md): the consent it relies on, the opt-out and
    // resume links, and the rendered message when the policy has a template for the step and channel.
    /// <summary>The purpose of the consent the message relies on (cart_recovery); empty for chats and voids.</summary>
    public string Purpose { get; init; } = "";
    /// <summary>The wording version of that consent, as the shopper saw it.</summary>
    public string ConsentWordingVersion { get; init; } = "";
    /// <summary>Opaque token (encrypted, authenticated, with an expiry) for opting out of (shopper, purpose, channel): the
    /// `links` service honours it, `./run.sh token verify` checks it.</summary>
    public string UnsubscribeToken { get; init; } = "";
    public string UnsubscribeUrl { get; init; } = "";
    /// <summary>Opaque token carrying (shopper, session, trigger), the cart's lines and checkout step: the `links` service
    /// redirects it to the storefront's checkout with the cart restored.</summary>
    public string ResumeToken { get; init; } = "";
    public string ResumeUrl { get; init; } = "";
    /// <summary>Email only, RFC 8058: the <c>List-Unsubscribe</c> header value (<c>&lt;https://...&gt;</c>, the unsubscribe
    /// URL) and the <c>List-Unsubscribe-Post</c> value (<c>List-Unsubscribe=One-Click</c>) the dispatcher sets; empty
    /// for other channels and for an unsubscribe link that is not HTTPS.</summary>
    public string ListUnsubscribe { get; init; } = "";
    public string ListUnsubscribePost { get; init; } = "";
    public string MessageSubject { get; init; } = "";
    public string MessageBody { get; init; } = "";
    /// <summary>The shopper's wall-clock time when the decision was taken (no offset) and its zone: compliance checks
    /// of quiet hours read it without re-deriving the zone.</summary>
    public string ShopperTimeZone { get; init; } = "";
    public DateTime? ShopperLocalTime { get; init; }
    /// <summary>The product category the message is about: the category a browse abandonment viewed most, the strongest
    /// interest of a win-back's profile; empty for the other kinds.</summary>
    public string Category { get; init; } = "";
}

public static class AuditDecisions
{
    public const string Triggered = "triggered";
    public const string Suppressed = "suppressed";
    public const string Deferred = "deferred";
    public const string ConsentChanged = "consent_changed";
    public const string LateEvent = "late_event";
    /// <summary>An input event further ahead of its partition's event time than <c>max_future_skew</c> that no other
    /// shopper confirmed (a device clock that is off): applied to its own shopper, moving nobody else's time.</summary>
    public const string FutureEvent = "future_event";
    public const string Abandoned = "abandoned";
    /// <summary>An input event whose event_id the shopper's recent events already hold: not applied again.</summary>
    public const string DuplicateEvent = "duplicate_event";
    /// <summary>The shopper's personal data was erased; the row names the pseudonym, never the id.</summary>
    public const string Erased = "erased";
    /// <summary>An outcome of a trigger reported back (reason: the outcome type, or <c>unmatched</c>).</summary>
    public const string OutcomeReceived = "outcome_received";
    /// <summary>A message channel retired for the shopper (reason: message_bounced or message_complained).</summary>
    public const string ChannelBlocked = "channel_blocked";
    /// <summary>An input record refused as not the worker's own (reason: unauthenticated_internal_record); also a dead letter.</summary>
    public const string InputRefused = "input_refused";
}

/// <summary>One row per decision: every trigger, suppression (with reason code), deferral, consent change.
/// Holds ids and codes only; no personal data.</summary>
public sealed record AuditRecord
{
    public required string AuditId { get; init; }
    public required string ShopperId { get; init; }
    public string SessionId { get; init; } = "";
    public required string Decision { get; init; }
    public required string Reason { get; init; }
    public int Step { get; init; }
    public string Channel { get; init; } = "";
    /// <summary>Ids of the events the decision relied on.</summary>
    public IReadOnlyList<string> Evidence { get; init; } = [];
    public double Score { get; init; }
    public IReadOnlyList<string> TopFactors { get; init; } = [];
    public required string PolicyVersion { get; init; }
    public string Detail { get; init; } = "";
    public required DateTimeOffset EventTime { get; init; }
    /// <summary>The trigger kind the row decides about when it is not a cart reminder or chat (browse_abandonment,
    /// win_back), so their sent and not-sent rows can be told apart; empty for every other row.</summary>
    public string Kind { get; init; } = "";

    // Tamper evidence (docs/compliance.md): each row is chained to the previous row of the same shopper. The chain is
    // keyed by the keyed pseudonym, which erasure leaves in place, so it still verifies after the id is gone.
    public string ShopperPseudonym { get; init; } = "";
    /// <summary>The keyed pseudonym of <see cref="SessionId"/> (empty without a session): what the chain hashes for the
    /// session, so erasure may replace the session id by it and the row still verifies.</summary>
    public string SessionPseudonym { get; init; } = "";
    /// <summary>Which hash function the row's <see cref="ChainHash"/> is computed with: 1 for rows written before the chain
    /// covered shopper, session and factors (they keep their hash), 2 since (AuditChain.Canonical).</summary>
    public int ChainVersion { get; init; }
    /// <summary>The hash of the first row of the row's chain (in memory only: the writer anchors chain heads by it).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string ChainRoot { get; init; } = "";
    /// <summary>1 for the first row of a chain.</summary>
    public long ChainSeq { get; init; }
    /// <summary>The previous row's <see cref="ChainHash"/>; empty for the first.</summary>
    public string ChainPrev { get; init; } = "";
    public string ChainHash { get; init; } = "";
}

public static class Outcomes
{
    public const string Ordered = "ordered";
    public const string Abandoned = "abandoned";
    public const string AbandonedRecovered = "abandoned_recovered";
    public const string Browsed = "browsed";
    public const string Emptied = "emptied";
}

/// <summary>One row per finished session (re-emitted with a later <see cref="EndedAt"/> when a late order recovers it).</summary>
public sealed record SessionOutcome
{
    public required string SessionId { get; init; }
    public required string ShopperId { get; init; }
    public required string OriginChannel { get; init; }
    public string Segment { get; init; } = "";
    public required string FurthestStep { get; init; }
    public decimal CartValue { get; init; }
    public string Currency { get; init; } = "";
    public int ItemCount { get; init; }
    public required string Outcome { get; init; }
    public DateTimeOffset? AbandonedAt { get; init; }
    public DateTimeOffset? OrderedAt { get; init; }
    public decimal OrderValue { get; init; }
    /// <summary>Currency of <see cref="OrderValue"/>: the order's own, which need not be the cart's (<see cref="Currency"/>).</summary>
    public string OrderCurrency { get; init; } = "";
    public bool Holdout { get; init; }
    public required string PolicyVersion { get; init; }
    public string Variant { get; init; } = "";
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset EndedAt { get; init; }
}

/// <summary>A rejected input record: why, and where to find it. The raw payload goes to the dead-letter
/// topic only (same retention as the input), never into logs or the analytics store.</summary>
public sealed record DeadLetter
{
    public required string DeadLetterId { get; init; }
    public required string Topic { get; init; }
    public required int Partition { get; init; }
    public required long Offset { get; init; }
    public required string Reason { get; init; }
    public string Detail { get; init; } = "";
    public string PayloadSha256 { get; init; } = "";
    public required DateTimeOffset ReceivedAt { get; init; }
}

/// <summary>
/// One outcome event as kept for analysts (<c>outcome_events</c> table): what happened to which trigger, and whether
/// the worker knew that trigger (<see cref="Matched"/>). Step, channel of origin and variant are read from
/// <c>recovery_triggers</c> by <see cref="TriggerId"/> (one source of truth). <see cref="FreeText"/> is personal data: it
/// lives only here (erased with the shopper's rows), never in audit rows or logs.
/// </summary>
public sealed record OutcomeRecord
{
    public required string EventId { get; init; }
    /// <summary>The outcome type: message_delivered, ..., survey_answered.</summary>
    public required string Type { get; init; }
    public required string ShopperId { get; init; }
    public string SessionId { get; init; } = "";
    public string TriggerId { get; init; } = "";
    /// <summary>The message channel (email, sms, push), chat for chat outcomes, empty for a survey.</summary>
    public string Channel { get; init; } = "";
    /// <summary>True when the worker's state held the trigger (or, for a survey by session, the session).</summary>
    public required bool Matched { get; init; }
    public string BounceType { get; init; } = "";
    public bool? ResolvedFirstContact { get; init; }
    public int? Satisfaction { get; init; }
    public string SurveyReason { get; init; } = "";
    public string? FreeText { get; init; }
    public required DateTimeOffset EventTime { get; init; }
}

/// <summary>
/// A shopper's profile as of <see cref="UpdatedAt"/> (<c>shopper_profiles</c>, one row per shopper, the newest wins):
/// RFM (recency from the last order, frequency = orders, monetary in the policy currency), churn risk, lifetime-value
/// estimate, segment (new, active, at_risk, lapsed) and category interest. Ids, codes and numbers only.
/// </summary>
public sealed record ShopperProfileRow
{
    public required string ShopperId { get; init; }
    public required string Segment { get; init; }
    public required double ChurnRisk { get; init; }
    public int OrderCount { get; init; }
    /// <summary>Days from the last order to <see cref="UpdatedAt"/>; null without an order.</summary>
    public double? RecencyDays { get; init; }
    public decimal Monetary { get; init; }
    public string MonetaryCurrency { get; init; } = "";
    public decimal LifetimeValue { get; init; }
    public double TypicalIntervalDays { get; init; }
    public IReadOnlyList<string> TopCategories { get; init; } = [];
    public IReadOnlyDictionary<string, int> CategoryInterest { get; init; } = new Dictionary<string, int>();
    public DateTimeOffset FirstSeen { get; init; }
    public DateTimeOffset? LastOrderAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}
