using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Time;

/// <summary>Late is not "came back": an event whose event time is before the abandonment (or before the end of a
/// finished session) neither resumes nor reopens it; at most one message per step of a recovery case whatever the
/// order of arrival. cust-9001 adds a watch at 09:01 (app), abandoned 09:31, step 1 fires 10:36.</summary>
public class LateIsNotComingBackTests
{
    private static readonly DateTimeOffset AbandonedAt = T0 + Min(31);
    private static readonly DateTimeOffset Step1Fires = AbandonedAt + Hours(1) + Min(5);

    private static (ShopperScript Shopper, SessionScript Session, ShopperScript Other) Watch()
    {
        var shopper = new ShopperScript("cust-9001", T0);
        shopper.Grant("email", T0 - Days(1));
        var s = shopper.Session("s-9001", channel: "app");
        s.Start();
        s.Add("watch-09", 99m);
        return (shopper, s, new ShopperScript("cust-other", T0));
    }

    /// <summary>Another shopper's traffic at <paramref name="at"/> moves the partition's watermark.</summary>
    private static void OtherTraffic(ShopperScript other, DateTimeOffset at)
    {
        var s = other.Session("s-other");
        s.Start(at: at);
        s.View("vase-09", at: at + Min(5));
    }

    [Fact]
    public void A_buffered_event_from_before_the_abandonment_after_step_1_does_not_resume_or_resend()
    {
        var (shopper, session, other) = Watch();
        OtherTraffic(other, Step1Fires + Min(14));                 // watermark past step 1: step 1 is sent
        var late = session.View("strap-09", at: T0 + Min(20));     // case 09: the app's buffered 09:20 event arrives

        var scenario = Scenario.Play([.. shopper.Events.Where(e => e != late), .. other.Events, late]);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.Single(scenario.Reminders, t => t.Step == 1);
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.SessionResumed));
        Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.LateEvent, DecisionReason.BeforeAbandonment));
        Assert.Equal([late.EventId], audit.Evidence);
    }

    [Fact]
    public void A_late_cart_change_from_before_the_abandonment_is_applied_to_the_cart()
    {
        var (shopper, session, other) = Watch();
        OtherTraffic(other, AbandonedAt + Min(10));
        var late = session.Add("strap-09", 19m, at: T0 + Min(20));

        var scenario = Scenario.Play([.. shopper.Events.Where(e => e != late), .. other.Events, late]);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.All(scenario.Reminders, t => Assert.Equal(118m, t.CartValue));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.SessionResumed));
    }

    [Fact]
    public void An_event_after_the_abandonment_that_arrives_after_step_1_went_does_not_restart_the_sequence()
    {
        var (shopper, session, other) = Watch();
        OtherTraffic(other, Step1Fires + Min(14));                 // step 1 is sent at 10:36
        var late = session.View("strap-09", at: T0 + Min(50));     // 09:50: after the abandonment, before step 1

        var scenario = Scenario.Play([.. shopper.Events.Where(e => e != late), .. other.Events, late]);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Single(scenario.AuditsOf(AuditDecisions.LateEvent, DecisionReason.BeforeLastReminder));
    }

    [Fact]
    public void An_event_after_the_abandonment_is_the_shopper_coming_back()
    {
        var (shopper, session, _) = Watch();
        session.View("strap-09", at: AbandonedAt + Min(10));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.SessionResumed));
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.Abandoned).Count);
    }

    [Fact]
    public void A_late_event_from_before_a_finished_session_ended_does_not_reopen_it()
    {
        var (shopper, session, other) = Watch();
        OtherTraffic(other, AbandonedAt + Days(2));                // both steps sent, the session closed
        var late = session.View("strap-09", at: T0 + Min(20));

        var scenario = Scenario.Play([.. shopper.Events.Where(e => e != late), .. other.Events, late]);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Single(scenario.Outcomes, o => o.SessionId == "s-9001");
        Assert.Single(scenario.AuditsOf(AuditDecisions.LateEvent, DecisionReason.BeforeAbandonment));
    }

    [Fact]
    public void A_late_event_from_before_an_order_does_not_turn_the_ordered_session_into_a_browse()
    {
        var (shopper, session, other) = Watch();
        session.Order(at: T0 + Min(10));
        OtherTraffic(other, T0 + Hours(2));
        var late = session.View("strap-09", at: T0 + Min(5));

        var scenario = Scenario.Play([.. shopper.Events.Where(e => e != late), .. other.Events, late]);

        var outcome = Assert.Single(scenario.Outcomes, o => o.SessionId == "s-9001");
        Assert.Equal(Outcomes.Ordered, outcome.Outcome);
    }
}
