using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Money;

/// <summary>Amounts in different currencies are never added or compared as one: the policy's amounts (segment bounds,
/// assist threshold, typical cart value) are in its currency; other currencies are converted with the policy's dated
/// rates or, without a rate, meet no threshold; a cart mixing currencies meets none either. Each is audited.</summary>
public class MoneyTests
{
    private static readonly RecoveryPolicy WithUsdRate = Policies.NoHoldout with
    {
        Rates = new ExchangeRates(new DateOnly(2026, 11, 1), ImmutableDictionary<string, decimal>.Empty.Add("USD", 0.90m)),
    };

    /// <summary>A 300-unit cart on checkout, in <paramref name="currency"/> (the default policy's high_value segment
    /// starts at 250 EUR, proactive chat at 150 EUR).</summary>
    private static List<ShopperEvent> Cart(string currency, params (string Sku, decimal Price, string Currency)[] extra)
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("email", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("tv-01", 300m);
        foreach (var (sku, price, _) in extra) s1.Add(sku, price);
        s1.Checkout();
        var extraCurrency = extra.ToDictionary(e => e.Sku, e => e.Currency);
        return [.. shopper.Events.Select(e => e switch
        {
            SessionStarted s => s with { Currency = currency },
            CartLineAdded a => a with { Currency = extraCurrency.GetValueOrDefault(a.Line.Sku, currency) },
            _ => e,
        })];
    }

    private static AuditRecord Abandoned(Scenario scenario) => Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));

    [Fact]
    public void A_cart_in_the_policy_currency_is_compared_as_is()
    {
        var scenario = Scenario.Play(Cart("EUR"), Policies.NoHoldout);

        Assert.Equal("high_value", Assert.Single(scenario.Outcomes).Segment);
        Assert.Single(scenario.Chats);
        Assert.EndsWith("cart_value=300 EUR time_zone_source=policy_default", Abandoned(scenario).Detail);
        // The same cart in a currency the policy cannot convert scores lower: its value is no factor at all.
        Assert.True(Abandoned(scenario).Score > Abandoned(Scenario.Play(Cart("JPY"), Policies.NoHoldout)).Score);
    }

    [Fact]
    public void A_cart_in_a_currency_without_a_rate_meets_no_value_threshold_and_the_audit_says_why()
    {
        var scenario = Scenario.Play(Cart("JPY"), Policies.NoHoldout);

        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal("default", outcome.Segment);               // 300 JPY is not 300 EUR
        Assert.Equal("JPY", outcome.Currency);
        Assert.Equal(300m, outcome.CartValue);
        Assert.Empty(scenario.Chats);                           // nor above the 150 EUR assist threshold
        Assert.DoesNotContain(Abandoned(scenario).TopFactors, f => f.StartsWith("cart_value", StringComparison.Ordinal));
        Assert.Contains("value_thresholds=not_applied(no JPY rate in the policy)", Abandoned(scenario).Detail);
        Assert.Equal("JPY", scenario.Reminders[0].Currency);
    }

    [Fact]
    public void A_cart_in_another_currency_is_converted_with_the_policy_rate_of_its_date()
    {
        var converted = Scenario.Play(Cart("USD"), WithUsdRate);          // 300 USD = 270 EUR: high value, chat
        Assert.Equal("high_value", Assert.Single(converted.Outcomes).Segment);
        Assert.Single(converted.Chats);
        Assert.Contains("value_in_EUR=270.00 (rates of 2026-11-01)", Abandoned(converted).Detail);

        var cheap = WithUsdRate with { Rates = WithUsdRate.Rates with { Rates = WithUsdRate.Rates.Rates.SetItem("USD", 0.5m) } };
        var below = Scenario.Play(Cart("USD"), cheap);                    // 150 EUR: below 250, at the assist threshold
        Assert.Equal("default", Assert.Single(below.Outcomes).Segment);
        Assert.Single(below.Chats);
    }

    [Fact]
    public void A_cart_mixing_currencies_is_never_summed_or_compared_and_is_reported_as_mixed()
    {
        var scenario = Scenario.Play(Cart("EUR", ("tv-02", 300m, "USD")), WithUsdRate);

        var outcome = Assert.Single(scenario.Outcomes);
        Assert.Equal(SessionState.MixedCurrency, outcome.Currency);
        Assert.Equal(0m, outcome.CartValue);
        Assert.Equal("default", outcome.Segment);
        Assert.Empty(scenario.Chats);
        Assert.EndsWith("cart_value=none currency=mixed value_thresholds=not_applied(lines in several currencies) time_zone_source=policy_default",
            Abandoned(scenario).Detail); // no sum over currencies, not even in the audit row
        Assert.All(scenario.Reminders, t => Assert.Equal(SessionState.MixedCurrency, t.Currency));
        Assert.All(scenario.Reminders, t => Assert.Equal(2, t.CartLines.Count)); // the lines themselves are all listed
    }

    [Fact]
    public void A_new_currency_on_an_empty_cart_is_the_cart_s_currency_not_a_mix()
    {
        var events = Cart("EUR");
        var first = (CartLineAdded)events.First(e => e is CartLineAdded);
        events = [.. events.Select(e => e == first ? first with { Currency = "USD" } : e)];

        var outcome = Assert.Single(Scenario.Play(events, WithUsdRate).Outcomes);

        Assert.Equal("USD", outcome.Currency);
        Assert.Equal(300m, outcome.CartValue);
        Assert.Equal("high_value", outcome.Segment);
    }

    [Fact]
    public void An_order_keeps_its_own_currency()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        var order = s1.Order([new CartLine { Sku = "pen-01", Name = "pen", UnitPrice = 10m, Quantity = 1 }]);
        var events = shopper.Events.Select(e => e == order ? order with { Currency = "GBP" } : e).ToList();

        var outcome = Assert.Single(Scenario.Play(events, Policies.NoHoldout).Outcomes);

        Assert.Equal("GBP", outcome.OrderCurrency);
        Assert.Equal(10m, outcome.OrderValue);
    }
}
