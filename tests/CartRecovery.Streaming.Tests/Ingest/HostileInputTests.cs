using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Streaming.Ingest;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>
/// Records that stopped the worker for good (issue 21) and their siblings: whatever the bytes, the parser and the ingest's
/// admission return an event or a reject reason with a detail, never an exception; every value a later computation could
/// overflow on is bounded at entry (<see cref="EntryLimits"/>), and the detail names the field and the limit.
/// </summary>
public sealed class HostileInputTests
{
    private static ParseResult Rejected(string json, string reason = RejectReasons.InvalidField)
    {
        var result = EventParser.Parse(json);
        Assert.Null(result.Event);
        Assert.Equal(reason, result.RejectReason);
        Assert.False(string.IsNullOrWhiteSpace(result.Detail));
        return result;
    }

    [Theory]
    [MemberData(nameof(ValidEvents.Types), MemberType = typeof(ValidEvents))]
    public void Each_seed_event_is_valid_on_its_topic(string type)
    {
        var (topic, json) = ValidEvents.All.Single(e => ValidEvents.TypeOf(e.Json) == type);
        var shopper = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("shopper_id").GetString()!;
        var admitted = IngestValidation.Admit(topic, Encoding.UTF8.GetBytes(shopper), Encoding.UTF8.GetBytes(json));
        Assert.True(admitted.Event is not null, $"{type}: {admitted.Reason} {admitted.Detail}");
    }

    // ---------------------------------------------------------------- null elements

    [Fact]
    public void An_order_whose_lines_hold_null_is_rejected_not_thrown()
    {
        var json = ValidEvents.With(ValidEvents.Json("order_placed"), "lines", "[null]");

        Assert.Equal("lines must not hold null", Rejected(json).Detail);
    }

    [Theory]
    [InlineData("order_placed", "lines", """[{"sku":"A","unit_price":1,"quantity":1},null]""")]
    [InlineData("order_placed", "lines", "[1]")]
    [InlineData("order_placed", "lines", "[[]]")]
    [InlineData("order_placed", "lines", "\"A\"")]
    [InlineData("order_placed", "lines", "null")]
    [InlineData("order_placed", "lines", """[{"sku":null,"unit_price":1,"quantity":1}]""")]
    [InlineData("cart_line_added", "line", "null")]
    [InlineData("cart_line_added", "line", "[]")]
    [InlineData("cart_line_added", "line", """{"sku":"A","name":null,"unit_price":1,"quantity":1}""")]
    [InlineData("identity_forwarded", "event", "null")]
    [InlineData("identity_merged", "state", "null")]
    [InlineData("session_started", "time_zone", "[null]")]
    [InlineData("session_started", "event_id", "null")]
    [InlineData("survey_answered", "free_text", "{}")]
    public void Nulls_and_wrong_shapes_in_any_field_or_collection_are_rejected_with_a_reason(string type, string field, string value)
    {
        var result = EventParser.Parse(ValidEvents.With(ValidEvents.Json(type), field, value));

        Assert.Null(result.Event);
        Assert.Contains(result.RejectReason, new[] { RejectReasons.InvalidField, RejectReasons.MissingField });
        Assert.False(string.IsNullOrWhiteSpace(result.Detail));
    }

    // ---------------------------------------------------------------- duplicate keys

    [Fact]
    public void A_duplicate_key_in_a_record_that_fails_the_typed_parse_is_rejected_not_thrown()
    {
        Rejected("""{"type":"session_started","event_id":"e","event_id":"e"}""");
    }

    [Theory]
    [MemberData(nameof(ValidEvents.Types), MemberType = typeof(ValidEvents))]
    public void A_duplicate_key_in_any_valid_event_is_rejected_naming_it(string type)
    {
        var json = ValidEvents.Json(type);
        var doubled = json.Insert(1, "\"shopper_id\":\"someone-else\",");

        Assert.Contains("duplicate property", Rejected(doubled).Detail);
    }

    [Theory]
    [InlineData("""{"type":"identity_linked","type":"identity_linked","event_id":"e","event_time":"2026-11-23T10:00:00Z","anonymous_id":"a","customer_id":"c","source":"login"}""")]
    [InlineData("""{"type":"identity_linked","event_id":"e","event_time":"2026-11-23T10:00:00Z","anonymous_id":"a","anonymous_id":"b","customer_id":"c","source":"login"}""")]
    [InlineData("""{"type":"order_placed","event_id":"e","shopper_id":"s","session_id":"v","event_time":"2026-11-23T10:00:00Z","order_id":"o","total":1,"lines":[{"sku":"A","sku":"B","unit_price":1,"quantity":1}]}""")]
    public void Duplicate_keys_anywhere_even_in_the_anonymous_link_fallback_are_rejected(string json)
    {
        Rejected(json);
    }

