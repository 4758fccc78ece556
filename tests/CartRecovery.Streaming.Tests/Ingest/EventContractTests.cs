using System.Text;
using System.Text.Json.Nodes;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>The input contract as the ingest sees it: what parses, what is rejected and why, and that the
/// published JSON Schema (docs/events.schema.json) is the one the code exports.</summary>
public sealed class EventContractTests
{
    private const string Added = """
        {"type":"cart_line_added","event_id":"e1","shopper_id":"s1","session_id":"v1","event_time":"2026-11-23T10:00:00Z",
         "channel":"instagram","currency":"EUR","line":{"sku":"A","name":"Mug","unit_price":12.5,"quantity":2}}
        """;

    [Fact]
    public void A_valid_event_parses_with_its_payload_and_the_discriminator_anywhere()
    {
        var moved = """{"event_id":"e1","shopper_id":"s1","session_id":"v1","event_time":"2026-11-23T10:00:00Z","type":"checkout_started"}""";

        var added = Assert.IsType<CartLineAdded>(EventParser.Parse(Added).Event);
        Assert.Equal(("A", 2, 12.5m, "instagram"), (added.Line.Sku, added.Line.Quantity, added.Line.UnitPrice, added.Channel));
        Assert.IsType<CheckoutStarted>(EventParser.Parse(moved).Event);
    }

    [Theory]
    [InlineData("", RejectReasons.NotJson)]
    [InlineData("not json", RejectReasons.NotJson)]
    [InlineData("""{"type":"teleported","event_id":"e","shopper_id":"s","event_time":"2026-11-23T10:00:00Z"}""", RejectReasons.UnknownEventType)]
    [InlineData("""{"event_id":"e","shopper_id":"s","event_time":"2026-11-23T10:00:00Z"}""", RejectReasons.UnknownEventType)]
    [InlineData("""{"type":"checkout_started","shopper_id":"s","session_id":"v","event_time":"2026-11-23T10:00:00Z"}""", RejectReasons.MissingField)]
    [InlineData("""{"type":"checkout_started","event_id":"e","shopper_id":"s","session_id":"v","event_time":"yesterday"}""", RejectReasons.InvalidField)]
    [InlineData("""{"type":"checkout_started","event_id":"e","shopper_id":"","session_id":"v","event_time":"2026-11-23T10:00:00Z"}""", RejectReasons.InvalidField)]
    [InlineData("""{"type":"cart_line_updated","event_id":"e","shopper_id":"s","session_id":"v","event_time":"2026-11-23T10:00:00Z","sku":"A","quantity":-1}""", RejectReasons.InvalidField)]
    [InlineData("""{"type":"checkout_started","schema_version":2,"event_id":"e","shopper_id":"s","session_id":"v","event_time":"2026-11-23T10:00:00Z"}""", RejectReasons.UnsupportedSchemaVersion)]
    public void Malformed_input_is_rejected_with_a_reason_and_never_throws(string json, string reason)
    {
        var result = EventParser.Parse(json);

        Assert.Null(result.Event);
        Assert.Equal(reason, result.RejectReason);
        Assert.False(string.IsNullOrWhiteSpace(result.Detail));
    }

    [Theory]
    [InlineData("""{"type":"payment_pending","event_id":"p1","shopper_id":"s1","event_time":"2026-11-23T10:00:00Z","amount":89.0}""", null)]
    [InlineData("""{"type":"payment_pending","event_id":"p1","shopper_id":"s1","session_id":"v1","order_id":"o1","event_time":"2026-11-23T10:00:00Z","amount":89.0,"currency":"EUR"}""", "v1")]
    public void A_pending_payment_parses_with_an_optional_session_and_belongs_on_the_order_topic(string json, string? session)
    {
        var pending = Assert.IsType<PaymentPending>(EventParser.Parse(json).Event);

        Assert.Equal((89.0m, session), (pending.Amount, pending.SessionId));
        Assert.True(EventParser.BelongsOn(pending, Topics.OrderEvents));
        Assert.False(EventParser.BelongsOn(pending, Topics.CartEvents));
        Assert.False(EventParser.BelongsOn(pending, Topics.ConsentEvents));
    }

    [Theory]
    [InlineData("""{"type":"payment_pending","event_id":"p1","shopper_id":"s1","event_time":"2026-11-23T10:00:00Z"}""", RejectReasons.MissingField)]
    [InlineData("""{"type":"payment_pending","event_id":"p1","shopper_id":"s1","event_time":"2026-11-23T10:00:00Z","amount":-1}""", RejectReasons.InvalidField)]
    [InlineData("""{"type":"payment_pending","event_id":"p1","shopper_id":"s1","session_id":" ","event_time":"2026-11-23T10:00:00Z","amount":1}""", RejectReasons.InvalidField)]
    public void A_bad_pending_payment_is_rejected_with_a_reason(string json, string reason) =>
        Assert.Equal(reason, EventParser.Parse(json).RejectReason);

    [Fact]
    public void Oversized_payloads_are_rejected_before_parsing()
    {
        var huge = Encoding.UTF8.GetBytes(Added.Replace("Mug", new string('x', EventParser.MaxEventBytes)));

        Assert.Equal(RejectReasons.Oversized, EventParser.Parse(huge).RejectReason);
    }

    [Fact]
    public void Reject_details_name_fields_and_never_echo_values()
    {
        var withEmail = """{"type":"checkout_started","event_id":"e","shopper_id":"jane@example.com","session_id":"v","event_time":"nope"}""";

        var result = EventParser.Parse(withEmail);

        Assert.Equal(RejectReasons.InvalidField, result.RejectReason);
        Assert.DoesNotContain("jane@example.com", result.Detail);
        Assert.DoesNotContain("nope", result.Detail);
    }

    [Theory]
    [InlineData("cart-events", true)]
    [InlineData("order-events", false)]
    [InlineData("consent-events", false)]
    public void Each_event_type_belongs_on_one_input_topic(string topic, bool belongs) =>
        Assert.Equal(belongs, EventParser.BelongsOn(EventParser.Parse(Added).Event!, topic));

    [Fact]
    public void The_published_json_schema_is_the_one_the_contract_types_export()
    {
        var published = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "events.schema.json"));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(ContractJson.EventSchema()), JsonNode.Parse(published)),
            "docs/events.schema.json is out of date: regenerate it with `./run.sh schema > docs/events.schema.json`");
    }

    [Fact]
    public void The_schema_lists_every_event_type_of_the_contract()
    {
        var schema = ContractJson.EventSchema();
        foreach (var type in new[] { "session_started", "product_viewed", "cart_line_added", "cart_line_removed", "cart_line_updated",
                     "checkout_started", "checkout_step_completed", "payment_failed", "session_exited", "order_placed", "payment_authorized", "payment_pending",
                     "consent_granted", "consent_withdrawn", "unsubscribed" })
            Assert.Contains($"\"{type}\"", schema);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CartRecovery.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
