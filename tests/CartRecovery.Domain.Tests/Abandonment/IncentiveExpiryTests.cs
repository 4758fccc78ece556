using System.Text.Json.Nodes;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Abandonment;

/// <summary>Incentives that expire: the 72 h step's code carries its type, value and expiry; it is voided (an
/// incentive_void trigger and an audit row) when it expires, or at the order time when the shopper orders first.
/// cust-1111 adds a bag at 09:01 on s-web: abandoned 09:31, the code is issued with step 3 at 72 h + 5 min.</summary>
public class IncentiveExpiryTests
{
    private static readonly DateTimeOffset AbandonedAt = T0 + Min(31);
    private static readonly DateTimeOffset Step3Fires = AbandonedAt + Hours(72) + Min(5);

    private static RecoveryPolicy Offering(string type = "percent", decimal? value = 10, string validFor = "2d") => Policies.Edited(r =>
    {
        foreach (var steps in new[] { r["defaults"]!["steps"]! }.Concat(r["segments"]!.AsArray().Select(s => s!["steps"]).OfType<JsonNode>()))
        {
            var step = steps[2]!.AsObject();
            step["enabled"] = true;
            step["incentive_type"] = type;
            step.Remove("incentive_value");
            if (value is not null) step["incentive_value"] = value;
            step["incentive_valid_for"] = validFor;
        }
        r["defaults"]!["caps"]!["per_cart"] = 3;
    }) with { HoldoutShare = 0 };

    private static (ShopperScript Shopper, SessionScript Web) Bag()
    {
        var shopper = new ShopperScript("cust-1111", T0);
        shopper.Grant("email", T0 - Days(1));
        var web = shopper.Session("s-web");
        web.Start();
        web.Add("bag-11", 120m);
        return (shopper, web);
    }

    [Theory]
    [InlineData("percent", 10)]
    [InlineData("fixed_amount", 15)]
    [InlineData("free_shipping", null)]
    public void The_code_carries_its_type_value_and_expiry(string type, int? value)
    {
        var (shopper, _) = Bag();

        var scenario = Scenario.Play(shopper.Events, Offering(type, value));

        var step3 = Assert.Single(scenario.Reminders, t => t.Step == 3);
        Assert.Equal((type, (decimal)(value ?? 0), Step3Fires + Days(2)), (step3.IncentiveType, step3.IncentiveValue, step3.IncentiveExpiresAt));
        Assert.All(scenario.Reminders.Where(t => t.Step < 3), t => Assert.Null(t.IncentiveExpiresAt));
    }

    [Fact]
    public void An_unused_code_is_voided_when_it_expires()
    {
        var (shopper, _) = Bag();

        var scenario = Scenario.Play(shopper.Events, Offering());

        var step3 = Assert.Single(scenario.Reminders, t => t.Step == 3);
        var voided = Assert.Single(scenario.Triggers, t => t.Kind == TriggerKinds.IncentiveVoid);
        Assert.Equal((step3.IncentiveCode, DecisionReason.IncentiveExpired, step3.IncentiveExpiresAt!.Value),
            (voided.IncentiveCode, voided.Reason, voided.EventTime));
        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered, DecisionReason.IncentiveExpired));
        Assert.Equal([step3.TriggerId], audit.Evidence);
        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal((Outcomes.Abandoned, step3.IncentiveExpiresAt!.Value), (outcome.Outcome, outcome.EndedAt));
    }

    [Fact]
    public void An_order_in_another_session_voids_the_code_at_the_order_time_and_a_later_cart_gets_a_new_expiring_code()
    {
        var (shopper, _) = Bag();
        var app = shopper.Session("s-app", channel: "app");
        shopper.At(Step3Fires + Hours(20));
        app.Start();
        var order = app.Order([new Contracts.Events.CartLine { Sku = "bag-11", UnitPrice = 120m, Quantity = 1 }]);
        shopper.At(T0 + Days(18));
        var web2 = shopper.Session("s-web2");
        web2.Start();
        web2.Add("belt-11", 45m);

        var scenario = Scenario.Play(shopper.Events, Offering());

        var codes = scenario.Reminders.Where(t => t.IncentiveCode != "").ToList();
        Assert.Equal(["s-web", "s-web2"], codes.Select(t => t.SessionId));
        Assert.All(codes, t => Assert.Equal(t.EventTime + Days(2), t.IncentiveExpiresAt));
        var voids = scenario.Triggers.Where(t => t.Kind == TriggerKinds.IncentiveVoid).ToList();
        Assert.Equal([(codes[0].IncentiveCode, DecisionReason.OrderVoidsIncentive, order.EventTime),
                (codes[1].IncentiveCode, DecisionReason.IncentiveExpired, codes[1].IncentiveExpiresAt!.Value)],
            voids.Select(v => (v.IncentiveCode, v.Reason, v.EventTime)));
    }

    [Fact]
    public void A_code_already_expired_when_the_shopper_orders_is_not_voided_by_the_order()
    {
        var (shopper, web) = Bag();
        shopper.At(Step3Fires + Days(3));
        web.View("bag-11"); // back after the code expired
        web.Order();

        var scenario = Scenario.Play(shopper.Events, Offering());

        var voided = Assert.Single(scenario.Triggers, t => t.Kind == TriggerKinds.IncentiveVoid);
        Assert.Equal(DecisionReason.IncentiveExpired, voided.Reason);
    }
}
