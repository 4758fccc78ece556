using System.Text.Json;

namespace CartRecovery.Contracts.Events;

/// <summary>
/// The storefront learned that an anonymous device and a known customer are one person (login, sign-up at
/// checkout, an email given). Published on cart-events keyed by the anonymous id (<see cref="ShopperEvent.ShopperId"/>
/// equals <see cref="AnonymousId"/>); from its event time on, both ids are one shopper (docs/events.md, "Identity").
/// </summary>
public sealed record IdentityLinked : ShopperEvent
{
    public required string AnonymousId { get; init; }
    public required string CustomerId { get; init; }
    /// <summary>How the link was learned: login, signup, checkout_email, ...</summary>
    public required string Source { get; init; }
    /// <summary>The session in which it happened, if any (evidence only).</summary>
    public string? SessionId { get; init; }
}

/// <summary>
/// Written by the worker, never by storefronts: the anonymous shopper's state handed over to the customer's key
/// (cart-events, keyed by <see cref="CustomerId"/>) when an <see cref="IdentityLinked"/> is processed. Its
/// <see cref="ShopperEvent.EventId"/> is derived from the link, so a re-delivery after a crash is applied once.
/// </summary>
public sealed record IdentityMerged : ShopperEvent
{
    public required string AnonymousId { get; init; }
    public required string CustomerId { get; init; }
    public required string LinkEventId { get; init; }
    /// <summary>How many times this hand-over was passed on (a customer id that is itself linked onwards); bounded.</summary>
    public int Hops { get; set; }
    /// <summary>The anonymous shopper's policy state and sessions, in the worker's checkpoint format.</summary>
    public required JsonElement State { get; init; }
}

/// <summary>
/// Written by the worker, never by storefronts: an event of an anonymous id that was linked earlier, passed on to
/// the customer's key (cart-events, keyed by <see cref="ShopperEvent.ShopperId"/> = the customer id) so that only
/// the customer's partition decides for the person from the link on.
/// </summary>
public sealed record IdentityForwarded : ShopperEvent
{
    public required string AnonymousId { get; init; }
    public int Hops { get; set; }
    /// <summary>The original event, unchanged (its shopper_id is the anonymous id).</summary>
    public required ShopperEvent Event { get; init; }

    /// <summary>The original event as the customer's.</summary>
    public ShopperEvent AsCustomers() => Event with { ShopperId = ShopperId };
}
