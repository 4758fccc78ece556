using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>erasure_requested and a consent's valid_until are validated at entry like every other field.</summary>
public sealed class ComplianceEventContractTests
{
    private const string Head = "\"type\":\"{0}\",\"event_id\":\"e1\",\"shopper_id\":\"jane@example.com\",\"event_time\":\"2026-03-02T12:10:00Z\"";

    private static ParseResult Parse(string type, string fields) =>
        EventParser.Parse("{" + string.Format(Head, type) + (fields.Length > 0 ? "," + fields : "") + "}");

    private const string Grant = "\"purpose\":\"cart_recovery\",\"channel\":\"email\",\"source\":\"checkout_form\",\"wording_version\":\"v3\"";

    [Fact]
    public void An_erasure_request_is_a_consent_event_topic_record_with_a_normalised_source()
    {
        var erasure = Assert.IsType<ErasureRequested>(Parse("erasure_requested", "\"source\":\"Privacy_Portal\"").Event);
        Assert.Equal(("jane@example.com", "privacy_portal"), (erasure.ShopperId, erasure.Source));
        Assert.True(EventParser.BelongsOn(erasure, Topics.ConsentEvents));
        Assert.False(EventParser.BelongsOn(erasure, Topics.CartEvents));
    }

    [Theory]
    [InlineData("", RejectReasons.MissingField, "source")]
    [InlineData("\"source\":\"privacy portal\"", RejectReasons.InvalidField, "source")]
    public void An_erasure_request_without_a_valid_source_is_rejected_naming_it(string fields, string reason, string field)
    {
        var result = Parse("erasure_requested", fields);
        Assert.Equal(reason, result.RejectReason);
        Assert.Contains(field, result.Detail);
        Assert.DoesNotContain("jane", result.Detail);
    }

    [Fact]
    public void A_grant_may_carry_valid_until()
    {
        var grant = Assert.IsType<ConsentGranted>(Parse("consent_granted", Grant + ",\"valid_until\":\"2026-06-01T00:00:00+02:00\"").Event);
        Assert.Equal(new DateTimeOffset(2026, 5, 31, 22, 0, 0, TimeSpan.Zero), grant.ValidUntil);
        Assert.Null(Assert.IsType<ConsentGranted>(Parse("consent_granted", Grant).Event).ValidUntil);
    }

    [Theory]
    [InlineData("consent_granted", "\"valid_until\":\"2026-03-02T12:10:00Z\"", "valid_until must be after event_time")]
    [InlineData("consent_granted", "\"valid_until\":\"2026-06-01T00:00:00\"", "valid_until must carry its UTC offset")]
    [InlineData("unsubscribed", "\"valid_until\":\"2026-06-01T00:00:00Z\"", "valid_until is only allowed on consent_granted")]
    [InlineData("consent_granted", "\"valid_until\":\"next year\"", "valid_until")]
    public void A_bad_valid_until_is_rejected_naming_the_field(string type, string field, string detail)
    {
        var result = Parse(type, Grant + "," + field);
        Assert.Equal(RejectReasons.InvalidField, result.RejectReason);
        Assert.Contains(detail, result.Detail);
    }
}
