using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Assist;

/// <summary>A refused promo code (<c>promo_code_rejected</c>) is a moment of its own: a proactive chat decided on the event,
/// under <c>proactive_assist.promo_code_failure.min_score</c>, with its own reason, once per session like every chat.</summary>
public class PromoCodeChatTests
{
    /// <summary>A typical checkout cart: 80 EUR, one item, in checkout (score about 0.41 under the default weights).</summary>
    private static (ShopperScript Shopper, SessionScript Session) CheckoutCart(decimal value = 80m, bool checkout = true)
    {
        var shopper = new ShopperScript("cust-1", T0) { Spacing = Sec(30) };
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("books-0001", value);
        if (checkout) s1.Checkout();
        return (shopper, s1);
    }

    [Fact]
    public void A_refused_code_on_a_cart_above_the_threshold_gets_a_chat_on_that_event_with_its_own_reason()
    {
        var (shopper, s1) = CheckoutCart();
        var rejected = s1.PromoCodeRejected(PromoCodeRejections.Expired);

        var scenario = new Scenario(Policies.NoHoldout);
        foreach (var evt in shopper.Events)
        {
            scenario.Feed(evt);
            // On the event itself (the payment-failure path): no timer, no watermark to wait for.
            if (evt == rejected) Assert.Single(scenario.Chats);
        }
        scenario.Drain();

        var chat = Assert.Single(scenario.Chats);
        Assert.Equal(DecisionReason.PromoCodeRejected, chat.Reason);
        Assert.Equal(rejected.EventTime, chat.EventTime);
        Assert.Equal(RecoveryEngine.ChatChannel, chat.Channel);
        Assert.True(chat.Score >= 0.4, $"score {chat.Score}");
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered, DecisionReason.PromoCodeRejected));
        Assert.Equal([rejected.EventId], audit.Evidence);
        Assert.Equal(RecoveryEngine.ChatChannel, audit.Channel);
        Assert.StartsWith($"trigger_id={chat.TriggerId} ", audit.Detail);
        Assert.Contains("promo_code_reason=expired", audit.Detail);
        // Not a payment failure: the cart's payment state is untouched.
        Assert.Empty(chat.PaymentErrorCodes);
    }

    [Fact]
    public void A_refused_code_on_a_cart_below_the_threshold_gets_no_chat_and_an_audited_reason()
    {
        var (shopper, s1) = CheckoutCart(value: 15m, checkout: false);   // a small cart still in the cart step: about 0.26
        var rejected = s1.PromoCodeRejected(PromoCodeRejections.Invalid);

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Empty(scenario.Chats);
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ScoreBelowThreshold),
            a => a.Channel == RecoveryEngine.ChatChannel);
        Assert.Equal([rejected.EventId], audit.Evidence);
        Assert.StartsWith(DecisionReason.PromoCodeRejected + " ", audit.Detail);
        Assert.True(audit.Score < 0.4, $"score {audit.Score}");
    }

    [Fact]
    public void The_threshold_is_the_policys_own_and_separate_from_the_other_chats()
    {
        // The same small cart gets a chat once the policy lowers the promo-code threshold, without touching min_cart_value.
        var (shopper, s1) = CheckoutCart(value: 15m, checkout: false);
        s1.PromoCodeRejected(PromoCodeRejections.MinimumNotMet);
        var lowered = Policies.WithoutHoldouts(Policies.Edited(root =>
            root["defaults"]!["proactive_assist"]!["promo_code_failure"]!["min_score"] = 0.2));

        Assert.Equal(DecisionReason.PromoCodeRejected, Assert.Single(Scenario.Play(shopper.Events, lowered).Chats).Reason);
    }

    [Fact]
    public void Only_one_chat_per_session_however_many_codes_fail_or_payments_fail()
    {
        var (shopper, s1) = CheckoutCart(value: 200m);
        var first = s1.PromoCodeRejected(PromoCodeRejections.Invalid);
        s1.PromoCodeRejected(PromoCodeRejections.Expired);
        s1.PaymentFailed("card_declined");
        s1.PaymentFailed("card_declined");

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        var chat = Assert.Single(scenario.Chats);
        Assert.Equal(first.EventTime, chat.EventTime);
        Assert.Equal(DecisionReason.PromoCodeRejected, chat.Reason);
    }

    [Fact]
    public void No_chat_when_promo_code_failure_or_assist_is_off()
    {
        foreach (var edit in new Action<System.Text.Json.Nodes.JsonNode>[]
        {
            root => root["defaults"]!["proactive_assist"]!["promo_code_failure"]!["enabled"] = false,
            root => root["defaults"]!["proactive_assist"]!["enabled"] = false,
            root => root["defaults"]!["proactive_assist"]!.AsObject().Remove("promo_code_failure"),
        })
        {
            var (shopper, s1) = CheckoutCart(value: 200m);
            s1.PromoCodeRejected(PromoCodeRejections.Invalid);
            var scenario = Scenario.Play(shopper.Events, Policies.WithoutHoldouts(Policies.Edited(edit)));
            Assert.DoesNotContain(scenario.Audits, a => a.Reason == DecisionReason.PromoCodeRejected || a.Detail.StartsWith(DecisionReason.PromoCodeRejected, StringComparison.Ordinal));
            Assert.DoesNotContain(scenario.Chats, c => c.Reason == DecisionReason.PromoCodeRejected);
        }
    }

    [Fact]
    public void A_session_in_the_chat_holdout_is_audited_chat_holdout_naming_the_promo_code()
    {
        var policy = Policies.Edited(root => root["defaults"]!["proactive_assist"]!["holdout_share"] = 1.0) with { HoldoutShare = 0 };
        var (shopper, s1) = CheckoutCart(value: 80m);
        s1.PromoCodeRejected(PromoCodeRejections.NotApplicable);

        var scenario = Scenario.Play(shopper.Events, policy);

        Assert.Empty(scenario.Chats);
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ChatHoldout));
        Assert.Contains($"eligible ({DecisionReason.PromoCodeRejected})", audit.Detail);
    }

    [Fact]
    public void A_refused_code_is_not_a_payment_failure()
    {
        // One payment failure and one refused code are not "two payment failures": with the promo chat off, no chat.
        var policy = Policies.WithoutHoldouts(Policies.Edited(root => root["defaults"]!["proactive_assist"]!["promo_code_failure"]!["enabled"] = false));
        var (shopper, s1) = CheckoutCart(value: 50m);
        s1.PaymentFailed("card_declined");
        s1.PromoCodeRejected(PromoCodeRejections.Invalid);

        var scenario = Scenario.Play(shopper.Events, policy);

        Assert.Empty(scenario.Chats);
    }

    [Theory]
    [InlineData("expired", "expired")]
    [InlineData(" Not_Applicable ", "not_applicable")]
    public void The_parser_accepts_the_enumerated_reasons_normalised(string given, string expected)
    {
        var result = EventParser.Parse($$"""{"type":"promo_code_rejected","event_id":"e1","shopper_id":"c1","session_id":"s1","event_time":"2026-11-02T10:00:00Z","reason":"{{given}}"}""");
        Assert.Equal(expected, Assert.IsType<PromoCodeRejected>(result.Event).Reason);
    }

    [Theory]
    [InlineData("\"reason\":\"promo_code_invalid\"", RejectReasons.InvalidField, "reason must be one of invalid, expired, not_applicable, minimum_not_met, usage_limit_reached, other")]
    [InlineData("\"reason\":\"\"", RejectReasons.InvalidField, "reason must be one of")]
    [InlineData("\"reasons\":\"expired\"", RejectReasons.MissingField, "reason")]
    public void The_parser_refuses_an_unknown_or_missing_reason_naming_the_field(string field, string reason, string detail)
    {
        var result = EventParser.Parse($$"""{"type":"promo_code_rejected","event_id":"e1","shopper_id":"c1","session_id":"s1","event_time":"2026-11-02T10:00:00Z",{{field}}}""");
        Assert.Null(result.Event);
        Assert.Equal(reason, result.RejectReason);
        Assert.Contains(detail, result.Detail);
    }

    [Fact]
    public void A_promo_code_rejection_belongs_on_cart_events()
    {
        var evt = new PromoCodeRejected { EventId = "e", ShopperId = "c", SessionId = "s", EventTime = T0, Reason = PromoCodeRejections.Invalid };
        Assert.True(EventParser.BelongsOn(evt, Topics.CartEvents));
        Assert.False(EventParser.BelongsOn(evt, Topics.OrderEvents));
    }

    [Fact]
    public void A_policy_with_a_promo_code_threshold_outside_0_to_1_is_refused_naming_the_key()
    {
        var error = Assert.Throws<PolicyValidationException>(() => Policies.Edited(root =>
            root["defaults"]!["proactive_assist"]!["promo_code_failure"]!["min_score"] = 1.5));
        Assert.Contains("proactive_assist.promo_code_failure.min_score", error.Message);
    }
}
