using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Suppression;

/// <summary>Send-time suppression, one test per rule: the audit row's reason code and evidence event ids.
/// Unless stated otherwise: cust-1 starts s1 at 09:00 UTC, adds a 40 EUR line at 09:01, is abandoned at 09:31;
/// step 1 is due at 10:31 and fires after the 5 min purchase grace at 10:36; step 2 is due 24 h after abandonment.</summary>
public class SuppressionTests
{
    private static readonly DateTimeOffset AbandonedAt = T0 + Min(31);
    private static readonly DateTimeOffset Step1Due = AbandonedAt + Hours(1);
    private static readonly DateTimeOffset Step1Fires = Step1Due + Min(5);
    private static readonly DateTimeOffset Step2Fires = AbandonedAt + Hours(24) + Min(5);

    private static (ShopperScript Shopper, SessionScript Session, CartLineAdded Add) Cart(string consent = "push")
    {
        var shopper = new ShopperScript("cust-1", T0);
        foreach (var channel in consent.Split(',', StringSplitOptions.RemoveEmptyEntries)) shopper.Grant(channel, T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        var add = s1.Add("shoes-0001", 40m);
        Assert.Equal(AbandonedAt, add.EventTime + Min(30));
        return (shopper, s1, add);
    }

    private static List<AuditRecord> Suppressed(Scenario scenario, string reason) => scenario.AuditsOf(AuditDecisions.Suppressed, reason);

    // ------------------------------------------------------------ order / payment (purchase grace)

    [Fact]
    public void A_late_order_inside_the_purchase_grace_window_suppresses_the_step()
    {
        var (shopper, s1, _) = Cart();
        // Another shopper's event at due+3 min moves the settled watermark past the step's due time (10:32 > 10:31):
        // without the grace the step would fire now. The order placed at due+2 min reaches the worker after it.
        var noise = new ShopperScript("cust-2", Step1Due + Min(3)).Session("n1").Start();
        shopper.At(Step1Due + Min(2));
        var order = s1.Order();
        Assert.True(order.EventTime < Step1Fires);

        var scenario = new Scenario().Run([.. shopper.Events.Where(e => e != order), noise, order]).Drain();

        Assert.Empty(scenario.Reminders);
        Assert.Empty(scenario.AuditsOf(AuditDecisions.LateEvent));
        var suppressed = Suppressed(scenario, SuppressionReason.OrderPlaced);
        Assert.Equal([1, 2], suppressed.Select(a => a.Step));
        Assert.All(suppressed, a =>
        {
            Assert.Equal([order.EventId], a.Evidence);
            Assert.Equal(order.EventTime, a.EventTime);
            Assert.Equal("s1", a.SessionId);
        });
        // Ordered before any message: a normal order, not a recovery (the abandonment stays on the row).
        var outcome = Assert.Single(scenario.Outcomes, o => o.SessionId == "s1");
        Assert.Equal(Outcomes.Ordered, outcome.Outcome);
        Assert.NotNull(outcome.AbandonedAt);
        Assert.Equal(order.EventTime, outcome.OrderedAt);
    }

    [Fact]
    public void Without_the_purchase_grace_the_same_input_sends_step1_first()
    {
        var (shopper, s1, _) = Cart();
        var noise = new ShopperScript("cust-2", Step1Due + Min(3)).Session("n1").Start();
        shopper.At(Step1Due + Min(2));
        var order = s1.Order();

        var scenario = new Scenario(Policies.NoHoldout with { PurchaseGrace = TimeSpan.Zero })
            .Run([.. shopper.Events.Where(e => e != order), noise, order]).Drain();

        var step1 = Assert.Single(scenario.Reminders);
        Assert.Equal(Step1Due, step1.EventTime);
        Assert.Equal(2, Assert.Single(Suppressed(scenario, SuppressionReason.OrderPlaced)).Step);
    }

    [Fact]
    public void A_payment_authorization_inside_the_grace_window_suppresses_the_step_too()
    {
        var (shopper, s1, _) = Cart();
        shopper.At(Step1Due + Min(4));
        var payment = s1.Authorize(40m);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        Assert.Equal([1, 2], Suppressed(scenario, SuppressionReason.OrderPlaced).Select(a => a.Step));
        Assert.All(Suppressed(scenario, SuppressionReason.OrderPlaced), a => Assert.Equal([payment.EventId], a.Evidence));
    }

    // ------------------------------------------------------------ consent

    [Fact]
    public void No_consent_suppresses_every_step_with_no_consent()
    {
        var (shopper, _, add) = Cart(consent: "");
        shopper.Grant("push", T0 - Days(1), purpose: "marketing"); // another purpose does not count

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Triggers);
        var suppressed = Suppressed(scenario, SuppressionReason.NoConsent);
        Assert.Equal([1, 2], suppressed.Select(a => a.Step));
        Assert.Equal([Step1Fires, Step2Fires], suppressed.Select(a => a.EventTime));
        Assert.All(suppressed, a => Assert.Equal([add.EventId], a.Evidence));
        Assert.All(suppressed, a => Assert.Equal("", a.Channel));
    }

