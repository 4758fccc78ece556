using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Profiles;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.ProfileTriggers;

/// <summary>Win-back: when a customer's profile turns at risk in event time (longer since the last order than their own
/// typical interval × 1.69), one message, at most one per policy period, under consent for its purpose, the per-shopper
/// cap and quiet hours; an order first moves the instant. Driven by the watermark like every other timer.</summary>
public sealed class WinBackTests
{
    private const string Marketing = "marketing";
    private const string Kind = TriggerKinds.WinBack;
    /// <summary>Orders at noon UTC, 10 days apart: the shopper's own interval is 10 days.</summary>
    private static readonly DateTimeOffset FirstOrder = Utc("2026-09-01T12:00:00Z");
    private static readonly DateTimeOffset LastOrder = FirstOrder + Days(10);
    /// <summary>Computed here from the definition (churn risk 1 - e^-(t/interval - 1) reaches 0.5), whole seconds up.</summary>
    private static readonly DateTimeOffset AtRisk = LastOrder + Sec(Math.Ceiling(Days(10).TotalSeconds * (1 + Math.Log(2))));

    private static RecoveryPolicy WinBackOn(Action<System.Text.Json.Nodes.JsonNode>? more = null) => Policies.WithoutHoldouts(Policies.Edited(root =>
    {
        root["win_back"]!["enabled"] = true;
        more?.Invoke(root);
    }));

    /// <summary>A customer who granted marketing email, viewed and bought lamps twice, 10 days apart.</summary>
    private static ShopperScript Customer(string purpose = Marketing, DateTimeOffset? firstOrder = null)
    {
        var first = firstOrder ?? FirstOrder;
        var shopper = new ShopperScript("cust-w", first - Min(2));
        shopper.Grant("email", first - Days(30), purpose);
        var s1 = shopper.Session("s1");
        s1.Add("lamp-1", 40m, at: first - Min(1), category: "home.lamps");
        s1.Order(at: first);
        var s2 = shopper.Session("s2");
        s2.Add("lamp-2", 60m, at: first + Days(10) - Min(1), category: "home.lamps");
        s2.Order(at: first + Days(10));
        return shopper;
    }

    [Fact]
    public void The_instant_the_profile_turns_at_risk_is_its_own_interval_times_the_profile_factor()
    {
        var profile = Scenario.Play(Customer().Events, WinBackOn()).Shopper("cust-w").Profile!;

        Assert.Equal(AtRisk, profile.AtRiskFrom(TimeSpan.FromDays(30)));
        Assert.Equal(ProfileSegments.AtRisk, profile.Segment(AtRisk, TimeSpan.FromDays(30)));
        Assert.NotEqual(ProfileSegments.AtRisk, profile.Segment(AtRisk - Sec(1), TimeSpan.FromDays(30)));
    }

