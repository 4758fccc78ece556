using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Suppression;

/// <summary>A purchase anywhere ends the reminders: an order or payment authorization of the shopper, in any session,
/// after a cart was left, suppresses that cart's remaining steps even when it lists no lines; a pending payment holds
/// them. Unless stated otherwise: cust-1 adds a 40 EUR line on s1 (web) at 09:01, abandoned 09:31, step 1 fires 10:36.</summary>
public class PurchaseAnywhereTests
{
    private static readonly DateTimeOffset AbandonedAt = T0 + Min(31);
    private static readonly DateTimeOffset Step1Fires = AbandonedAt + Hours(1) + Min(5);
    private static readonly DateTimeOffset Step2Fires = AbandonedAt + Hours(24) + Min(5);

    private static (ShopperScript Shopper, SessionScript Laptop, SessionScript Phone) LaptopCart()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("email", T0 - Days(1));
        var laptop = shopper.Session("s-laptop");
        laptop.Start();
        laptop.Add("chair-03", 89m);
        return (shopper, laptop, shopper.Session("s-phone", channel: "app"));
    }

    private static ShopperEvent Pending(ShopperScript shopper, DateTimeOffset at, string? sessionId) =>
        shopper.Emit((id, t) => new PaymentPending { EventId = id, ShopperId = shopper.ShopperId, EventTime = t, SessionId = sessionId, Amount = 89m }, at);

    [Theory]
    [InlineData("authorized")] // case 03b: payment_authorized and order_placed without lines on the phone
    [InlineData("ordered")]
    [InlineData("both")]
    public void A_purchase_without_lines_on_another_device_after_the_abandonment_ends_the_case(string how)
    {
        var (shopper, _, phone) = LaptopCart();
        shopper.At(T0 + Min(45));
        phone.Start();
        var first = how == "ordered" ? phone.Order([], at: T0 + Min(50)) : (ShopperEvent)phone.Authorize(89m, at: T0 + Min(50));
        if (how == "both") phone.Order([], at: T0 + Min(50));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        var suppressed = scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.OrderPlaced);
        Assert.Equal([("s-laptop", 1), ("s-laptop", 2)], suppressed.Select(a => (a.SessionId, a.Step)));
        Assert.All(suppressed, a => Assert.Equal([first.EventId], a.Evidence));
    }

    [Fact]
    public void An_order_elsewhere_while_the_cart_sat_idle_before_the_timeout_ends_it_too()
    {
        var (shopper, _, phone) = LaptopCart();
        shopper.At(T0 + Min(20)); // before the 09:31 abandonment, after the laptop's last activity
        phone.Start();
        phone.Order([]);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.OrderPlaced).Count);
    }

    [Fact]
    public void An_order_placed_before_the_cart_was_last_touched_does_not_end_it()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("email", T0 - Days(1));
        var phone = shopper.Session("s-phone", channel: "app");
        phone.Start();
        phone.Order([new CartLine { Sku = "socks-0003", UnitPrice = 5m, Quantity = 1 }]);
        var laptop = shopper.Session("s-laptop");
        shopper.At(T0 + Min(10));
        laptop.Start();
        laptop.Add("chair-03", 89m);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.OrderPlaced));
    }

    [Fact]
    public void An_order_between_step_1_and_step_2_suppresses_step_2_only()
    {
        var (shopper, _, phone) = LaptopCart();
        shopper.At(Step1Fires + Hours(2));
        phone.Start();
        var order = phone.Authorize(89m);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1], scenario.Reminders.Select(t => t.Step));
        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.OrderPlaced));
        Assert.Equal((2, Step2Fires), (suppressed.Step, suppressed.EventTime));
        Assert.Equal([order.EventId], suppressed.Evidence);
    }

    [Theory]
    [InlineData("s-laptop")]
    [InlineData(null)]
    public void A_pending_payment_holds_the_reminder(string? sessionId)
    {
        var (shopper, _, _) = LaptopCart();
        var pending = Pending(shopper, T0 + Min(40), sessionId);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        var held = scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.PaymentPending);
        Assert.Equal([1, 2], held.Select(a => a.Step));
        Assert.All(held, a => Assert.Equal(pending.EventId, a.Evidence[0]));
    }

    [Fact]
    public void A_pending_payment_that_failed_no_longer_holds_the_next_step()
    {
        var (shopper, laptop, _) = LaptopCart();
        Pending(shopper, T0 + Min(40), "s-laptop");
        laptop.PaymentFailed("card_declined", at: Step1Fires + Hours(1)); // resumes the cart: a new abandonment follows

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1], scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.PaymentPending).Select(a => a.Step));
        Assert.NotEmpty(scenario.Reminders);
        Assert.All(scenario.Reminders, t => Assert.True(t.EventTime > Step1Fires + Hours(1)));
    }

    [Fact]
    public void A_pending_payment_holds_no_longer_than_the_policy_s_hold()
    {
        var (shopper, _, _) = LaptopCart();
        Pending(shopper, T0 + Min(40), null);
        var policy = Policies.NoHoldout with { PaymentPendingHold = Hours(3) };

        var scenario = Scenario.Play(shopper.Events, policy);

        Assert.Equal([1], scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.PaymentPending).Select(a => a.Step));
        Assert.Equal([2], scenario.Reminders.Select(t => t.Step));
    }

    [Fact]
    public void A_pending_payment_before_the_cart_was_last_touched_in_another_session_does_not_hold_it()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("email", T0 - Days(1));
        Pending(shopper, T0, "s-other");
        var laptop = shopper.Session("s-laptop");
        shopper.At(T0 + Min(5));
        laptop.Start();
        laptop.Add("chair-03", 89m);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
    }
}
