namespace CartRecovery.Domain.Decisions;

/// <summary>Reason codes of audit rows. Stable strings: analysts and auditors filter on them.</summary>
public static class SuppressionReason
{
    public const string OrderPlaced = "order_placed";
    public const string CartEmptied = "cart_emptied";
    public const string ItemsAlreadyBought = "items_already_bought";
    public const string NoConsent = "no_consent";
    public const string ConsentWithdrawn = "consent_withdrawn";
    /// <summary>The grant for the channel was given for a limited time (valid_until) that has passed: no consent.</summary>
    public const string ConsentExpired = "consent_expired";
    public const string CapPerCart = "cap_per_cart";
    public const string CapPerShopper = "cap_per_shopper";
    public const string Holdout = "holdout";
    public const string SessionResumed = "session_resumed";
    /// <summary>A payment of the shopper is pending: a reminder could push a second charge.</summary>
    public const string PaymentPending = "payment_pending";
    /// <summary>The cart joined an open recovery case of the same shopper (same items, abandoned minutes apart).</summary>
    public const string DuplicateCase = "duplicate_case";
    /// <summary>Every channel the shopper consented to for the step was retired by a hard bounce or a complaint.</summary>
    public const string ChannelBlocked = "channel_blocked";
    /// <summary>The cart's risk score is below the step's min_score.</summary>
    public const string ScoreBelowThreshold = "score_below_threshold";
    /// <summary>The session was eligible for a proactive chat and falls in the chat holdout (proactive_assist.holdout_share).</summary>
    public const string ChatHoldout = "chat_holdout";
    /// <summary>A browse-abandonment message not sent: the shopper put something in a cart (any session) since the browsing began.</summary>
    public const string CartAdded = "cart_added";
    /// <summary>A browse-abandonment or win-back message not sent: a cart recovery case of the shopper is running (its reminders come first).</summary>
    public const string RecoveryCaseOpen = "recovery_case_open";
    /// <summary>A browse-abandonment message not sent: another message (a cart reminder) went to the shopper since the browsing began.</summary>
    public const string MessageSentSince = "message_sent_since";
}

public static class DecisionReason
{
    public const string InactivityTimeout = "inactivity_timeout";
    public const string ExplicitExit = "explicit_exit";
    public const string QuietHours = "quiet_hours";
    public const string ReminderStep = "reminder_step";
    public const string CheckoutIdle = "checkout_idle";
    public const string RepeatedPaymentFailures = "repeated_payment_failures";
    /// <summary>A proactive chat: the storefront refused the shopper's promo code (<c>promo_code_rejected</c>) and the cart's
    /// score was at least <c>proactive_assist.promo_code_failure.min_score</c>.</summary>
    public const string PromoCodeRejected = "promo_code_rejected";
    public const string OrderVoidsIncentive = "order_voids_incentive";
    public const string IncentiveExpired = "incentive_expired";
    /// <summary>An event whose event_id was already applied (at-least-once delivery).</summary>
    public const string Redelivered = "redelivered";
    /// <summary>A session event older than the session's abandonment or end: applied to the cart, but it is not the
    /// shopper coming back.</summary>
    public const string BeforeAbandonment = "before_abandonment";
    /// <summary>A session event after the abandonment but older than a reminder already sent for it: applied to the cart,
    /// but the case goes on (resuming and abandoning again would send that step a second time).</summary>
    public const string BeforeLastReminder = "before_last_reminder";
    public const string BeyondAllowedLateness = "beyond_allowed_lateness";
    /// <summary>A <c>future_event</c>: its event time is more than <c>max_future_skew</c> ahead of the partition's frontier.</summary>
    public const string EventTimeAhead = "event_time_ahead";
    /// <summary>A browse-abandonment message: the shopper viewed a category, carted nothing and went quiet for the policy's delay.</summary>
    public const string BrowseAbandonment = "browse_abandonment";
    /// <summary>A win-back message: the customer's profile turned at risk.</summary>
    public const string TurnedAtRisk = "turned_at_risk";
    /// <summary>A survey invitation: the recovery case ended without an order (policy <c>survey_invitation</c>).</summary>
    public const string CaseEnded = "case_ended";
}

/// <summary>What a deadline is for. <see cref="WinBack"/> and <see cref="SurveyInvitation"/> belong to the shopper, not to a session
/// (<see cref="RecoveryEngine.ShopperDeadline"/>).</summary>
public enum DeadlineKind { ProactiveAssist, Inactivity, ReminderStep, IncentiveExpiry, BrowseAbandonment, WinBack, SurveyInvitation }

/// <summary>An event-time instant at which a session must be looked at again. Eager deadlines fire on the
/// partition's max event time (proactive assist), the others on the settled watermark.</summary>
public readonly record struct Deadline(DateTimeOffset At, DeadlineKind Kind)
{
    public bool Eager => Kind == DeadlineKind.ProactiveAssist;
}
