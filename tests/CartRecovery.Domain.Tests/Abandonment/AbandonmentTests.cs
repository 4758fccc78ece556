using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Abandonment;

public class AbandonmentTests
{
    [Fact]
    public void Cart_idle_for_the_inactivity_timeout_is_abandoned_and_step1_goes_one_hour_later_after_the_purchase_grace()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var push = shopper.Grant("push", T0 - Days(1));
        shopper.Grant("sms", T0 - Days(1));
        shopper.Grant("email", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        var add = s1.Add("shoes-0001", 40m);

        var scenario = new Scenario().Run(shopper.Events);
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Abandoned));

        // 29 minutes later nothing has happened yet; a minute past the timeout (plus the allowed lateness) it has.
        scenario.AdvanceTo(add.EventTime + Min(29) + TimeSpan.FromMinutes(2));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Abandoned));
        scenario.AdvanceTo(add.EventTime + Min(30) + Min(2) + Sec(1));

        var abandonedAt = add.EventTime + Min(30);
        var abandoned = Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Equal(DecisionReason.InactivityTimeout, abandoned.Reason);
        Assert.Equal(abandonedAt, abandoned.EventTime);
        Assert.Equal("cust-1-e05", add.EventId);
        Assert.Equal([add.EventId], abandoned.Evidence);
        Assert.Equal("s1", abandoned.SessionId);
        // The session named its currency but no time zone: the policy's default zone, and the audit row says so.
        Assert.Equal("segment=default holdout=0 cart_value=40 EUR time_zone_source=policy_default", abandoned.Detail);
        Assert.Equal(0.6344, abandoned.Score);
        Assert.Empty(scenario.Triggers);

        scenario.Drain();
        var step1 = scenario.Reminders.First();
        Assert.Equal(1, step1.Step);
        Assert.Equal(TriggerKinds.Reminder, step1.Kind);
        Assert.Equal(DecisionReason.ReminderStep, step1.Reason);
        Assert.Equal("push", step1.Channel);
        Assert.Equal(push.EventId, step1.ConsentEventId);
        Assert.Equal(abandonedAt + Hours(1), step1.DueTime);
        Assert.Equal(abandonedAt + Hours(1) + Min(5), step1.EventTime);
        Assert.Equal(Utc("2026-11-02T10:36:00Z"), step1.EventTime);
        Assert.Equal(40m, step1.CartValue);
        Assert.Equal("shoes-0001", Assert.Single(step1.CartLines).Sku);
        Assert.Equal("", step1.IncentiveCode);
        Assert.Equal("default", step1.Segment);
        Assert.Equal("control", step1.Variant);
        Assert.Equal("default-2026-11", step1.PolicyVersion);
        Assert.Equal(DeterministicId.From("trigger", TriggerKinds.Reminder, "default-2026-11", "cust-1", "s1", SessionStarts.Key(shopper.Events, "s1"), "1", "1"), step1.TriggerId);

        var triggered = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered), a => a.Step == 1);
        Assert.Equal([push.EventId, add.EventId], triggered.Evidence);
        Assert.Equal($"trigger_id={step1.TriggerId} send_time_score={step1.SendTimeScore:0.####}", triggered.Detail);
    }

    [Theory]
    [InlineData("push,sms,email", "push")]
    [InlineData("email,sms,push", "push")]
    [InlineData("sms,email", "sms")]
    [InlineData("email", "email")]
    [InlineData("email,push", "push")]
    public void Step1_goes_on_the_first_consented_channel_in_preference_order_push_sms_email(string granted, string expected)
    {
        var shopper = new ShopperScript("cust-1", T0);
        var grants = granted.Split(',').Select(c => shopper.Grant(c, T0 - Days(1))).ToList();
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);

        var step1 = Scenario.Play(shopper.Events).Reminders.First();

        Assert.Equal(expected, step1.Channel);
        Assert.Equal(grants.Single(g => g.Channel == expected).EventId, step1.ConsentEventId);
    }

    [Fact]
    public void Activity_before_the_timeout_postpones_abandonment()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        shopper.Wait(Min(28));
        var view = s1.View("shoes-0002");

        var scenario = Scenario.Play(shopper.Events);

        var abandoned = Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Equal(view.EventTime + Min(30), abandoned.EventTime);
        Assert.Equal([view.EventId], abandoned.Evidence);
        Assert.Equal(view.EventTime + Min(30) + Hours(1) + Min(5), scenario.Reminders.First().EventTime);
    }

    [Fact]
    public void An_explicit_exit_abandons_at_once()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        var exit = s1.Exit();

        var scenario = new Scenario().Run(shopper.Events);

        var abandoned = Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Equal(DecisionReason.ExplicitExit, abandoned.Reason);
        Assert.Equal(exit.EventTime, abandoned.EventTime);
        Assert.Equal([exit.EventId], abandoned.Evidence);

        scenario.Drain();
        var step1 = scenario.Reminders.First();
        Assert.Equal(exit.EventTime + Hours(1), step1.DueTime);
        Assert.Equal(exit.EventTime + Hours(1) + Min(5), step1.EventTime);
        Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
    }

    [Fact]
    public void An_exit_without_a_cart_abandons_nothing()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.View("shoes-0001");
        s1.Exit();

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Empty(scenario.Triggers);
        Assert.Equal(Outcomes.Browsed, Assert.Single(scenario.Outcomes).Outcome);
    }

    [Fact]
    public void A_browse_only_session_closes_as_browsed_without_a_trigger()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1");
        var start = s1.Start();
        s1.View("shoes-0001");
        var last = s1.View("shoes-0002");

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Triggers);
        Assert.All(scenario.Audits, a => Assert.Equal(AuditDecisions.ConsentChanged, a.Decision));
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.Browsed, outcome.Outcome);
        Assert.Equal("s1", outcome.SessionId);
        Assert.Equal("browsing", outcome.FurthestStep);
        Assert.Equal(0m, outcome.CartValue);
        Assert.Equal(start.EventTime, outcome.StartedAt);
        Assert.Equal(last.EventTime + Min(30), outcome.EndedAt);
        Assert.Null(outcome.AbandonedAt);
        Assert.Equal(0, scenario.LiveSessions);
    }

    [Fact]
    public void A_cart_emptied_before_the_timeout_closes_as_emptied_without_abandonment()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        var remove = s1.Remove("shoes-0001");

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Triggers);
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Abandoned));
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.Emptied, outcome.Outcome);
        Assert.Equal(remove.EventTime + Min(30), outcome.EndedAt);
    }

    [Fact]
    public void An_order_in_the_session_closes_it_as_ordered_and_no_reminder_is_sent()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        s1.Add("lamps-0002", 25m, quantity: 2);
        s1.Checkout();
        var order = s1.Order();

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Triggers);
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed));
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(Outcomes.Ordered, outcome.Outcome);
        Assert.Equal(order.EventTime, outcome.OrderedAt);
        Assert.Equal(90m, outcome.OrderValue);
        Assert.Equal(90m, outcome.CartValue);
        Assert.Equal(3, outcome.ItemCount);
        Assert.Equal("checkout", outcome.FurthestStep);
        Assert.Equal(order.EventTime, outcome.EndedAt);
        Assert.Equal(0, scenario.LiveSessions);
    }

    [Fact]
    public void A_social_session_uses_its_segment_s_shorter_inactivity_timeout()
    {
        var shopper = new ShopperScript("cust-1", T0).GrantAll();
        var s1 = shopper.Session("s1", channel: "instagram");
        s1.Start();
        var add = s1.Add("shoes-0001", 40m);

        var scenario = Scenario.Play(shopper.Events);

        var abandoned = Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Equal(add.EventTime + Min(20), abandoned.EventTime);
        Assert.StartsWith("segment=social ", abandoned.Detail);
        Assert.Equal("social", scenario.Reminders.First().Segment);
        Assert.Equal("instagram", scenario.Outcomes.Single().OriginChannel);
    }
}
