using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Abandonment;

public class ReminderStepTests
{
    private const string Version = "default-2026-11";

    /// <summary>cust-1 grants push, starts s1 at 09:00, adds a 40 EUR line at 09:01: abandoned at 09:31.</summary>
    private static (ShopperScript Shopper, SessionScript Session, DateTimeOffset AbandonedAt) AbandonedCart()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        var add = s1.Add("shoes-0001", 40m);
        return (shopper, s1, add.EventTime + Min(30));
    }

    [Fact]
    public void Default_policy_sends_step1_at_1h_and_step2_at_24h_then_closes_the_session_as_abandoned()
    {
        var (shopper, _, abandonedAt) = AbandonedCart();

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        var step2 = scenario.Reminders[1];
        Assert.Equal(abandonedAt + Hours(24), step2.DueTime);
        Assert.Equal(abandonedAt + Hours(24) + Min(5), step2.EventTime);
        Assert.Equal(Utc("2026-11-03T09:36:00Z"), step2.EventTime);
        Assert.Equal("push", step2.Channel);
        Assert.Equal(DeterministicId.From("trigger", TriggerKinds.Reminder, Version, "cust-1", "s1", SessionStarts.Key(shopper.Events, "s1"), "1", "2"), step2.TriggerId);
        Assert.All(scenario.Reminders, t => Assert.Equal("", t.IncentiveCode));

        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.Abandoned, outcome.Outcome);
        Assert.Equal(abandonedAt, outcome.AbandonedAt);
        Assert.Equal(step2.EventTime, outcome.EndedAt);
        Assert.False(outcome.Holdout);
        Assert.Equal(0, scenario.LiveSessions);
    }

    [Fact]
    public void Reminder_triggers_carry_the_risk_score_and_its_top_factors()
    {
        var (shopper, _, _) = AbandonedCart();

        var step1 = Scenario.Play(shopper.Events).Reminders[0];

        // The score that decided, when the cart was left: idle one timeout 1.5 * 1; funnel step "cart" 0.6; cart value
        // 0.6 * ln(1 + 40/80); item count 0.3 * ln 2.
        Assert.Equal(0.6344, step1.Score);
        Assert.Equal(["idle:+1.50", "funnel_step:+0.60", "cart_value:+0.24"], step1.TopFactors);
        // At send time idle is clamped at 3x the timeout: 1.5 * 3. Kept beside it, deciding nothing.
        Assert.Equal(0.9721, step1.SendTimeScore);
        Assert.Equal("cart", step1.FunnelStep);
    }

    [Fact]
    public void The_72h_incentive_step_is_off_by_default()
    {
        var (shopper, _, _) = AbandonedCart();

        var scenario = Scenario.Play(shopper.Events);

        Assert.DoesNotContain(scenario.Triggers, t => t.Step == 3);
        Assert.DoesNotContain(scenario.Audits, a => a.Step == 3);
        Assert.Equal(2, Policies.Default.Segments.Single(s => s.Name == "default").Steps.Length);
    }

    [Fact]
    public void The_shipped_incentive_step_goes_out_when_only_switched_on()
    {
        var (shopper, _, abandonedAt) = AbandonedCart();
        // Only "enabled": true, in every segment that lists the step: the caps need no second edit.
        var policy = Policies.Edited(root =>
        {
            root["defaults"]!["steps"]![2]!["enabled"] = true;
            root["segments"]![0]!["steps"]![2]!["enabled"] = true;
        }) with { HoldoutShare = 0 };

        var scenario = Scenario.Play(shopper.Events, policy);

        Assert.Equal([1, 2, 3], scenario.Reminders.Select(t => t.Step));
        Assert.Equal(abandonedAt + Hours(72), scenario.Reminders[2].DueTime);
        Assert.NotEqual("", scenario.Reminders[2].IncentiveCode);
        Assert.DoesNotContain(scenario.Audits, a => a.Reason == SuppressionReason.CapPerCart);
        Assert.Equal(3, policy.Segments.Single(s => s.Name == "high_value").Caps.PerCart);
    }

    [Fact]
    public void When_enabled_step3_goes_at_72h_with_a_deterministic_incentive_code()
    {
        var (shopper, _, abandonedAt) = AbandonedCart();
        var policy = Policies.ThreeSteps(perCart: 3);

        var scenario = Scenario.Play(shopper.Events, policy);

        Assert.Equal([1, 2, 3], scenario.Reminders.Select(t => t.Step));
        var step3 = scenario.Reminders[2];
        Assert.Equal(abandonedAt + Hours(72), step3.DueTime);
        Assert.Equal(abandonedAt + Hours(72) + Min(5), step3.EventTime);
        Assert.Equal(DeterministicId.Code("CR-", Version, "cust-1", "s1", SessionStarts.Key(shopper.Events, "s1"), "1", "3"), step3.IncentiveCode);
        Assert.Matches("^CR-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}$", step3.IncentiveCode);
        Assert.Equal("", scenario.Reminders[0].IncentiveCode);
        Assert.Equal("", scenario.Reminders[1].IncentiveCode);

        // Same input, same policy: same code. Another cart: another code.
        Assert.Equal(step3.IncentiveCode, Scenario.Play(shopper.Events, policy).Reminders[2].IncentiveCode);
        var other = new ShopperScript("cust-1", T0);
        other.Grant("push", T0 - Days(1));
        var s2 = other.Session("s2");
        s2.Start();
        s2.Add("shoes-0001", 40m);
        Assert.NotEqual(step3.IncentiveCode, Scenario.Play(other.Events, policy).Reminders[2].IncentiveCode);
    }

    [Fact]
    public void An_order_after_the_incentive_was_sent_voids_it_on_the_trigger_topic()
    {
        var (shopper, s1, abandonedAt) = AbandonedCart();
        var policy = Policies.ThreeSteps(perCart: 3);
        shopper.At(abandonedAt + Hours(73));
        var order = s1.Order();
        s1.Order(); // a second order (e.g. a retry): nothing more to void or recover

        var scenario = Scenario.Play(shopper.Events, policy);

        var step3 = Assert.Single(scenario.Reminders, t => t.Step == 3);
        var voided = Assert.Single(scenario.Triggers, t => t.Kind == TriggerKinds.IncentiveVoid);
        Assert.Equal(DeterministicId.From("trigger", TriggerKinds.IncentiveVoid, step3.TriggerId), voided.TriggerId);
        Assert.Equal(step3.IncentiveCode, voided.IncentiveCode);
        Assert.Equal("s1", voided.SessionId);
        Assert.Equal(order.EventTime, voided.EventTime);
        Assert.Equal(DecisionReason.OrderVoidsIncentive, voided.Reason);

        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered, DecisionReason.OrderVoidsIncentive));
        Assert.Equal([order.EventId, step3.TriggerId], audit.Evidence);

        // The case stayed open while its code was valid, so the order recovers it (attributed); a second order neither
        // voids nor recovers again.
        Assert.Equal([Outcomes.AbandonedRecovered], scenario.Outcomes.Select(o => o.Outcome));
        Assert.Equal(order.EventTime, scenario.Outcomes[0].OrderedAt);
        Assert.Equal(40m, scenario.Outcomes[0].OrderValue);
    }

    [Fact]
    public void No_void_without_an_incentive()
    {
        var (shopper, s1, abandonedAt) = AbandonedCart();
        shopper.At(abandonedAt + Hours(30));
        s1.Order();

        var scenario = Scenario.Play(shopper.Events);

        Assert.DoesNotContain(scenario.Triggers, t => t.Kind == TriggerKinds.IncentiveVoid);
        Assert.Equal(Outcomes.AbandonedRecovered, scenario.Outcomes[^1].Outcome);
    }
}
