using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>Every enumerated or structured field is validated where input enters: normalised when its meaning is
/// unambiguous, otherwise rejected as invalid_field with the field named (never its value). Nothing is accepted and
/// then silently ignored.</summary>
public sealed class FieldValidationTests
{
    private const string Head = "\"type\":\"{0}\",\"event_id\":\"e1\",\"shopper_id\":\"jane@example.com\",\"event_time\":\"2026-03-02T12:10:00Z\"";

    private static ParseResult Parse(string type, string fields) =>
        EventParser.Parse("{" + string.Format(Head, type) + (fields.Length > 0 ? "," + fields : "") + "}");

    private static string Consent(string purpose, string channel) =>
        $"\"purpose\":\"{purpose}\",\"channel\":\"{channel}\",\"source\":\"email_link\",\"wording_version\":\"v3\"";

    [Theory]
    [InlineData("unsubscribed", "cart_recovery", "Email", "cart_recovery", "email")]      // field case 06b
    [InlineData("consent_withdrawn", "Cart_Recovery", "SMS", "cart_recovery", "sms")]
    [InlineData("consent_granted", " marketing ", "Push", "marketing", "push")]
    [InlineData("unsubscribed", "MARKETING", "ALL", "marketing", "all")]
    public void Consent_purpose_and_channel_are_matched_without_regard_to_case(string type, string purpose, string channel,
        string normalPurpose, string normalChannel)
    {
        var consent = Assert.IsAssignableFrom<ConsentEvent>(Parse(type, Consent(purpose, channel)).Event);

        Assert.Equal((normalPurpose, normalChannel), (consent.Purpose, consent.Channel));
    }

    [Theory]
    [InlineData("cart_recovery", "whatsapp", "channel")]     // not a channel consent can be given on
    [InlineData("cart_recovery", "e-mail", "channel")]
    [InlineData("cart recovery", "email", "purpose")]        // not a code: what would it mean?
    [InlineData("cart_recovery", "", "channel")]
    public void An_unknown_consent_channel_or_a_malformed_purpose_is_rejected_naming_the_field(string purpose, string channel, string field)
    {
        var result = Parse("unsubscribed", Consent(purpose, channel));

        AssertRejected(result, field);
    }

    [Theory]
    [InlineData("\"time_zone\":\"Europe/Berlin\"", "Europe/Berlin")]
    [InlineData("\"time_zone\":\"europe/berlin\"", "Europe/Berlin")]
    [InlineData("\"time_zone\":\"UTC\"", "UTC")]
    public void A_time_zone_is_normalised_to_its_IANA_spelling(string field, string zone)
    {
        var started = Assert.IsType<SessionStarted>(Parse("session_started", "\"session_id\":\"s1\"," + field).Event);

        Assert.Equal(zone, started.TimeZone);
    }

    [Theory]
    [InlineData("session_started", "\"time_zone\":\"Mars/Olympus_Mons\"", "time_zone")]
    [InlineData("session_started", "\"time_zone\":\"\"", "time_zone")]
    [InlineData("session_started", "\"currency\":\"euro\"", "currency")]
    [InlineData("session_started", "\"currency\":\"€\"", "currency")]
    [InlineData("cart_line_added", "\"currency\":\"US$\",\"line\":{\"sku\":\"a\",\"unit_price\":1,\"quantity\":1}", "currency")]
    [InlineData("cart_line_added", "\"line\":{\"sku\":\"a\",\"unit_price\":1,\"quantity\":0}", "line")]
    [InlineData("order_placed", "\"order_id\":\"o1\",\"total\":5,\"currency\":\"12\"", "currency")]
    [InlineData("order_placed", "\"order_id\":\"o1\",\"total\":5,\"lines\":[{\"sku\":\"\",\"unit_price\":5,\"quantity\":1}]", "lines")]
    [InlineData("order_placed", "\"order_id\":\"\",\"total\":5", "order_id")]
    [InlineData("payment_authorized", "\"order_id\":\"o1\",\"amount\":-5", "amount")]
    [InlineData("checkout_step_completed", "\"step\":\"pay ment\"", "step")]
    [InlineData("checkout_started", "\"channel\":\"insta gram\"", "channel")]
    [InlineData("product_viewed", "\"sku\":\"a\",\"unit_price\":-1", "unit_price")]
    [InlineData("payment_failed", "\"error_code\":\"\"", "error_code")]
    public void Malformed_structured_fields_are_rejected_naming_the_field(string type, string fields, string field)
    {
        var result = Parse(type, "\"session_id\":\"s1\"," + fields);

        AssertRejected(result, field);
    }

    [Theory]
    [InlineData("2026-03-02T12:10:00", false)]
    [InlineData("2026-03-02T12:10:00Z", true)]
    [InlineData("2026-03-02T13:10:00+01:00", true)]
    [InlineData("2026-03-02T07:10:00-05:00", true)]
    public void An_event_time_without_its_offset_is_rejected_not_read_as_the_host_s_local_time(string time, bool valid)
    {
        var result = EventParser.Parse($$"""{"type":"checkout_started","event_id":"e1","shopper_id":"s","session_id":"v","event_time":"{{time}}"}""");

        Assert.Equal(valid, result.IsValid);
        if (!valid) AssertRejected(result, "event_time");
        else Assert.Equal(new DateTimeOffset(2026, 3, 2, 12, 10, 0, TimeSpan.Zero), result.Event!.EventTime.ToUniversalTime());
    }

    [Fact]
    public void Codes_of_storefront_events_are_normalised_to_lower_case_and_currencies_to_upper_case()
    {
        var added = Assert.IsType<CartLineAdded>(Parse("cart_line_added",
            "\"session_id\":\"s1\",\"channel\":\"Instagram\",\"currency\":\"usd\",\"line\":{\"sku\":\"a\",\"unit_price\":1,\"quantity\":1}").Event);
        var step = Assert.IsType<CheckoutStepCompleted>(Parse("checkout_step_completed", "\"session_id\":\"s1\",\"step\":\"Payment\"").Event);
        var order = Assert.IsType<OrderPlaced>(Parse("order_placed", "\"session_id\":\"s1\",\"order_id\":\"o1\",\"total\":5,\"currency\":\"gbp\"").Event);

        Assert.Equal(("instagram", "USD"), (added.Channel, added.Currency));
        Assert.Equal("payment", step.Step);
        Assert.Equal("GBP", order.Currency);
    }

    [Fact]
    public void Absent_optional_fields_stay_absent_for_the_domain_to_default_and_audit()
    {
        var started = Assert.IsType<SessionStarted>(Parse("session_started", "\"session_id\":\"s1\"").Event);

        Assert.Null(started.TimeZone);
        Assert.Null(started.Currency);
        Assert.Equal("web", started.Channel); // the contract's documented default channel of origin
    }

    private static void AssertRejected(ParseResult result, string field)
    {
        Assert.Null(result.Event);
        Assert.Equal(RejectReasons.InvalidField, result.RejectReason);
        Assert.StartsWith(field + " ", result.Detail);
        Assert.DoesNotContain("jane@example.com", result.Detail);
    }
}
