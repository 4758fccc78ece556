using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Keys;

/// <summary>Deterministic ids must tell apart what is different (dispatchers drop a trigger_id they have seen; the
/// store keeps one row per key) and stay the same for the same input (replays, crash tails).</summary>
public class UniqueIdTests
{
    /// <summary>A shopper with email consent whose session fills a cart and is left: two reminders follow.</summary>
    private static List<ShopperEvent> AbandonedCart(string shopperId, string sessionId, DateTimeOffset at)
    {
        var shopper = new ShopperScript(shopperId, at);
        shopper.Grant("email", at - Days(1));
        var session = shopper.Session(sessionId);
        session.Start();
        session.Add("mug-01", 24m);
        // Event ids unique per call: the same shopper's later visit is other input, not a redelivery.
        return [.. shopper.Events.Select(e => e with { EventId = $"{e.EventId}-{at:yyyyMMddHHmm}" })];
    }

    [Fact]
    public void Two_shoppers_with_the_same_session_id_get_distinct_trigger_audit_and_outcome_keys()
    {
        var scenario = Scenario.Play([.. AbandonedCart("cust-aaa", "sess-1", T0), .. AbandonedCart("cust-bbb", "sess-1", T0)], Policies.NoHoldout);

        Assert.Equal(4, scenario.Reminders.Count);
        Assert.Equal(4, scenario.Reminders.Select(t => t.TriggerId).Distinct().Count());
        Assert.Equal(scenario.Audits.Count, scenario.Audits.Select(a => a.AuditId).Distinct().Count());
        // session_outcomes' sorting key: (day started, origin channel, shopper, session, started_at).
        Assert.Equal(2, scenario.Outcomes.Select(o => (o.StartedAt.Date, o.OriginChannel, o.ShopperId, o.SessionId, o.StartedAt)).Distinct().Count());
    }

    [Fact]
    public void A_session_id_that_comes_back_after_its_state_was_forgotten_gets_new_trigger_ids()
    {
        // The storefront reuses the session id 12 days later, for a new cart: whether the engine still holds the old
        // session (reopened, a new abandonment) or has forgotten it (a new session), the new messages get new ids.
        var later = T0 + Days(12);
        var policy = Policies.Edited(root => root["defaults"]!["caps"]!["per_cart"] = 4) with { HoldoutShare = 0 };
        var scenario = Scenario.Play([.. AbandonedCart("cust-1", "s1", T0), .. AbandonedCart("cust-1", "s1", later)], policy);

        Assert.Equal([1, 2, 1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.Equal(4, scenario.Reminders.Select(t => t.TriggerId).Distinct().Count());
    }

    [Fact]
    public void A_reopened_session_keeps_its_start_and_numbers_its_new_abandonment()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("email", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("mug-01", 24m);
        shopper.At(T0 + Days(2));                       // after both reminders: the session is closed, not forgotten
        s1.Add("pen-01", 5m);

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        // Two abandonments of one session: the second one's steps have ids of their own (here capped per cart).
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.Abandoned).Count);
        Assert.Equal(2, scenario.Reminders.Count);
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.Suppressed, Decisions.SuppressionReason.CapPerCart).Count);
        Assert.Equal(scenario.Audits.Count, scenario.Audits.Select(a => a.AuditId).Distinct().Count());
        Assert.Single(scenario.Outcomes.Select(o => o.StartedAt).Distinct()); // one session: its row is replaced, not duplicated
    }

    [Fact]
    public void Replaying_the_same_input_gives_the_same_ids()
    {
        List<ShopperEvent> Input() => [.. AbandonedCart("cust-aaa", "sess-1", T0), .. AbandonedCart("cust-bbb", "sess-1", T0 + Min(5))];

        var first = Scenario.Play(Input(), Policies.NoHoldout);
        var second = Scenario.Play(Input(), Policies.NoHoldout);

        Assert.Equal(first.Triggers.Select(t => t.TriggerId), second.Triggers.Select(t => t.TriggerId));
        Assert.Equal(first.Audits.Select(a => a.AuditId), second.Audits.Select(a => a.AuditId));
    }

    [Fact]
    public void An_order_before_any_reminder_is_an_order_not_a_recovery()
    {
        // Field case 12: idle on checkout past the inactivity timeout, then pays before step 1 is due.
        var shopper = new ShopperScript("cust-1212", T0);
        shopper.Grant("email", T0 - Hours(1));
        var s1 = shopper.Session("s-1212");
        s1.Start();
        s1.Add("desk-12", 110m);
        s1.Checkout();
        shopper.At(T0 + Min(41));
        s1.Order();

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Empty(scenario.Reminders);
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.Ordered, outcome.Outcome);
        Assert.NotNull(outcome.AbandonedAt);      // it did idle past the timeout: analytics count it as a converted cart
        Assert.NotNull(outcome.OrderedAt);
    }

    [Fact]
    public void An_order_after_a_reminder_is_a_recovery_also_when_the_shopper_came_back_first()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("email", T0 - Hours(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("rug-05", 120m);
        shopper.At(T0 + Hours(2));                // step 1 went at 10:37; the shopper returns through it
        s1.View("rug-05");
        s1.Order();

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Single(scenario.Reminders);
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.AbandonedRecovered, outcome.Outcome);
        Assert.NotNull(outcome.AbandonedAt);      // the cart stays an abandoned cart in recovery_outcomes
        Assert.Equal("EUR", outcome.OrderCurrency);
    }
}
