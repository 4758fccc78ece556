using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Input;

/// <summary>Input is at least once: an event delivered again with the same event_id is applied once (within the
/// policy's dedup horizon) and leaves a <c>duplicate_event</c> audit row, never silently dropped.</summary>
public class RedeliveryTests
{
    private static (ShopperScript Shopper, SessionScript Session, CartLineAdded Add) Jacket()
    {
        var shopper = new ShopperScript("cust-1414", T0);
        shopper.Grant("email", T0 - Days(1));
        var s = shopper.Session("s-1414");
        s.Start();
        return (shopper, s, s.Add("jacket-14", 140m));
    }

    [Fact]
    public void A_cart_line_delivered_twice_is_added_once()
    {
        var (shopper, _, add) = Jacket();
        shopper.Events.Add(add); // case 14: the same record again

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal(2, scenario.Reminders.Count);
        Assert.All(scenario.Reminders, t =>
        {
            Assert.Equal(140m, t.CartValue);
            Assert.Equal(1, Assert.Single(t.CartLines).Quantity);
            Assert.Equal("default", t.Segment);
        });
        var duplicate = Assert.Single(scenario.AuditsOf(AuditDecisions.DuplicateEvent));
        Assert.Equal((DecisionReason.Redelivered, "s-1414", add.EventId), (duplicate.Reason, duplicate.SessionId, duplicate.Evidence.Single()));
    }

    [Fact]
    public void Redelivery_is_recognised_by_event_id_even_after_other_events()
    {
        var (shopper, session, add) = Jacket();
        session.View("scarf-14");
        shopper.Events.Add(add);
        shopper.Events.Add(add);

        var scenario = Scenario.Play(shopper.Events);

        Assert.All(scenario.Reminders, t => Assert.Equal(140m, t.CartValue));
        // Every copy is audited; copies share the audit id (same content), so the table keeps one row per event.
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.DuplicateEvent).Count);
    }

    [Fact]
    public void A_redelivered_order_is_applied_once()
    {
        var (shopper, session, _) = Jacket();
        var order = session.Order(at: T0 + Min(10));
        shopper.Events.Add(order);

        var scenario = Scenario.Play(shopper.Events);

        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.Ordered, outcome.Outcome);
        Assert.Single(scenario.AuditsOf(AuditDecisions.DuplicateEvent));
    }

    [Fact]
    public void A_redelivered_consent_event_changes_nothing_twice()
    {
        var (shopper, _, _) = Jacket();
        var unsubscribe = shopper.Unsubscribe("email", at: T0 + Min(5));
        shopper.Events.Add(unsubscribe);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Single(scenario.AuditsOf(AuditDecisions.ConsentChanged), a => a.Evidence.Contains(unsubscribe.EventId));
        Assert.Single(scenario.AuditsOf(AuditDecisions.DuplicateEvent));
        Assert.Empty(scenario.Reminders);
    }

    [Fact]
    public void Beyond_the_dedup_horizon_an_old_id_is_forgotten()
    {
        var (shopper, session, add) = Jacket();
        var policy = Policies.NoHoldout with { DedupHorizon = Hours(1) };
        shopper.At(T0 + Hours(3));
        session.View("jacket-14");          // hours later: past a 1 h horizon, inside the default 24 h
        shopper.Events.Add(add);            // the first add redelivered (late, beyond the allowed lateness too)

        var withinDefault = Scenario.Play(shopper.Events);
        var shortHorizon = Scenario.Play(shopper.Events, policy);

        Assert.Single(withinDefault.AuditsOf(AuditDecisions.DuplicateEvent));
        Assert.Empty(shortHorizon.AuditsOf(AuditDecisions.DuplicateEvent));
    }

    [Fact]
    public void The_seen_ids_are_part_of_the_shopper_state_and_stay_bounded()
    {
        var (shopper, session, _) = Jacket();
        for (var i = 0; i < 50; i++) session.View($"item-{i}", at: T0 + Hours(i));

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout with { DedupHorizon = Hours(5) }, drain: false);

        var seen = scenario.Shopper("cust-1414").SeenEvents;
        Assert.InRange(seen.Length, 1, 7);
    }
}
