namespace CartRecovery.Domain.Decisions;

/// <summary>Reason codes of audit rows. Stable strings: analysts and auditors filter on them.</summary>
public static class SuppressionReason
{
    public const string OrderPlaced = "order_placed";
    public const string CartEmptied = "cart_emptied";
    public const string ItemsAlreadyBought = "items_already_bought";
    public const string NoConsent = "no_consent";
    public const string ConsentWithdrawn = "consent_withdrawn";
    public const string CapPerCart = "cap_per_cart";
    public const string CapPerShopper = "cap_per_shopper";
    public const string Holdout = "holdout";
    public const string SessionResumed = "session_resumed";
}

public static class DecisionReason
{
    public const string InactivityTimeout = "inactivity_timeout";
    public const string ExplicitExit = "explicit_exit";
    public const string QuietHours = "quiet_hours";
    public const string ReminderStep = "reminder_step";
    public const string CheckoutIdle = "checkout_idle";
    public const string RepeatedPaymentFailures = "repeated_payment_failures";
    public const string OrderVoidsIncentive = "order_voids_incentive";
    public const string BeyondAllowedLateness = "beyond_allowed_lateness";
}

public enum DeadlineKind { ProactiveAssist, Inactivity, ReminderStep }

/// <summary>An event-time instant at which a session must be looked at again. Eager deadlines fire on the
/// partition's max event time (proactive assist), the others on the settled watermark.</summary>
public readonly record struct Deadline(DateTimeOffset At, DeadlineKind Kind)
{
    public bool Eager => Kind == DeadlineKind.ProactiveAssist;
}
