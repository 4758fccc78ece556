using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.ProfileTriggers;

/// <summary>Browse abandonment: a session that viewed items of a category and carted nothing gets one message naming
/// the category after the policy's delay of inactivity (event time), under consent for its purpose, opt-outs, the
/// per-shopper cap and quiet hours; an add-to-cart, an order or a running cart recovery ends it first.</summary>
public sealed class BrowseAbandonmentTests
{
    private const string Marketing = "marketing";
    private const string Kind = TriggerKinds.BrowseAbandonment;

    /// <summary>The default policy with browse abandonment on (delay 2 h, two views of a category) and no holdouts.</summary>
    private static RecoveryPolicy BrowseOn(Action<System.Text.Json.Nodes.JsonNode>? more = null) => Policies.WithoutHoldouts(Policies.Edited(root =>
    {
        root["browse_abandonment"]!["enabled"] = true;
        more?.Invoke(root);
    }));

    /// <summary>A shopper who granted marketing email and viewed two lamps and a pair of shoes in session s1, the last view
    /// at <paramref name="lastView"/>.</summary>
    private static (ShopperScript Shopper, SessionScript Session) Browser(DateTimeOffset lastView, string purpose = Marketing)
    {
        var shopper = new ShopperScript("cust-b", lastView - Min(3));
        shopper.Grant("email", lastView - Days(3), purpose);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.View("lamp-1", category: "home.lamps");
        s1.View("shoe-1", category: "shoes");
        var last = s1.View("lamp-2", category: "home.lamps");
        Assert.Equal(lastView, last.EventTime);
        return (shopper, s1);
    }

