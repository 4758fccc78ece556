using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Tests.Support;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Orders;

/// <summary>
/// A session's outcome row is keyed by (shopper, session, start) and re-emitted under that key when the session ends
/// again. The shopper who pays and then comes back to the same session (a view after paying, a refused code, a late
/// app event) must not turn the ordered row into one without the order: FINAL keeps only the last row.
/// </summary>
public sealed class OrderSurvivesReturnTests
{
    private static (ShopperScript Shopper, SessionScript Session, DateTimeOffset OrderedAt) PaidSession()
    {
        var shopper = new ShopperScript("cust-77", T0);
        shopper.Grant("email", T0 - Days(1));
        var s = shopper.Session("s-77");
        s.Start();
        s.Add("coat-1", 90m);
        s.Checkout();
        var order = s.Order();
        return (shopper, s, order.EventTime);
    }

    /// <summary>The row FINAL shows: the last one emitted for the session's key.</summary>
    private static SessionOutcome Final(Scenario scenario, string sessionId) => scenario.Outcomes.Last(o => o.SessionId == sessionId);

    [Fact]
    public void A_view_and_a_refused_code_after_the_order_leave_the_session_ordered_with_its_value()
    {
        var (shopper, s, _) = PaidSession();
        s.View("coat-2", at: shopper.Now + TimeSpan.FromSeconds(10));
        s.PromoCodeRejected("expired", at: shopper.Now + TimeSpan.FromSeconds(20));

        var final = Final(Scenario.Play(shopper.Events), "s-77");

        Assert.Equal(Outcomes.Ordered, final.Outcome);
        Assert.NotNull(final.OrderedAt);
        Assert.Equal(90m, final.OrderValue);
        Assert.Equal(90m, final.CartValue);
    }

    [Fact]
    public void A_new_cart_left_after_the_order_is_abandoned_on_a_row_that_still_carries_the_order()
    {
        var (shopper, s, orderedAt) = PaidSession();
        s.Add("scarf-1", 20m, at: shopper.Now + TimeSpan.FromMinutes(2));

        var final = Final(Scenario.Play(shopper.Events), "s-77");

        Assert.Equal(Outcomes.Abandoned, final.Outcome);
        Assert.Equal(orderedAt, final.OrderedAt);
        Assert.Equal(90m, final.OrderValue);
        Assert.True(final.AbandonedAt > final.OrderedAt, "the new cart was left after the order");
    }
}
