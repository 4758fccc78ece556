using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Assist;

/// <summary>Proactive assist: a high-value cart idle on checkout, or repeated payment failures, emits one
/// proactive_chat trigger while the shopper is still there.</summary>
public class ProactiveAssistTests
{
    private const string Version = "default-2026-11";

    [Fact]
    public void A_high_value_cart_idle_on_checkout_for_3_minutes_gets_one_chat_on_the_eager_watermark()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();                                       // 09:00
        s1.Add("watches-0100", 120m);                     // 09:01
        s1.Add("shoes-0001", 40m, quantity: 2);           // 09:02
        var checkout = s1.Checkout();                     // 09:03: 200 EUR on checkout (threshold 150)
        var scenario = new Scenario().Run(shopper.Events);

        // Traffic from another shopper at 09:06:00 does not pass 09:06 yet; a second later it does.
        scenario.Feed(new ShopperScript("cust-2", checkout.EventTime + Min(3)).Session("n1").Start());
        Assert.Empty(scenario.Triggers);
        scenario.Feed(new ShopperScript("cust-3", checkout.EventTime + Min(3) + Sec(1)).Session("n1").Start());

        var chat = Assert.Single(scenario.Triggers);
        Assert.True(scenario.Watermark.Settled < checkout.EventTime + Min(3), "fires on the eager watermark, not the settled one");
        Assert.Equal(TriggerKinds.ProactiveChat, chat.Kind);
        Assert.Equal(RecoveryEngine.ChatChannel, chat.Channel);
        Assert.Equal(0, chat.Step);
        Assert.Equal(DecisionReason.CheckoutIdle, chat.Reason);
        Assert.Equal(checkout.EventTime + Min(3), chat.EventTime);
        Assert.Equal(checkout.EventTime + Min(3), chat.DueTime);
        Assert.Equal(DeterministicId.From("trigger", TriggerKinds.ProactiveChat, Version, "cust-1", "s1", SessionStarts.Key(shopper.Events, "s1"), "0"), chat.TriggerId); // visit 0
        Assert.Equal("checkout", chat.FunnelStep);
        Assert.Equal(["shoes-0001", "watches-0100"], chat.CartLines.Select(l => l.Sku));
        Assert.Equal([2, 1], chat.CartLines.Select(l => l.Quantity));
        Assert.Equal(200m, chat.CartValue);
        Assert.Empty(chat.PaymentErrorCodes);
        Assert.Equal("", chat.ConsentEventId);
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered, DecisionReason.CheckoutIdle));
        Assert.Equal([checkout.EventId], audit.Evidence);

        scenario.Drain();
        Assert.Single(scenario.Chats);
    }

    [Theory]
    [InlineData(149.99, true)]   // below the value threshold
    [InlineData(200.00, false)]  // on the cart page, not in checkout
    public void No_chat_for_a_cheap_cart_or_a_cart_not_in_checkout(double value, bool inCheckout)
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("watches-0100", (decimal)value);
        if (inCheckout) s1.Checkout();

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Chats);
    }

    [Fact]
    public void Activity_within_the_3_minutes_postpones_the_chat()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("watches-0100", 200m);
        s1.Checkout();                                    // 09:02
        shopper.At(T0 + Min(4) + Sec(30));
        var step = s1.Step("shipping");                   // 09:04:30

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal(step.EventTime + Min(3), Assert.Single(scenario.Chats).EventTime);
    }

    [Fact]
    public void The_second_payment_failure_fires_the_chat_on_that_event()
    {
        var shopper = new ShopperScript("cust-1", T0) { Spacing = Sec(40) };
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("books-0001", 50m);                       // below the idle-checkout threshold: only failures count
        s1.Checkout();
        var first = s1.PaymentFailed("card_declined");
        var second = s1.PaymentFailed("3ds_failed");
        s1.PaymentFailed("card_declined");

        var scenario = new Scenario();
        foreach (var evt in shopper.Events)
        {
            scenario.Feed(evt);
            if (evt == first) Assert.Empty(scenario.Triggers);
            if (evt == second) Assert.Single(scenario.Triggers);
        }
        scenario.Drain();

        var chat = Assert.Single(scenario.Chats);
        Assert.Equal(second.EventTime, chat.EventTime);
        Assert.Equal(DecisionReason.RepeatedPaymentFailures, chat.Reason);
        Assert.Equal(["card_declined", "3ds_failed"], chat.PaymentErrorCodes);
        Assert.Equal("payment", chat.FunnelStep);
        Assert.Equal(50m, chat.CartValue);
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered, DecisionReason.RepeatedPaymentFailures));
        Assert.Equal([second.EventId], audit.Evidence);
    }

    [Fact]
    public void A_high_value_cart_with_payment_failures_and_idling_gets_only_one_chat()
    {
        var shopper = new ShopperScript("cust-1", T0) { Spacing = Sec(30) };
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("watches-0100", 300m);
        s1.Checkout();
        s1.PaymentFailed("card_declined");
        var second = s1.PaymentFailed("insufficient_funds");
        shopper.Wait(Min(10));
        s1.PaymentFailed("card_declined");

        var scenario = Scenario.Play(shopper.Events);

        var chat = Assert.Single(scenario.Chats);
        Assert.Equal(second.EventTime, chat.EventTime);
        Assert.Equal("high_value", chat.Segment);
    }

    [Fact]
    public void Assist_can_be_disabled_in_the_policy()
    {
        var policy = Policies.Edited(root => root["defaults"]!["proactive_assist"]!["enabled"] = false) with { HoldoutShare = 0 };
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("watches-0100", 200m);
        s1.Checkout();
        s1.PaymentFailed("card_declined");
        s1.PaymentFailed("card_declined");

        Assert.Empty(Scenario.Play(shopper.Events, policy).Chats);
    }
}