    [Fact]
    public void A_session_that_viewed_a_category_and_carted_nothing_gets_one_message_naming_it_after_the_delay()
    {
        var (shopper, _) = Browser(T0);

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        var message = Assert.Single(scenario.OfKind(Kind));
        Assert.Equal("home.lamps", message.Category);
        Assert.Equal("email", message.Channel);
        Assert.Equal(T0 + Hours(2), message.EventTime);
        Assert.Equal(T0 + Hours(2), message.DueTime);
        Assert.Equal(("s1", 0, Marketing), (message.SessionId, message.Step, message.Purpose));
        Assert.Empty(message.CartLines);
        Assert.NotEmpty(message.UnsubscribeToken);
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Triggered, DecisionReason.BrowseAbandonment), (audit.Decision, audit.Reason));
        Assert.Contains($"trigger_id={message.TriggerId}", audit.Detail);
        Assert.Contains("category=home.lamps views=2", audit.Detail);
        // The session then ends as a browse, and the message counts against the shopper's caps.
        Assert.Equal(Outcomes.Browsed, Assert.Single(scenario.Outcomes).Outcome);
        Assert.Equal(message.TriggerId, Assert.Single(scenario.Shopper("cust-b").Sent).TriggerId);
        Assert.Empty(scenario.Reminders);
    }

    [Fact]
    public void Off_by_default_nothing_is_sent_or_audited_and_the_session_ends_at_its_inactivity_timeout()
    {
        var (shopper, _) = Browser(T0);

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Empty(scenario.OfKind(Kind));
        Assert.Empty(scenario.AuditsOfKind(Kind));
        Assert.Equal(T0 + Min(30), Assert.Single(scenario.Outcomes).EndedAt);
    }

    [Fact]
    public void One_view_of_a_category_is_not_enough_and_views_without_a_category_name_none()
    {
        var shopper = new ShopperScript("cust-b", T0);
        shopper.Grant("email", T0 - Days(3), Marketing);
        var s1 = shopper.Session("s1");
        s1.View("lamp-1", category: "home.lamps");
        s1.View("x-1");
        s1.View("x-2");

        Assert.Empty(Scenario.Play(shopper.Events, BrowseOn()).OfKind(Kind));
    }

    [Fact]
    public void An_add_to_cart_in_the_session_makes_it_a_cart_and_no_browse_message_is_decided()
    {
        var (shopper, s1) = Browser(T0);
        s1.Add("lamp-2", 30m, category: "home.lamps");

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        Assert.Empty(scenario.OfKind(Kind));
        Assert.Empty(scenario.AuditsOfKind(Kind));
    }

    [Fact]
    public void An_add_to_cart_in_another_session_before_the_message_cancels_it_with_an_audit_row()
    {
        var (shopper, _) = Browser(T0);
        var app = shopper.Session("s2", "app");
        app.Add("lamp-2", 30m, at: T0 + Min(40), category: "home.lamps");

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.CartAdded), (audit.Decision, audit.Reason));
        Assert.Equal(T0 + Hours(2), audit.EventTime);
        Assert.Contains($"carted_at={T0 + Min(40):O}", audit.Detail);
    }

    [Fact]
    public void An_order_before_the_message_cancels_it()
    {
        var (shopper, _) = Browser(T0);
        var s2 = shopper.Session("s2");
        var order = s2.Order([new CartLine { Sku = "lamp-2", UnitPrice = 30, Quantity = 1 }], at: T0 + Min(50));

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.OrderPlaced, order.EventId), (audit.Decision, audit.Reason, audit.Evidence[0]));
    }

    [Fact]
    public void A_running_cart_recovery_case_comes_first_and_cancels_the_browse_message()
    {
        // A cart left in s0 before the browsing: its step 1 goes out while the shopper browses, the case is still open
        // when the browse message falls due.
        var shopper = new ShopperScript("cust-b", T0 - Min(60));
        shopper.Grant("email", T0 - Days(3), Marketing);
        shopper.Grant("email", T0 - Days(3), ShopperScript.Purpose);
        shopper.Session("s0").Add("sofa-1", 400m, at: T0 - Min(60));
        var s1 = shopper.Session("s1");
        s1.View("lamp-1", at: T0 - Min(1), category: "home.lamps");
        s1.View("lamp-2", at: T0, category: "home.lamps");

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        Assert.Single(scenario.Reminders, r => r.Step == 1);
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.RecoveryCaseOpen), (audit.Decision, audit.Reason));
        Assert.Empty(scenario.OfKind(Kind));
    }

    [Fact]
    public void Without_consent_for_its_purpose_the_message_is_not_sent_and_the_row_says_why()
    {
        // Cart-recovery consent is not marketing consent: purpose-specific.
        var (shopper, _) = Browser(T0, purpose: ShopperScript.Purpose);

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.NoConsent), (audit.Decision, audit.Reason));
        Assert.Equal(T0 + Hours(2), audit.EventTime);
        Assert.Equal([shopper.Events[^1].EventId], audit.Evidence);
    }

    [Fact]
    public void A_marketing_withdrawal_after_the_grant_stops_it()
    {
        var (shopper, _) = Browser(T0);
        shopper.Withdraw("email", T0 + Min(10), Marketing);

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        Assert.Empty(scenario.OfKind(Kind));
        Assert.Equal(SuppressionReason.ConsentWithdrawn, Assert.Single(scenario.AuditsOfKind(Kind)).Reason);
    }

    [Fact]
    public void Due_in_quiet_hours_it_is_deferred_to_their_end_not_dropped()
    {
        // Last view 20:00 UTC: due 22:00, inside 21:00-08:00 (policy zone UTC): sent 08:00 the next morning.
        var lastView = Utc("2026-11-02T20:00:00Z");
        var (shopper, _) = Browser(lastView);

        var scenario = Scenario.Play(shopper.Events, BrowseOn());

        var deferred = Assert.Single(scenario.AuditsOfKind(Kind), a => a.Decision == AuditDecisions.Deferred);
        Assert.Equal((DecisionReason.QuietHours, lastView + Hours(2), "email"), (deferred.Reason, deferred.EventTime, deferred.Channel));
        var message = Assert.Single(scenario.OfKind(Kind));
        Assert.Equal(Utc("2026-11-03T08:00:00Z"), message.EventTime);
        Assert.Equal(lastView + Hours(2), message.DueTime);
        // The session stayed open through the deferral and ended after the message.
        Assert.Equal(Utc("2026-11-03T08:00:00Z"), Assert.Single(scenario.Outcomes).EndedAt);
    }

    [Fact]
    public void The_per_shopper_cap_counts_cart_reminders_too()
    {
        // Two reminders of a cart went out within the week; the cap is 2 per shopper per 7 days.
        var policy = BrowseOn(root => root["defaults"]!["caps"]!["per_shopper"] = 2);
        var shopper = new ShopperScript("cust-b", T0 - Days(2));
        shopper.Grant("email", T0 - Days(5), Marketing);
        shopper.Grant("email", T0 - Days(5), ShopperScript.Purpose);
        shopper.Session("s0").Add("sofa-1", 400m, at: T0 - Days(2));
        var s1 = shopper.Session("s1");
        s1.View("lamp-1", at: T0, category: "home.lamps");
        s1.View("lamp-2", at: T0 + Min(1), category: "home.lamps");

        var scenario = Scenario.Play(shopper.Events, policy);

        Assert.Equal(2, scenario.Reminders.Count);
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.CapPerShopper), (audit.Decision, audit.Reason));
        Assert.Equal(scenario.Reminders.Select(r => r.TriggerId).Order(StringComparer.Ordinal), audit.Evidence.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_shopper_who_keeps_browsing_moves_the_message_later()
    {
        var (shopper, s1) = Browser(T0);
        s1.View("lamp-3", at: T0 + Min(90), category: "home.lamps");

        var message = Assert.Single(Scenario.Play(shopper.Events, BrowseOn()).OfKind(Kind));

        Assert.Equal(T0 + Min(90) + Hours(2), message.EventTime);
    }
}