    // ---------------------------------------------------------------- event time window

    [Theory]
    [MemberData(nameof(ValidEvents.Types), MemberType = typeof(ValidEvents))]
    public void An_event_time_outside_the_window_is_rejected_for_every_type(string type)
    {
        foreach (var time in new[] { "0001-01-01T00:01:00Z", "9999-12-31T23:59:00Z", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2099-12-31T23:00:00-05:00" })
        {
            var json = ValidEvents.With(ValidEvents.Json(type), "event_time", $"\"{time}\"");
            Assert.Equal("event_time must be " + EntryLimits.TimeWindow, Rejected(json).Detail);
        }
    }

    [Theory]
    [MemberData(nameof(ValidEvents.Types), MemberType = typeof(ValidEvents))]
    public void The_ends_of_the_window_are_accepted(string type)
    {
        var seed = type == "consent_granted" ? ValidEvents.With(ValidEvents.Json(type), "valid_until", null) : ValidEvents.Json(type);
        foreach (var time in new[] { "2000-01-01T00:00:00Z", "2099-12-31T23:59:59Z" })
        {
            var result = EventParser.Parse(ValidEvents.With(seed, "event_time", $"\"{time}\""));
            Assert.True(result.IsValid, $"{type} at {time}: {result.Detail}");
        }
    }

    [Theory]
    [InlineData("9999-12-31T23:59:00Z")]
    [InlineData("2100-01-01T00:00:00Z")]
    public void A_consent_valid_until_past_the_window_is_rejected(string until)
    {
        var json = ValidEvents.With(ValidEvents.Json("consent_granted"), "valid_until", $"\"{until}\"");

        Assert.StartsWith("valid_until must be between", Rejected(json).Detail);
    }

    [Fact]
    public void A_forwarded_event_whose_inner_event_time_is_outside_the_window_is_rejected()
    {
        var json = ValidEvents.Json("identity_forwarded").Replace("\"event_id\":\"e0\",\"shopper_id\":\"anon-1\",\"event_time\":\"2026-11-23T10:00:00Z\"",
            "\"event_id\":\"e0\",\"shopper_id\":\"anon-1\",\"event_time\":\"9999-12-31T23:59:00Z\"");

        Assert.Contains("event_time must be between", Rejected(json).Detail);
    }

    // ---------------------------------------------------------------- amounts, quantities, counts

    [Fact]
    public void A_line_whose_total_would_pass_decimal_is_rejected_at_entry()
    {
        var json = ValidEvents.With(ValidEvents.Json("cart_line_added"), "line", """{"sku":"gold","name":"Gold","unit_price":1e28,"quantity":10}""");

        Assert.Equal($"line needs unit_price between 0 and {EntryLimits.MaxUnitPrice}", Rejected(json).Detail);
    }

    [Theory]
    [InlineData("cart_line_added", "line", """{"sku":"A","unit_price":1000000000.01,"quantity":1}""", "line needs unit_price between 0 and 1000000000")]
    [InlineData("cart_line_added", "line", """{"sku":"A","unit_price":1,"quantity":100001}""", "line needs quantity between 1 and 100000")]
    [InlineData("cart_line_added", "line", """{"sku":"A","unit_price":1,"quantity":0}""", "line needs quantity between 1 and 100000")]
    [InlineData("order_placed", "lines", """[{"sku":"A","unit_price":1e28,"quantity":10}]""", "lines needs unit_price between 0 and 1000000000")]
    [InlineData("order_placed", "total", "1e28", "total must be between 0 and 1000000000000")]
    [InlineData("order_placed", "total", "-0.01", "total must be between 0 and 1000000000000")]
    [InlineData("payment_authorized", "amount", "1000000000000.5", "amount must be between 0 and 1000000000000")]
    [InlineData("payment_pending", "amount", "79228162514264337593543950335", "amount must be between 0 and 1000000000000")]
    [InlineData("product_viewed", "unit_price", "1e20", "unit_price must be between 0 and 1000000000")]
    [InlineData("cart_line_updated", "quantity", "2147483647", "quantity must be between 0 and 100000")]
    public void Amounts_and_quantities_past_their_limits_are_rejected_naming_field_and_limit(string type, string field, string value, string detail)
    {
        Assert.Equal(detail, Rejected(ValidEvents.With(ValidEvents.Json(type), field, value)).Detail);
    }

    [Theory]
    [InlineData("cart_line_added", "line", """{"sku":"A","unit_price":1e400,"quantity":1}""")]
    [InlineData("cart_line_added", "line", """{"sku":"A","unit_price":1,"quantity":1e10}""")]
    [InlineData("cart_line_added", "line", """{"sku":"A","unit_price":1,"quantity":2.5}""")]
    [InlineData("order_placed", "total", "123456789012345678901234567890123456789")]
    [InlineData("chat_resolved", "satisfaction", "99999999999")]
    [InlineData("identity_merged", "hops", "-99999999999")]
    [InlineData("session_started", "schema_version", "1e999")]
    public void Numbers_past_their_type_are_rejected_as_a_bad_value(string type, string field, string value)
    {
        Assert.StartsWith("bad value at $", Rejected(ValidEvents.With(ValidEvents.Json(type), field, value)).Detail);
    }

    [Fact]
    public void An_order_with_more_lines_than_the_limit_is_rejected()
    {
        var line = """{"sku":"A","unit_price":1,"quantity":1}""";
        var lines = "[" + string.Join(",", Enumerable.Repeat(line, EntryLimits.MaxOrderLines + 1)) + "]";

        Assert.Equal($"lines has more than {EntryLimits.MaxOrderLines} lines", Rejected(ValidEvents.With(ValidEvents.Json("order_placed"), "lines", lines)).Detail);
        var atLimit = "[" + string.Join(",", Enumerable.Repeat(line, EntryLimits.MaxOrderLines)) + "]";
        Assert.True(EventParser.Parse(ValidEvents.With(ValidEvents.Json("order_placed"), "lines", atLimit)).IsValid);
    }

    // ---------------------------------------------------------------- string lengths

    public static IEnumerable<object[]> IdFields() =>
    [
        ["checkout_started", "event_id"], ["consent_granted", "shopper_id"], ["session_started", "session_id"], ["product_viewed", "sku"],
        ["cart_line_removed", "sku"], ["cart_line_updated", "sku"], ["payment_failed", "error_code"], ["order_placed", "order_id"],
        ["payment_authorized", "order_id"], ["payment_pending", "order_id"], ["consent_withdrawn", "source"], ["unsubscribed", "wording_version"],
        ["identity_merged", "link_event_id"], ["identity_forwarded", "anonymous_id"], ["message_delivered", "trigger_id"], ["chat_accepted", "session_id"],
        ["session_started", "time_zone"],
    ];

    [Theory]
    [MemberData(nameof(IdFields))]
    public void An_id_or_free_code_longer_than_the_limit_is_rejected_naming_field_and_limit(string type, string field)
    {
        var json = ValidEvents.With(ValidEvents.Json(type), field, $"\"{new string('x', EntryLimits.MaxIdLength + 1)}\"");

        Assert.Equal($"{field} is longer than {EntryLimits.MaxIdLength} characters", Rejected(json).Detail);
    }

    [Fact]
    public void Line_sku_and_name_are_bounded_and_the_limits_themselves_pass()
    {
        string Line(int sku, int name) => $$"""{"sku":"{{new string('s', sku)}}","name":"{{new string('n', name)}}","unit_price":1,"quantity":1}""";
        var added = ValidEvents.Json("cart_line_added");

        Assert.True(EventParser.Parse(ValidEvents.With(added, "line", Line(EntryLimits.MaxIdLength, EntryLimits.MaxNameLength))).IsValid);
        Assert.Equal("line needs a sku of at most 256 characters", Rejected(ValidEvents.With(added, "line", Line(EntryLimits.MaxIdLength + 1, 1))).Detail);
        Assert.Equal("line needs a name of at most 1024 characters", Rejected(ValidEvents.With(added, "line", Line(1, EntryLimits.MaxNameLength + 1))).Detail);
        Assert.Equal("lines needs a sku of at most 256 characters",
            Rejected(ValidEvents.With(ValidEvents.Json("order_placed"), "lines", $"[{Line(EntryLimits.MaxIdLength + 1, 1)}]")).Detail);
    }

    // ---------------------------------------------------------------- byte shapes

    public static IEnumerable<object[]> Shapes() =>
    [
        [Array.Empty<byte>()], ["   \r\n\t"u8.ToArray()], ["[]"u8.ToArray()], ["[{\"type\":\"checkout_started\"}]"u8.ToArray()], ["\"text\""u8.ToArray()],
        ["42"u8.ToArray()], ["null"u8.ToArray()], ["true"u8.ToArray()], ["{"u8.ToArray()], ["{}"u8.ToArray()], [new byte[] { 0 }],
        [new byte[] { 0xEF, 0xBB, 0xBF }], [new byte[] { 0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00 }],
        [Encoding.UTF8.GetBytes(new string('[', 10_000))], [Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100))],
        [Encoding.UTF8.GetBytes("{\"type\":\"session_started\",\"event_id\":" + new string('{', 5_000))],
        [Encoding.UTF8.GetBytes("{\"type\":\"checkout_started\",\"x\":" + string.Concat(Enumerable.Repeat("{\"a\":", 80)) + "1" + new string('}', 80) + "}")],
        [Encoding.UTF8.GetBytes("{\"type\":\"checkout_started\",\"event_id\":\"e\",\"shopper_id\":\"s\",\"session_id\":\"v\",\"event_time\":\"2026-11-23T10:00:00Z\",\"schema_version\":" + new string('9', 20_000) + "}")],
        [(byte[])[.. "{\"type\":\"checkout_started\",\"event_id\":\""u8, 0xC3, 0x28, .. "\",\"shopper_id\":\"s\",\"session_id\":\"v\",\"event_time\":\"2026-11-23T10:00:00Z\"}"u8]],
        [(byte[])[.. "{\"type\":\"checkout_started\",\"event_id\":\""u8, 0xED, 0xA0, 0x80, .. "\"}"u8]],
        ["{\"type\":\"checkout_started\",\"event_id\":\"\\ud800\",\"shopper_id\":\"s\",\"session_id\":\"v\",\"event_time\":\"2026-11-23T10:00:00Z\"}"u8.ToArray()],
        ["{\"type\":\"checkout_started\",\"event_id\":\"e\",\"shopper_id\":\"s\",\"session_id\":\"v\",\"event_time\":\"\\u0032026-11-23T10:00:00\"}"u8.ToArray()],
        ["{\"type\":1}"u8.ToArray()], ["{\"type\":null}"u8.ToArray()], ["{\"type\":{\"type\":\"order_placed\"}}"u8.ToArray()],
        ["{\"$type\":\"order_placed\",\"$id\":\"1\",\"$ref\":\"1\"}"u8.ToArray()],
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Any_byte_shape_is_a_reject_with_a_reason_never_an_exception(byte[] payload)
    {
        var result = EventParser.Parse(payload);

        Assert.Null(result.Event);
        Assert.False(string.IsNullOrWhiteSpace(result.RejectReason));
        Assert.False(string.IsNullOrWhiteSpace(result.Detail));
        Assert.DoesNotContain("unreadable record", result.Detail);
    }

    [Fact]
    public void A_byte_order_mark_before_a_valid_event_is_ignored()
    {
        byte[] payload = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(ValidEvents.Json("checkout_started"))];

        Assert.IsType<CheckoutStarted>(EventParser.Parse(payload).Event);
    }

