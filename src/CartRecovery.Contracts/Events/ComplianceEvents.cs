namespace CartRecovery.Contracts.Events;

/// <summary>
/// The shopper asked for their personal data to be erased (right to erasure), on consent-events. The worker forgets
/// the shopper's state (sessions, carts, consent, caps), its checkpoints no longer hold them, and the analytics store's
/// rows of the shopper are pseudonymised or cleared (docs/compliance.md). Later events of the same id start from nothing.
/// </summary>
public sealed record ErasureRequested : ShopperEvent
{
    /// <summary>Where the request came from: privacy_portal, support, operator, ... (a code).</summary>
    public required string Source { get; init; }
}
