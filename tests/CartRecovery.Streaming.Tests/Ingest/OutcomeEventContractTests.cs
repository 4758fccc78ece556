using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>The outcome events of outcome-events: each type parses, its enumerated fields are normalised or rejected as
/// invalid_field naming the field (never echoing a value: the survey's free text is personal), and they belong on
/// outcome-events only.</summary>
public sealed class OutcomeEventContractTests
{
    private const string Head = "\"type\":\"{0}\",\"event_id\":\"o1\",\"shopper_id\":\"cust-1\",\"event_time\":\"2026-03-02T12:10:00Z\"";

    private static ParseResult Parse(string type, string fields) =>
        EventParser.Parse("{" + string.Format(Head, type) + (fields.Length > 0 ? "," + fields : "") + "}");

    [Theory]
    [InlineData("message_delivered", typeof(MessageDelivered))]
    [InlineData("message_opened", typeof(MessageOpened))]
    [InlineData("message_clicked", typeof(MessageClicked))]
    [InlineData("message_bounced", typeof(MessageBounced))]
    [InlineData("message_complained", typeof(MessageComplained))]
    public void Message_outcomes_parse_with_trigger_and_normalised_channel(string type, Type expected)
    {
        var result = Parse(type, "\"trigger_id\":\"t1\",\"channel\":\" Email \"");

        var message = Assert.IsAssignableFrom<MessageOutcome>(result.Event);
        Assert.IsType(expected, message);
        Assert.Equal(("t1", "email", (string?)null), (message.TriggerId, message.Channel, message.SessionId));
        Assert.Equal(type, OutcomeTypes.Of(message));
        Assert.True(EventParser.BelongsOn(message, Topics.OutcomeEvents));
        Assert.All(new[] { Topics.CartEvents, Topics.OrderEvents, Topics.ConsentEvents }, topic => Assert.False(EventParser.BelongsOn(message, topic)));
    }

    [Theory]
    [InlineData("message_opened", "\"trigger_id\":\"t1\",\"channel\":\"whatsapp\"", "invalid_field", "channel")]
    [InlineData("message_opened", "\"trigger_id\":\"t1\",\"channel\":\"chat\"", "invalid_field", "channel")]
    [InlineData("message_opened", "\"trigger_id\":\"\",\"channel\":\"sms\"", "invalid_field", "trigger_id")]
    [InlineData("message_opened", "\"channel\":\"sms\"", "missing_field", "trigger_id")]
    [InlineData("message_clicked", "\"trigger_id\":\"t1\"", "missing_field", "channel")]
    [InlineData("message_bounced", "\"trigger_id\":\"t1\",\"channel\":\"sms\",\"bounce_type\":\"bouncy\"", "invalid_field", "bounce_type")]
    [InlineData("message_delivered", "\"trigger_id\":\"t1\",\"channel\":\"sms\",\"session_id\":\"\"", "invalid_field", "session_id")]
    [InlineData("chat_accepted", "", "missing_field", "trigger_id")]
    [InlineData("chat_resolved", "\"trigger_id\":\"c1\"", "missing_field", "resolved_first_contact")]
    [InlineData("chat_resolved", "\"trigger_id\":\"c1\",\"resolved_first_contact\":true,\"satisfaction\":9", "invalid_field", "satisfaction")]
    [InlineData("survey_answered", "\"reason\":\"price\"", "invalid_field", "trigger_id")]
    [InlineData("survey_answered", "\"trigger_id\":\"t1\",\"reason\":\"too expensive\"", "invalid_field", "reason")]
    [InlineData("survey_answered", "\"trigger_id\":\"t1\"", "missing_field", "reason")]
    [InlineData("survey_answered", "\"trigger_id\":\"\",\"session_id\":\"s1\",\"reason\":\"price\"", "invalid_field", "trigger_id")]
    public void Invalid_outcomes_are_rejected_naming_the_field(string type, string fields, string reason, string field)
    {
        var result = Parse(type, fields);

        Assert.False(result.IsValid);
        Assert.Equal(reason, result.RejectReason);
        Assert.Contains(field, result.Detail);
    }

