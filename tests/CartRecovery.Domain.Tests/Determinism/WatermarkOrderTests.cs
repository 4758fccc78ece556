using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Determinism;

/// <summary>
/// Minimal reproductions of what the cross-shopper shuffle property finds: one shopper's decisions must not
/// depend on where another shopper's event, less than the allowed lateness away, sits in the input.
/// </summary>
public class WatermarkOrderTests
{
    [Fact]
    public void An_on_time_order_after_the_grace_never_depends_on_other_shoppers_traffic_when_no_step_is_near()
    {
        // Control case (passes today): the order comes 10 minutes after step 1 fired, far from the watermark boundary.
        var (events, order, noise) = OrderAfterStep1(Min(10));
        var first = new Scenario().Run([.. events, order, noise]).Drain();
        var second = new Scenario().Run([.. events, noise, order]).Drain();

        Assert.Equal(first.CanonicalOutputs(), second.CanonicalOutputs());
        Assert.Single(first.Reminders);
    }

    [Fact]
    public void A_step_whose_fire_time_precedes_an_on_time_order_is_sent_whatever_other_shoppers_send()
    {
        // Step 1 fires at 10:36 (due 10:31 + 5 min grace). The order is placed at 10:38, i.e. after the grace ended,
        // and is the newest event when it arrives (settled watermark = 10:36, not strictly past the deadline).
        // Another shopper's event at 10:38:01 arrives just before or just after it.
        var (events, order, noise) = OrderAfterStep1(Min(2));
        var orderFirst = new Scenario().Run([.. events, order, noise]).Drain();
        var noiseFirst = new Scenario().Run([.. events, noise, order]).Drain();

        Assert.Equal(noiseFirst.CanonicalOutputs(), orderFirst.CanonicalOutputs());
        Assert.Equal(1, Assert.Single(orderFirst.Reminders).Step);
    }

    private static (List<ShopperEvent> Events, OrderPlaced Order, ShopperEvent Noise) OrderAfterStep1(TimeSpan after)
    {
        var step1Fires = T0 + Min(31) + Hours(1) + Min(5);
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        var order = s1.Order(at: step1Fires + after);
        var noise = new ShopperScript("cust-2", order.EventTime + Sec(1)).Session("n1").Start();
        return ([.. shopper.Events.Where(e => e != order)], order, noise);
    }

}
