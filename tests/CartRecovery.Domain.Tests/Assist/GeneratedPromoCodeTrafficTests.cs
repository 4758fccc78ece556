using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Traffic;

namespace CartRecovery.Domain.Tests.Assist;

/// <summary>The generated traffic (main job, load harness) refuses promo codes during some checkouts, so the promo-code
/// chat runs, and is measured, like the payment-failure chat.</summary>
public sealed class GeneratedPromoCodeTrafficTests
{
    [Fact]
    public void Some_checkouts_have_a_refused_promo_code_after_the_checkout_began_and_before_the_order_with_an_enumerated_reason()
    {
        var generated = StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 3_000, Seed = 11 });
        var events = generated.Select(g => g.Event).ToList();
        var refusals = generated.Where(g => g.Event is PromoCodeRejected).ToList();
        var checkouts = events.OfType<CheckoutStarted>().ToDictionary(c => c.SessionId, c => c.EventTime);
        var orders = events.OfType<OrderPlaced>().GroupBy(o => o.SessionId).ToDictionary(g => g.Key, g => g.Min(o => o.EventTime));

        Assert.NotEmpty(refusals);
        // About 8 % of checkouts: far from none and from all.
        Assert.InRange((double)refusals.Count / checkouts.Count, 0.04, 0.12);
        Assert.All(refusals, g =>
        {
            var refusal = (PromoCodeRejected)g.Event;
            Assert.Equal(Topics.CartEvents, g.Topic);
            Assert.Contains(refusal.Reason, PromoCodeRejections.All);
            Assert.True(checkouts.TryGetValue(refusal.SessionId, out var began) && refusal.EventTime > began, refusal.EventId);
            // Before the shopper pays: a code is entered at the payment step, never after the order.
            Assert.True(!orders.TryGetValue(refusal.SessionId, out var ordered) || refusal.EventTime < ordered, refusal.EventId);
        });
        Assert.Equal(refusals.Count, refusals.Select(g => g.Event.EventId).Distinct().Count());
    }
}
