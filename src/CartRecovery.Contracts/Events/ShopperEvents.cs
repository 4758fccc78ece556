using System.Text.Json.Serialization;

namespace CartRecovery.Contracts.Events;

/// <summary>
/// Every input event: storefront (cart-events), order/payment (order-events) and consent (consent-events).
/// Keyed on Kafka by <see cref="ShopperId"/>, so one shopper's events from every topic land on the same partition.
/// The JSON discriminator is <c>type</c>; the contract is versioned by <c>schema_version</c> (docs/events.md).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(SessionStarted), "session_started")]
[JsonDerivedType(typeof(ProductViewed), "product_viewed")]
[JsonDerivedType(typeof(CartLineAdded), "cart_line_added")]
[JsonDerivedType(typeof(CartLineRemoved), "cart_line_removed")]
[JsonDerivedType(typeof(CartLineUpdated), "cart_line_updated")]
[JsonDerivedType(typeof(CheckoutStarted), "checkout_started")]
[JsonDerivedType(typeof(CheckoutStepCompleted), "checkout_step_completed")]
[JsonDerivedType(typeof(PaymentFailed), "payment_failed")]
[JsonDerivedType(typeof(PromoCodeRejected), "promo_code_rejected")]
[JsonDerivedType(typeof(SessionExited), "session_exited")]
[JsonDerivedType(typeof(OrderPlaced), "order_placed")]
[JsonDerivedType(typeof(PaymentAuthorized), "payment_authorized")]
[JsonDerivedType(typeof(PaymentPending), "payment_pending")]
[JsonDerivedType(typeof(ConsentGranted), "consent_granted")]
[JsonDerivedType(typeof(ConsentWithdrawn), "consent_withdrawn")]
[JsonDerivedType(typeof(Unsubscribed), "unsubscribed")]
[JsonDerivedType(typeof(ErasureRequested), "erasure_requested")]
[JsonDerivedType(typeof(IdentityLinked), "identity_linked")]
[JsonDerivedType(typeof(IdentityMerged), "identity_merged")]
[JsonDerivedType(typeof(IdentityForwarded), "identity_forwarded")]
[JsonDerivedType(typeof(MessageDelivered), "message_delivered")]
[JsonDerivedType(typeof(MessageOpened), "message_opened")]
[JsonDerivedType(typeof(MessageClicked), "message_clicked")]
[JsonDerivedType(typeof(MessageBounced), "message_bounced")]
[JsonDerivedType(typeof(MessageComplained), "message_complained")]
[JsonDerivedType(typeof(ChatAccepted), "chat_accepted")]
[JsonDerivedType(typeof(ChatResolved), "chat_resolved")]
[JsonDerivedType(typeof(SurveyAnswered), "survey_answered")]
public abstract record ShopperEvent
{
    // Optional members with defaults are settable, not init-only: the System.Text.Json source generator
    // assigns every init-only member in its object initializer, overwriting the default with null or 0
    // when the member is absent from the JSON.
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; set; } = CurrentSchemaVersion;
    public required string EventId { get; init; }
    /// <summary>Logged-in customer id, else the anonymous device id.</summary>
    public required string ShopperId { get; init; }
    public required DateTimeOffset EventTime { get; init; }
}

/// <summary>An event that belongs to one shopping session (storefront and order events).</summary>
public abstract record SessionEvent : ShopperEvent
{
    public required string SessionId { get; init; }
    /// <summary>Channel of origin of the session: web, app, instagram, ...</summary>
    public string Channel { get; set; } = "web";
}

public sealed record CartLine
{
    public required string Sku { get; init; }
    public string Name { get; set; } = "";
    public required decimal UnitPrice { get; init; }
    public required int Quantity { get; init; }
    public decimal Total => UnitPrice * Quantity;
}

public sealed record SessionStarted : SessionEvent
{
    /// <summary>IANA time zone of the shopper, used for quiet hours.</summary>
    public string? TimeZone { get; init; }
    public string? Currency { get; init; }
    public bool ReturningShopper { get; init; }
}

public sealed record ProductViewed : SessionEvent
{
    public required string Sku { get; init; }
    public decimal? UnitPrice { get; init; }
    /// <summary>Optional category code of the product (e.g. <c>electronics.smartphone</c>): feeds the shopper's category interest.</summary>
    public string? Category { get; init; }
}

