using System.Text.Json.Nodes;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>One valid record of every input event type, as JSON, with the topic it belongs on: the seeds that hostile-input
/// tests mutate field by field.</summary>
internal static class ValidEvents
{
    private const string Head = "\"event_id\":\"e1\",\"shopper_id\":\"s1\",\"event_time\":\"2026-11-23T10:00:00Z\"";
    private const string Session = Head + ",\"session_id\":\"v1\"";
    private const string Line = "{\"sku\":\"A\",\"name\":\"Mug\",\"unit_price\":12.5,\"quantity\":2}";
    private const string Consent = Head + ",\"purpose\":\"cart_recovery\",\"channel\":\"email\",\"source\":\"checkout_form\",\"wording_version\":\"v3\"";

    public static readonly IReadOnlyList<(string Topic, string Json)> All =
    [
        ("cart-events", $$"""{"type":"session_started",{{Session}},"time_zone":"Europe/Berlin","currency":"EUR"}"""),
        ("cart-events", $$"""{"type":"product_viewed",{{Session}},"sku":"A","unit_price":12.5,"category":"home.kitchen"}"""),
        ("cart-events", $$"""{"type":"cart_line_added",{{Session}},"line":{{Line}},"currency":"EUR"}"""),
        ("cart-events", $$"""{"type":"cart_line_removed",{{Session}},"sku":"A"}"""),
        ("cart-events", $$"""{"type":"cart_line_updated",{{Session}},"sku":"A","quantity":3}"""),
        ("cart-events", $$"""{"type":"checkout_started",{{Session}}}"""),
        ("cart-events", $$"""{"type":"checkout_step_completed",{{Session}},"step":"shipping"}"""),
        ("cart-events", $$"""{"type":"payment_failed",{{Session}},"error_code":"card_declined"}"""),
        ("cart-events", $$"""{"type":"session_exited",{{Session}}}"""),
        ("order-events", $$"""{"type":"order_placed",{{Session}},"order_id":"o1","lines":[{{Line}}],"total":25,"currency":"EUR"}"""),
        ("order-events", $$"""{"type":"payment_authorized",{{Session}},"order_id":"o1","amount":25}"""),
        ("order-events", $$"""{"type":"payment_pending",{{Head}},"order_id":"o1","amount":25,"currency":"EUR"}"""),
        ("consent-events", $$"""{"type":"consent_granted",{{Consent}},"valid_until":"2027-11-23T10:00:00Z"}"""),
        ("consent-events", $$"""{"type":"consent_withdrawn",{{Consent}}}"""),
        ("consent-events", $$"""{"type":"unsubscribed",{{Consent}}}"""),
        ("consent-events", $$"""{"type":"erasure_requested",{{Head}},"source":"privacy_portal"}"""),
        ("cart-events", """{"type":"identity_linked","event_id":"e1","shopper_id":"anon-1","event_time":"2026-11-23T10:00:00Z","anonymous_id":"anon-1","customer_id":"s1","source":"login","session_id":"v1"}"""),
        ("cart-events", "{\"type\":\"identity_merged\"," + Head + ""","anonymous_id":"anon-1","customer_id":"s1","link_event_id":"l1","hops":0,"state":{}}"""),
        ("cart-events", "{\"type\":\"identity_forwarded\"," + Head + ""","anonymous_id":"anon-1","hops":1,"event":{"type":"checkout_started","event_id":"e0","shopper_id":"anon-1","event_time":"2026-11-23T10:00:00Z","session_id":"v1"}}"""),
        ("outcome-events", $$"""{"type":"message_delivered",{{Head}},"trigger_id":"t1","channel":"email"}"""),
        ("outcome-events", $$"""{"type":"message_opened",{{Head}},"trigger_id":"t1","channel":"email"}"""),
        ("outcome-events", $$"""{"type":"message_clicked",{{Head}},"trigger_id":"t1","channel":"email"}"""),
        ("outcome-events", $$"""{"type":"message_bounced",{{Head}},"trigger_id":"t1","channel":"email","bounce_type":"hard"}"""),
        ("outcome-events", $$"""{"type":"message_complained",{{Head}},"trigger_id":"t1","channel":"email"}"""),
        ("outcome-events", $$"""{"type":"chat_accepted",{{Head}},"trigger_id":"t1","session_id":"v1"}"""),
        ("outcome-events", $$"""{"type":"chat_resolved",{{Head}},"trigger_id":"t1","resolved_first_contact":true,"satisfaction":4}"""),
        ("outcome-events", $$"""{"type":"survey_answered",{{Head}},"trigger_id":"t1","reason":"price","free_text":"too dear"}"""),
    ];

    public static IEnumerable<object[]> Types() => All.Select(e => new object[] { TypeOf(e.Json) });

    public static string Json(string type) => All.Single(e => TypeOf(e.Json) == type).Json;

    public static string TypeOf(string json) => (string)JsonNode.Parse(json)!["type"]!;

    /// <summary>The event with one top-level field set to a value (raw JSON), or removed (null).</summary>
    public static string With(string json, string field, string? rawValue)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        if (rawValue is null) node.Remove(field);
        else node[field] = JsonNode.Parse(rawValue);
        return node.ToJsonString();
    }
}
