using System.Text.Json.Nodes;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;

namespace CartRecovery.Domain.Tests.Money;

/// <summary>The policy's money settings: one policy currency, dated exchange rates into it, and amounts that are plain
/// numbers in it. A bad setting is rejected naming its key.</summary>
public class PolicyMoneyTests
{
    [Fact]
    public void Exchange_rates_are_read_with_their_date()
    {
        var policy = Policies.Edited(root => root["exchange_rates"] = JsonNode.Parse("""{ "as_of": "2026-11-01", "rates": { "USD": 0.92, "GBP": 1.17 } }"""));

        Assert.Equal(new DateOnly(2026, 11, 1), policy.Rates.AsOf);
        Assert.Equal(92.00m, policy.InPolicyCurrency(100m, "USD"));
        Assert.Equal(100m, policy.InPolicyCurrency(100m, "EUR"));
        Assert.Null(policy.InPolicyCurrency(100m, "JPY"));
    }

    [Fact]
    public void Without_exchange_rates_only_the_policy_currency_is_comparable() =>
        Assert.Null(Policies.Default.InPolicyCurrency(100m, "USD"));

    [Theory]
    [InlineData("""{ "rates": { "USD": 0.92 } }""", "exchange_rates.as_of", "is required")]
    [InlineData("""{ "as_of": "1 Nov", "rates": { "USD": 0.92 } }""", "exchange_rates.as_of", "must be a date")]
    [InlineData("""{ "as_of": "2026-11-01", "rates": { "usd": 0.92 } }""", "exchange_rates.rates.usd", "ISO 4217")]
    [InlineData("""{ "as_of": "2026-11-01", "rates": { "USD": 0 } }""", "exchange_rates.rates.USD", "must be a rate > 0")]
    [InlineData("""{ "as_of": "2026-11-01", "rates": { "EUR": 2 } }""", "exchange_rates.rates.EUR", "its rate is 1")]
    [InlineData("""{ "as_of": "2026-11-01", "rates": { "USD": 0.9 }, "base": "EUR" }""", "exchange_rates.base", "is not a known key")]
    public void Bad_exchange_rates_are_rejected_naming_the_key(string rates, string key, string problem)
    {
        var error = Assert.Throws<PolicyValidationException>(() => Policies.Edited(root => root["exchange_rates"] = JsonNode.Parse(rates)));

        Assert.Equal(key, error.Key);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void The_policy_currency_must_be_an_iso_code() =>
        Assert.Equal("default_currency", Assert.Throws<PolicyValidationException>(() => Policies.Edited(root => root["default_currency"] = "euro")).Key);

    [Fact]
    public void A_threshold_is_one_amount_in_the_policy_currency()
    {
        var perCurrency = Assert.Throws<PolicyValidationException>(() =>
            Policies.Edited(root => root["segments"]![0]!["match"]!["min_cart_value"] = JsonNode.Parse("""{ "EUR": 250, "USD": 270 }""")));
        var negative = Assert.Throws<PolicyValidationException>(() =>
            Policies.Edited(root => root["defaults"]!["proactive_assist"]!["min_cart_value"] = -1));

        Assert.Equal("segments[0].match.min_cart_value", perCurrency.Key);
        Assert.Contains("exchange_rates", perCurrency.Message);
        Assert.Equal("defaults.proactive_assist.min_cart_value", negative.Key);
    }

    [Fact]
    public void Risk_weights_by_channel_of_origin_are_keyed_by_lower_case_codes() =>
        Assert.Equal("risk.origin_channel.TikTok", Assert.Throws<PolicyValidationException>(() =>
            Policies.Edited(root => root["risk"]!["origin_channel"]!["TikTok"] = 0.5)).Key);

    [Fact]
    public void Segment_channels_are_lower_case_codes_as_the_input_is_normalised_to() =>
        Assert.Equal("segments[1].match.channels[0]", Assert.Throws<PolicyValidationException>(() =>
            Policies.Edited(root => root["segments"]![1]!["match"]!["channels"]![0] = "Instagram")).Key);
}