public sealed record CartLineAdded : SessionEvent
{
    public required CartLine Line { get; init; }
    public string? Currency { get; init; }
    /// <summary>Optional category code of the line's product: feeds the shopper's category interest.</summary>
    public string? Category { get; init; }
}

public sealed record CartLineRemoved : SessionEvent
{
    public required string Sku { get; init; }
}

public sealed record CartLineUpdated : SessionEvent
{
    public required string Sku { get; init; }
    public required int Quantity { get; init; }
}

public sealed record CheckoutStarted : SessionEvent;

public sealed record CheckoutStepCompleted : SessionEvent
{
    /// <summary>shipping, delivery, payment, review ...</summary>
    public required string Step { get; init; }
}

public sealed record PaymentFailed : SessionEvent
{
    public required string ErrorCode { get; init; }
}

/// <summary>
/// The storefront refused a promo code the shopper entered (cart or checkout). Not a <see cref="PaymentFailed"/>: a
/// refused code is no payment attempt, so it neither counts toward the repeated-payment-failure chat nor ends a pending
/// payment's hold; it is a moment of its own (proactive chat, policy <c>proactive_assist.promo_code_failure</c>).
/// </summary>
public sealed record PromoCodeRejected : SessionEvent
{
    /// <summary>Why the code was refused: one of <see cref="PromoCodeRejections.All"/>.</summary>
    public required string Reason { get; init; }
}

/// <summary>The reasons a <see cref="PromoCodeRejected"/> may name. Enumerated, so analysts can count them and a typo in
/// an integration is refused at entry instead of becoming a new reason; <see cref="Other"/> maps any storefront code that
/// is none of these.</summary>
public static class PromoCodeRejections
{
    /// <summary>No such code.</summary>
    public const string Invalid = "invalid";
    public const string Expired = "expired";
    /// <summary>The code exists but not for these items, this shopper or this channel.</summary>
    public const string NotApplicable = "not_applicable";
    /// <summary>The cart is below the code's minimum order value.</summary>
    public const string MinimumNotMet = "minimum_not_met";
    /// <summary>The code was used as often as it may be (by this shopper or by everyone).</summary>
    public const string UsageLimitReached = "usage_limit_reached";
    public const string Other = "other";

    public static readonly IReadOnlyList<string> All = [Invalid, Expired, NotApplicable, MinimumNotMet, UsageLimitReached, Other];
}

/// <summary>An explicit exit signal (tab closed, app backgrounded with a cart).</summary>
public sealed record SessionExited : SessionEvent;

public sealed record OrderPlaced : SessionEvent
{
    public required string OrderId { get; init; }
    public IReadOnlyList<CartLine> Lines { get; set; } = [];
    public required decimal Total { get; init; }
    public string? Currency { get; init; }
}

public sealed record PaymentAuthorized : SessionEvent
{
    public required string OrderId { get; init; }
    public required decimal Amount { get; init; }
}

/// <summary>
/// From the payment processor: a payment of the shopper is under way but not yet authorized (3-D Secure,
/// bank transfer, buy-now-pay-later review). While it is pending, reminders are held so that no message pushes
/// the shopper into a second charge. The processor may not know the storefront session, so <see cref="SessionId"/>
/// is optional: without it the payment holds every cart of the shopper left before it.
/// </summary>
public sealed record PaymentPending : ShopperEvent
{
    public string? SessionId { get; init; }
    public string? OrderId { get; init; }
    public required decimal Amount { get; init; }
    public string? Currency { get; init; }
}

/// <summary>A consent change for one purpose on one channel, with the evidence an auditor asks for.</summary>
public abstract record ConsentEvent : ShopperEvent
{
    /// <summary>e.g. cart_recovery, marketing.</summary>
    public required string Purpose { get; init; }
    /// <summary>email, sms, push.</summary>
    public required string Channel { get; init; }
    /// <summary>Where it was given or taken: checkout_form, preference_center, email_link, ...</summary>
    public string Source { get; set; } = "";
    public string WordingVersion { get; set; } = "";
    /// <summary>When a grant stops being valid (consent given for a limited time); absent: until withdrawn. An expired
    /// consent is no consent (suppression reason <c>consent_expired</c>). Only grants carry it.</summary>
    public DateTimeOffset? ValidUntil { get; init; }
}

public sealed record ConsentGranted : ConsentEvent;
public sealed record ConsentWithdrawn : ConsentEvent;
public sealed record Unsubscribed : ConsentEvent;