    [Theory]
    [InlineData("[")]
    [InlineData("{\"a\":")]
    public void Nesting_past_the_readers_depth_is_named_as_such(string level)
    {
        var json = "{\"type\":\"checkout_started\",\"x\":" + string.Concat(Enumerable.Repeat(level, 5_000));

        Assert.Equal((RejectReasons.NotJson, "nested deeper than 64 levels"), (EventParser.Parse(json).RejectReason, EventParser.Parse(json).Detail));
    }

    [Fact]
    public void Invalid_utf8_is_named_as_such()
    {
        byte[] payload = [.. "{\"type\":\"checkout_started\",\"event_id\":\""u8, 0xC3, 0x28, .. "\"}"u8];

        var result = EventParser.Parse(payload);

        Assert.Equal((RejectReasons.NotJson, "not valid UTF-8"), (result.RejectReason, result.Detail));
    }

    // ---------------------------------------------------------------- the ingest's admission

    [Fact]
    public void The_ingest_admits_an_event_only_on_its_topic_under_its_shoppers_key()
    {
        var payload = Encoding.UTF8.GetBytes(ValidEvents.Json("checkout_started"));

        Assert.NotNull(IngestValidation.Admit(Topics.CartEvents, "s1"u8.ToArray(), payload).Event);
        Assert.Equal(RejectReasons.MissingField, IngestValidation.Admit(Topics.CartEvents, null, payload).Reason);
        Assert.Equal(RejectReasons.WrongTopic, IngestValidation.Admit(Topics.ConsentEvents, "s1"u8.ToArray(), payload).Reason);
        Assert.Equal(RejectReasons.KeyMismatch, IngestValidation.Admit(Topics.CartEvents, "s2"u8.ToArray(), payload).Reason);
        Assert.Equal(RejectReasons.InvalidField,
            IngestValidation.Admit(Topics.OrderEvents, "s1"u8.ToArray(), Encoding.UTF8.GetBytes(ValidEvents.With(ValidEvents.Json("order_placed"), "lines", "[null]"))).Reason);
    }
}