    [Fact]
    public void Consent_only_on_email_sends_on_email_relying_on_that_grant()
    {
        var (shopper, _, add) = Cart(consent: "");
        shopper.Grant("push", T0 - Days(1), purpose: "marketing");
        var email = shopper.Grant("email", T0 - Days(2));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal(["email", "email"], scenario.Reminders.Select(t => t.Channel));
        Assert.All(scenario.Reminders, t => Assert.Equal(email.EventId, t.ConsentEventId));
        var audit = scenario.AuditsOf(AuditDecisions.Triggered).First();
        Assert.Equal("email", audit.Channel);
        Assert.Equal([email.EventId, add.EventId], audit.Evidence);
    }

    [Fact]
    public void A_grant_after_the_step_fires_does_not_count()
    {
        var (shopper, _, _) = Cart(consent: "");
        var late = shopper.Grant("email", Step1Fires + Min(1));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal(1, Assert.Single(Suppressed(scenario, SuppressionReason.NoConsent)).Step);
        var step2 = Assert.Single(scenario.Reminders);
        Assert.Equal(2, step2.Step);
        Assert.Equal(late.EventId, step2.ConsentEventId);
    }

    public static TheoryData<string> OptOuts => ["withdrawn", "unsubscribed"];

    [Theory]
    [MemberData(nameof(OptOuts))]
    public void An_opt_out_after_step1_was_sent_cancels_the_scheduled_step2(string kind)
    {
        var (shopper, _, _) = Cart();
        var at = Step1Fires + Hours(1);
        ConsentEvent optOut = kind == "withdrawn" ? shopper.Withdraw("push", at) : shopper.Unsubscribe("push", at);

        var scenario = Scenario.Play(shopper.Events);

        var step1 = Assert.Single(scenario.Reminders);
        Assert.Equal(1, step1.Step);
        Assert.Equal(Step1Fires, step1.EventTime);
        var suppressed = Assert.Single(Suppressed(scenario, SuppressionReason.ConsentWithdrawn));
        Assert.Equal(2, suppressed.Step);
        Assert.Equal(Step2Fires, suppressed.EventTime);
        Assert.Equal([optOut.EventId], suppressed.Evidence);
        var change = Assert.Single(scenario.AuditsOf(AuditDecisions.ConsentChanged, kind));
        Assert.Equal([optOut.EventId], change.Evidence);
        Assert.Equal("push", change.Channel);
    }

    [Theory]
    [MemberData(nameof(OptOuts))]
    public void An_opt_out_at_the_very_instant_the_step_fires_wins(string kind)
    {
        var (shopper, _, _) = Cart();
        // Another shopper's event puts the settled watermark exactly at the fire time when the opt-out arrives:
        // the step has not fired yet (a timer fires strictly after), and the opt-out at that instant is not late.
        var noise = new ShopperScript("cust-2", Step2Fires + Min(2)).Session("n1").Start();
        ConsentEvent optOut = kind == "withdrawn" ? shopper.Withdraw("push", Step2Fires) : shopper.Unsubscribe("push", Step2Fires);

        var scenario = new Scenario().Run([.. shopper.Events.Where(e => e != optOut), noise, optOut]).Drain();

        Assert.Empty(scenario.AuditsOf(AuditDecisions.LateEvent));
        Assert.Equal([1], scenario.Reminders.Select(t => t.Step));
        var suppressed = Assert.Single(Suppressed(scenario, SuppressionReason.ConsentWithdrawn));
        Assert.Equal(2, suppressed.Step);
        Assert.Equal(Step2Fires, suppressed.EventTime);
        Assert.Equal([optOut.EventId], suppressed.Evidence);
    }

    [Fact]
    public void A_withdrawal_and_a_grant_at_the_same_instant_resolve_to_the_withdrawal()
    {
        var (shopper, _, _) = Cart();
        var at = Step1Fires - Min(10);
        var withdraw = shopper.Withdraw("push", at);
        shopper.Grant("push", at);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        Assert.All(Suppressed(scenario, SuppressionReason.ConsentWithdrawn), a => Assert.Equal([withdraw.EventId], a.Evidence));
        Assert.Equal(2, Suppressed(scenario, SuppressionReason.ConsentWithdrawn).Count);
        Assert.Single(scenario.AuditsOf(AuditDecisions.ConsentChanged, "granted_superseded"));
    }

    // ------------------------------------------------------------ caps