    [Fact]
    public void A_bounce_type_is_normalised_and_may_be_left_out()
    {
        var hard = Assert.IsType<MessageBounced>(Parse("message_bounced", "\"trigger_id\":\"t1\",\"channel\":\"email\",\"bounce_type\":\"HARD\"").Event);
        var unknown = Assert.IsType<MessageBounced>(Parse("message_bounced", "\"trigger_id\":\"t1\",\"channel\":\"email\"").Event);

        Assert.Equal("hard", hard.BounceType);
        Assert.Null(unknown.BounceType);
    }

    [Fact]
    public void Chat_outcomes_carry_the_chat_trigger_resolution_and_satisfaction()
    {
        var accepted = Assert.IsType<ChatAccepted>(Parse("chat_accepted", "\"trigger_id\":\"c1\",\"session_id\":\"s1\"").Event);
        var resolved = Assert.IsType<ChatResolved>(Parse("chat_resolved", "\"trigger_id\":\"c1\",\"resolved_first_contact\":false,\"satisfaction\":4").Event);

        Assert.Equal(("c1", "s1"), (accepted.TriggerId, accepted.SessionId));
        Assert.Equal(("c1", false, (int?)4), (resolved.TriggerId, resolved.ResolvedFirstContact, resolved.Satisfaction));
    }

    [Theory]
    [InlineData("\"trigger_id\":\"t1\",\"reason\":\"Shipping_Cost\"", "t1", null, "shipping_cost")]
    [InlineData("\"session_id\":\"s1\",\"reason\":\"just_browsing\"", null, "s1", "just_browsing")]
    public void A_survey_answer_names_its_case_by_trigger_or_session_and_a_known_reason(string fields, string? trigger, string? session, string reason)
    {
        var survey = Assert.IsType<SurveyAnswered>(Parse("survey_answered", fields).Event);

        Assert.Equal((trigger, session, reason), (survey.TriggerId, survey.SessionId, survey.Reason));
    }

    [Fact]
    public void Survey_free_text_is_kept_but_never_echoed_in_a_rejection()
    {
        const string secret = "my address is 12 Secret Street";
        var kept = Assert.IsType<SurveyAnswered>(Parse("survey_answered", $"\"trigger_id\":\"t1\",\"reason\":\"other\",\"free_text\":\"{secret}\"").Event);
        var tooLong = Parse("survey_answered", $"\"trigger_id\":\"t1\",\"reason\":\"other\",\"free_text\":\"{secret}{new string('x', OutcomeRules.MaxFreeTextLength)}\"");
        var badReason = Parse("survey_answered", $"\"trigger_id\":\"t1\",\"reason\":\"{secret}\",\"free_text\":\"{secret}\"");

        Assert.Equal(secret, kept.FreeText);
        Assert.Equal("invalid_field", tooLong.RejectReason);
        Assert.StartsWith("free_text", tooLong.Detail);
        Assert.DoesNotContain("Secret", tooLong.Detail);
        Assert.DoesNotContain("Secret", badReason.Detail);
    }

    [Fact]
    public void Outcome_events_round_trip_through_the_one_serializer()
    {
        OutcomeEvent[] events =
        [
            new MessageDelivered { EventId = "a", ShopperId = "s", EventTime = DateTimeOffset.Parse("2026-03-02T12:00:00Z"), TriggerId = "t", Channel = "sms" },
            new MessageBounced { EventId = "b", ShopperId = "s", EventTime = DateTimeOffset.Parse("2026-03-02T12:00:00Z"), TriggerId = "t", Channel = "email", BounceType = "soft" },
            new ChatResolved { EventId = "c", ShopperId = "s", EventTime = DateTimeOffset.Parse("2026-03-02T12:00:00Z"), TriggerId = "t", ResolvedFirstContact = true, Satisfaction = 5 },
            new SurveyAnswered { EventId = "d", ShopperId = "s", EventTime = DateTimeOffset.Parse("2026-03-02T12:00:00Z"), SessionId = "x", Reason = "price", FreeText = "hm" },
        ];
        foreach (var evt in events)
            Assert.Equal(evt, EventParser.Parse(ContractJson.SerializeEvent(evt)).Event);
    }
}