    [Fact]
    public void A_customer_who_does_not_come_back_gets_one_win_back_when_the_profile_turns_at_risk()
    {
        var scenario = new Scenario(WinBackOn()).Run(Customer().Events).AdvanceTo(AtRisk + Days(1)).AdvanceTo(AtRisk + Days(80));

        var message = Assert.Single(scenario.OfKind(Kind));
        Assert.Equal((AtRisk, AtRisk), (message.EventTime, message.DueTime));
        Assert.Equal(("email", "home.lamps", Marketing, ""), (message.Channel, message.Category, message.Purpose, message.SessionId));
        Assert.Equal(DecisionReason.TurnedAtRisk, message.Reason);
        Assert.Equal(0.5, message.Score, 3);
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Triggered, DecisionReason.TurnedAtRisk, AtRisk), (audit.Decision, audit.Reason, audit.EventTime));
        Assert.Contains("segment=at_risk", audit.Detail);
        // shopper_profiles shows the shopper at risk from the message on.
        Assert.Equal(ProfileSegments.AtRisk, scenario.ProfileRows.Last().Segment);
        Assert.Equal(message.TriggerId, scenario.Shopper("cust-w").Sent.Last().TriggerId);
    }

    [Fact]
    public void Off_by_default_no_win_back_is_decided()
    {
        var scenario = new Scenario(Policies.NoHoldout).Run(Customer().Events).AdvanceTo(AtRisk + Days(30));

        Assert.Empty(scenario.OfKind(Kind));
        Assert.Empty(scenario.AuditsOfKind(Kind));
    }

    [Fact]
    public void The_end_of_input_is_not_weeks_of_silence_a_drain_decides_no_win_back()
    {
        var scenario = Scenario.Play(Customer().Events, WinBackOn());

        Assert.Empty(scenario.AuditsOfKind(Kind));
        Assert.NotNull(scenario.Engine.ShopperDeadline(scenario.Shopper("cust-w")));
    }

    [Fact]
    public void The_shoppers_next_event_after_the_instant_fires_it_first()
    {
        var shopper = Customer();
        var view = shopper.Session("s3").View("lamp-3", at: AtRisk + Days(2), category: "home.lamps");

        var scenario = Scenario.Play(shopper.Events, WinBackOn());

        Assert.Equal(AtRisk, Assert.Single(scenario.OfKind(Kind)).EventTime);
        Assert.True(view.EventTime > AtRisk);
    }

    [Fact]
    public void An_order_before_the_instant_moves_it_on()
    {
        var shopper = Customer();
        shopper.Session("s3").Add("lamp-3", 30m, at: AtRisk - Days(1), category: "home.lamps");
        shopper.Session("s3").Order(at: AtRisk - Days(1) + Min(1));

        var scenario = new Scenario(WinBackOn()).Run(shopper.Events).AdvanceTo(AtRisk + Days(5));

        Assert.Empty(scenario.OfKind(Kind));
        var next = scenario.Engine.ShopperDeadline(scenario.Shopper("cust-w"))!.Value;
        Assert.True(next.At > AtRisk + Days(5));
    }

    [Fact]
    public void Without_consent_for_its_purpose_it_is_not_sent_the_row_says_why_and_the_lapse_is_decided_once()
    {
        var scenario = new Scenario(WinBackOn()).Run(Customer(purpose: ShopperScript.Purpose).Events)
            .AdvanceTo(AtRisk + Days(1)).AdvanceTo(AtRisk + Days(200));

        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.NoConsent, AtRisk, ""), (audit.Decision, audit.Reason, audit.EventTime, audit.SessionId));
        Assert.Empty(audit.Evidence);
    }

    [Fact]
    public void Due_in_quiet_hours_it_is_deferred_to_their_end()
    {
        // Orders at 09:00 UTC: the instant falls at 07:21:20 UTC, inside 21:00-08:00 (policy zone UTC).
        var first = Utc("2026-09-01T09:00:00Z");
        var atRisk = first + Days(10) + Sec(Math.Ceiling(Days(10).TotalSeconds * (1 + Math.Log(2))));
        var scenario = new Scenario(WinBackOn()).Run(Customer(firstOrder: first).Events).AdvanceTo(atRisk + Days(2));

        var deferred = Assert.Single(scenario.AuditsOfKind(Kind), a => a.Decision == AuditDecisions.Deferred);
        Assert.Equal((DecisionReason.QuietHours, atRisk), (deferred.Reason, deferred.EventTime));
        var message = Assert.Single(scenario.OfKind(Kind));
        Assert.Equal(new DateTimeOffset(atRisk.UtcDateTime.Date, TimeSpan.Zero) + Hours(8), message.EventTime);
        Assert.Equal(atRisk, message.DueTime);
    }

    [Fact]
    public void The_per_shopper_cap_counts_every_message()
    {
        // A cart left 3 days before the instant got its two reminders (cart_recovery consent); cap 2 per 7 days.
        var policy = WinBackOn(root => root["defaults"]!["caps"]!["per_shopper"] = 2);
        var shopper = Customer();
        shopper.Grant("email", LastOrder, ShopperScript.Purpose);
        shopper.Session("s3").Add("sofa-1", 400m, at: AtRisk - Days(3));

        var scenario = new Scenario(policy).Run(shopper.Events).AdvanceTo(AtRisk + Days(1));

        Assert.Equal(2, scenario.Reminders.Count);
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.CapPerShopper), (audit.Decision, audit.Reason));
    }

    [Fact]
    public void A_running_cart_recovery_case_comes_first()
    {
        var shopper = Customer();
        shopper.Session("s3").Add("sofa-1", 400m, at: AtRisk - Hours(3));

        var scenario = new Scenario(WinBackOn()).Run(shopper.Events).AdvanceTo(AtRisk + Days(1));

        Assert.Equal(SuppressionReason.RecoveryCaseOpen, Assert.Single(scenario.AuditsOfKind(Kind)).Reason);
        Assert.Empty(scenario.OfKind(Kind));
    }

    [Fact]
    public void At_most_one_win_back_per_period_even_across_lapses()
    {
        // After the first win-back the customer orders again at once; the next lapse turns at risk within 90 days of the
        // first message, so the second waits until the period has passed.
        var shopper = Customer();
        shopper.Session("s4").Add("lamp-4", 30m, at: AtRisk + Days(1), category: "home.lamps");
        shopper.Session("s4").Order(at: AtRisk + Days(1) + Min(1));

        var scenario = new Scenario(WinBackOn()).Run(shopper.Events).AdvanceTo(AtRisk + Days(200));

        var messages = scenario.OfKind(Kind);
        Assert.Equal(2, messages.Count);
        Assert.Equal(AtRisk, messages[0].EventTime);
        Assert.Equal(AtRisk + Days(90), messages[1].EventTime);
        Assert.NotEqual(messages[0].TriggerId, messages[1].TriggerId);
    }

    [Fact]
    public void The_same_input_in_any_batching_decides_the_same()
    {
        var policy = Policies.WithoutHoldouts(Policies.Edited(root =>
        {
            root["win_back"]!["enabled"] = true;
            root["browse_abandonment"]!["enabled"] = true;
        }));
        var shopper = Customer();
        var s3 = shopper.Session("s3");
        s3.View("lamp-5", at: AtRisk + Days(3), category: "home.lamps");
        s3.View("lamp-6", at: AtRisk + Days(3) + Min(1), category: "home.lamps");
        shopper.Session("s4").View("x", at: AtRisk + Days(5));

        var eachEvent = new Scenario(policy, fireAllAfterEachEvent: true).Run(shopper.Events).Drain();
        var ownInputOnly = new Scenario(policy, fireAllAfterEachEvent: false).Run(shopper.Events).Drain();

        Assert.Single(eachEvent.OfKind(Kind));
        Assert.Single(eachEvent.OfKind(TriggerKinds.BrowseAbandonment));
        Assert.Equal(eachEvent.CanonicalOutputs(), ownInputOnly.CanonicalOutputs());
    }
}
