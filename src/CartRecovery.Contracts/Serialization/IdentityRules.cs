using CartRecovery.Contracts.Events;

namespace CartRecovery.Contracts.Serialization;

/// <summary>Entry validation of the identity events (kept beside <see cref="EventParser"/>, which calls it).
/// Details name fields, never values.</summary>
public static class IdentityRules
{
    /// <summary>How often a hand-over or a forwarded event may be passed on (a customer id linked onwards); a longer
    /// chain is a cycle in the links.</summary>
    public const int MaxHops = 4;

    /// <summary>An <c>identity_linked</c> without <c>shopper_id</c>: by definition its shopper is the anonymous id
    /// (the record is keyed by it), so the event is read with <c>shopper_id</c> = <c>anonymous_id</c>. Null for
    /// anything else (the caller reports the original problem).</summary>
    public static byte[]? KeyedByAnonymousId(ReadOnlySpan<byte> utf8)
    {
        try
        {
            // Duplicate keys are refused here as by the typed parse: a JsonObject built over them throws when indexed.
            if (System.Text.Json.Nodes.JsonNode.Parse(utf8, documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false })
                    is not System.Text.Json.Nodes.JsonObject evt
                || evt["type"]?.GetValueKind() != System.Text.Json.JsonValueKind.String || (string?)evt["type"] != "identity_linked"
                || evt.ContainsKey("shopper_id") || evt["anonymous_id"]?.GetValueKind() != System.Text.Json.JsonValueKind.String)
                return null;
            evt["shopper_id"] = (string?)evt["anonymous_id"];
            return System.Text.Encoding.UTF8.GetBytes(evt.ToJsonString());
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            // Not such a link: the caller reports the typed parse's problem.
            return null;
        }
    }

    public static bool IsIdentityEvent(ShopperEvent evt) => evt is IdentityLinked or IdentityMerged or IdentityForwarded;

    /// <summary>Why the event is not valid, or null.</summary>
    public static string? Invalid(ShopperEvent evt) => evt switch
    {
        IdentityLinked link when string.IsNullOrWhiteSpace(link.AnonymousId) => "anonymous_id is empty",
        IdentityLinked link when string.IsNullOrWhiteSpace(link.CustomerId) => "customer_id is empty",
        IdentityLinked link when string.IsNullOrWhiteSpace(link.Source) => "source is empty",
        IdentityLinked link when link.AnonymousId != link.ShopperId && link.CustomerId != link.ShopperId =>
            "shopper_id must be the anonymous_id (the link is keyed by the anonymous id) or the customer_id",
        IdentityLinked link when link.CustomerId == link.AnonymousId => "customer_id must differ from anonymous_id",
        IdentityMerged merged when merged.CustomerId != merged.ShopperId => "customer_id must equal shopper_id",
        IdentityMerged merged when string.IsNullOrWhiteSpace(merged.AnonymousId) || string.IsNullOrWhiteSpace(merged.LinkEventId) => "anonymous_id and link_event_id are required",
        IdentityMerged merged when merged.State.ValueKind != System.Text.Json.JsonValueKind.Object => "state must be an object",
        IdentityMerged { Hops: < 0 or > MaxHops } or IdentityForwarded { Hops: < 0 or > MaxHops } => $"hops must be between 0 and {MaxHops}",
        IdentityForwarded forwarded when forwarded.Event is IdentityMerged or IdentityForwarded => "event must be an input event",
        IdentityForwarded forwarded when forwarded.Event.ShopperId != forwarded.AnonymousId => "event.shopper_id must equal anonymous_id",
        IdentityForwarded forwarded when EventParser.Validate(forwarded.Event) is { IsValid: false } inner => "event: " + inner.Detail,
        _ => null,
    };
}