    [Fact]
    public void The_per_cart_cap_suppresses_the_third_step()
    {
        var (shopper, _, add) = Cart();
        var push = (ConsentGranted)shopper.Events[0];

        var scenario = Scenario.Play(shopper.Events, Policies.ThreeSteps(perCart: 2));

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        var capped = Assert.Single(Suppressed(scenario, SuppressionReason.CapPerCart));
        Assert.Equal(3, capped.Step);
        Assert.Equal(AbandonedAt + Hours(72) + Min(5), capped.EventTime);
        Assert.Equal([push.EventId, add.EventId], capped.Evidence);
        Assert.Equal("push", capped.Channel);
    }

    [Fact]
    public void The_per_shopper_cap_is_shared_by_two_carts_on_two_devices()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        var web = shopper.Session("s1", channel: "web");
        var app = shopper.Session("s2", channel: "app");
        web.Start();                                  // 09:00
        web.Add("shoes-0001", 40m);                   // 09:01 -> abandoned 09:31
        shopper.At(T0 + Min(10));
        app.Start();                                  // 09:10
        var appAdd = app.Add("jackets-0002", 60m);    // 09:11 -> abandoned 09:41

        var scenario = Scenario.Play(shopper.Events);

        // s1 step 1 (10:36), s2 step 1 (10:46), s1 step 2 (next day 09:36): three in 7 days; s2 step 2 is the fourth.
        Assert.Equal([("s1", 1), ("s2", 1), ("s1", 2)], scenario.Reminders.Select(t => (t.SessionId, t.Step)));
        var capped = Assert.Single(Suppressed(scenario, SuppressionReason.CapPerShopper));
        Assert.Equal("s2", capped.SessionId);
        Assert.Equal(2, capped.Step);
        Assert.Equal(appAdd.EventTime + Min(30) + Hours(24) + Min(5), capped.EventTime);
        Assert.Equal(scenario.Reminders.Select(t => t.TriggerId), capped.Evidence);
        Assert.Equal([Outcomes.Abandoned, Outcomes.Abandoned], scenario.Outcomes.Select(o => o.Outcome));
    }

    [Fact]
    public void Messages_older_than_the_per_shopper_window_no_longer_count()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        foreach (var (session, day) in new[] { ("s1", 0), ("s2", 8) })
        {
            var s = shopper.Session(session);
            shopper.At(T0 + Days(day));
            s.Start();
            s.Add("shoes-0001", 40m);
        }

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([("s1", 1), ("s1", 2), ("s2", 1), ("s2", 2)], scenario.Reminders.Select(t => (t.SessionId, t.Step)));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed));
    }

    // ------------------------------------------------------------ purchases elsewhere, resumed sessions

    /// <summary>The shopper bought shoes-0001 in another session two hours before putting it in this cart again.</summary>
    private static (ShopperScript Shopper, SessionScript Session, OrderPlaced Order) CartOfAnItemBoughtBefore()
    {
        var shopper = new ShopperScript("cust-1", T0 - Hours(2));
        shopper.Grant("push", T0 - Days(1));
        var earlier = shopper.Session("s0", channel: "app");
        earlier.Start();
        var order = earlier.Order([new CartLine { Sku = "shoes-0001", UnitPrice = 40m, Quantity = 1 }]);
        shopper.At(T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        return (shopper, s1, order);
    }

    [Fact]
    public void Items_already_bought_in_another_session_suppress_the_reminder()
    {
        var (shopper, _, order) = CartOfAnItemBoughtBefore();

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        var suppressed = Suppressed(scenario, SuppressionReason.ItemsAlreadyBought);
        Assert.Equal([1, 2], suppressed.Select(a => a.Step));
        Assert.Equal("s1", suppressed[0].SessionId);
        Assert.Equal(Step1Fires, suppressed[0].EventTime);
        Assert.All(suppressed, a => Assert.Contains(order.EventId, a.Evidence));
        var outcomes = scenario.Outcomes.ToDictionary(o => o.SessionId, o => o.Outcome);
        Assert.Equal(Outcomes.Ordered, outcomes["s0"]);
        Assert.Equal(Outcomes.Abandoned, outcomes["s1"]);
    }

    [Fact]
    public void A_reminder_never_lists_an_item_bought_since_it_lists_the_rest()
    {
        var (shopper, s1, order) = CartOfAnItemBoughtBefore();
        s1.Add("lamps-0009", 15m, at: T0 + Min(1)); // same instant as the first line: abandonment time unchanged

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Where(t => t.SessionId == "s1").Select(t => t.Step));
        Assert.All(scenario.Reminders, t =>
        {
            Assert.Equal(["lamps-0009"], t.CartLines.Select(l => l.Sku));
            Assert.Equal(15m, t.CartValue);
        });
        var sent = scenario.AuditsOf(AuditDecisions.Triggered, DecisionReason.ReminderStep);
        Assert.All(sent, a => Assert.Contains(order.EventId, a.Evidence));
        Assert.Empty(Suppressed(scenario, SuppressionReason.ItemsAlreadyBought));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_order_in_another_session_after_the_cart_was_left_ends_its_case_whatever_it_bought(bool withLines)
    {
        var (shopper, _, _) = Cart();
        var other = shopper.Session("s2", channel: "app");
        shopper.At(T0 + Min(40));
        other.Start();
        var order = other.Order(withLines ? [new CartLine { Sku = "socks-0003", UnitPrice = 5m, Quantity = 1 }] : []);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        var suppressed = Suppressed(scenario, SuppressionReason.OrderPlaced);
        Assert.Equal([("s1", 1), ("s1", 2)], suppressed.Select(a => (a.SessionId, a.Step)));
        Assert.All(suppressed, a => Assert.Equal([order.EventId], a.Evidence));
        Assert.All(suppressed, a => Assert.Equal(Step1Fires, a.EventTime));
    }

    [Fact]
    public void A_session_resumed_after_abandonment_cancels_the_pending_step()
    {
        var (shopper, s1, _) = Cart();
        shopper.At(AbandonedAt + Min(10));
        var back = s1.View("shoes-0001");

        var scenario = Scenario.Play(shopper.Events);

        var resumed = Assert.Single(Suppressed(scenario, SuppressionReason.SessionResumed));
        Assert.Equal(1, resumed.Step);
        Assert.Equal(back.EventTime, resumed.EventTime);
        Assert.Equal([back.EventId], resumed.Evidence);
        // No reminder for the first abandonment; the second one (30 min after the return) starts a new sequence.
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.Abandoned).Count);
        var step1 = scenario.Reminders[0];
        Assert.Equal(back.EventTime + Min(30) + Hours(1) + Min(5), step1.EventTime);
        Assert.Equal(DeterministicId.From("trigger", TriggerKinds.Reminder, "default-2026-11", "cust-1", "s1", SessionStarts.Key(shopper.Events, "s1"), "2", "1"), step1.TriggerId);
    }

    [Fact]
    public void A_session_resumed_between_steps_cancels_step2_and_keeps_the_per_cart_count()
    {
        var (shopper, s1, _) = Cart();
        shopper.At(Step1Fires + Hours(2));
        var back = s1.View("shoes-0001");

        var scenario = Scenario.Play(shopper.Events);

        var resumed = Assert.Single(Suppressed(scenario, SuppressionReason.SessionResumed));
        Assert.Equal(2, resumed.Step);
        Assert.Equal([back.EventId], resumed.Evidence);
        // Re-abandoned: its step 1 is the cart's second message; its step 2 would be the third (cap 2 per cart).
        Assert.Equal([1, 1], scenario.Reminders.Select(t => t.Step));
        var capped = Assert.Single(Suppressed(scenario, SuppressionReason.CapPerCart));
        Assert.Equal(2, capped.Step);
    }

    // ------------------------------------------------------------ holdout

    [Fact]
    public void Holdout_carts_get_no_message_and_are_marked_as_holdout()
    {
        var (shopper, _, add) = Cart();
        var push = (ConsentGranted)shopper.Events[0];

        var scenario = Scenario.Play(shopper.Events, Policies.Default with { HoldoutShare = 1 });

        Assert.Empty(scenario.Triggers);
        var suppressed = Suppressed(scenario, SuppressionReason.Holdout);
        Assert.Equal([1, 2], suppressed.Select(a => a.Step));
        Assert.All(suppressed, a => Assert.Equal([push.EventId, add.EventId], a.Evidence));
        Assert.Contains("holdout=1", Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned)).Detail);
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.True(outcome.Holdout);
        Assert.Equal(Outcomes.Abandoned, outcome.Outcome);
    }

    [Fact]
    public void Under_the_default_policy_a_cart_hashed_into_the_holdout_gets_no_message()
    {
        // Find, through the engine, the first of cust-h0..cust-h99 whose cart lands in the default 10% holdout.
        Scenario? held = null;
        for (var i = 0; i < 100 && held is null; i++)
        {
            var shopper = new ShopperScript($"cust-h{i}", T0);
            shopper.Grant("push", T0 - Days(1));
            var s = shopper.Session("s1");
            s.Start();
            s.Add("shoes-0001", 40m);
            var scenario = Scenario.Play(shopper.Events, Policies.Default);
            if (scenario.Outcomes.Single().Holdout) held = scenario;
            else Assert.Equal(2, scenario.Reminders.Count);
        }

        Assert.NotNull(held);
        Assert.Empty(held.Triggers);
        Assert.Equal(2, Suppressed(held, SuppressionReason.Holdout).Count);
    }
}
