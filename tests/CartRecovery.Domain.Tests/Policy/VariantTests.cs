using System.Text.Json.Nodes;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Policy;

public class VariantTests
{
    private static readonly Domain.Policy.RecoveryPolicy TwoVariants = Policies.Edited(root => root["variants"] = new JsonArray(
        new JsonObject { ["name"] = "control", ["weight"] = 3 },
        new JsonObject { ["name"] = "friendly_copy", ["weight"] = 1 })) with { HoldoutShare = 0 };

    [Fact]
    public void Shoppers_are_assigned_to_variants_deterministically_by_weight()
    {
        var shoppers = Enumerable.Range(0, 8_000).Select(i => $"cust-{i:D5}").ToList();

        var first = shoppers.Select(TwoVariants.VariantFor).ToList();
        var again = shoppers.Select(TwoVariants.VariantFor).ToList();

        Assert.Equal(first, again);
        Assert.Equal(["control", "friendly_copy"], first.Distinct().Order(StringComparer.Ordinal));
        Assert.InRange(first.Count(v => v == "friendly_copy") / 8_000.0, 0.22, 0.28);
    }

    [Fact]
    public void The_variant_is_recorded_on_triggers_and_outcomes()
    {
        for (var i = 0; i < 20; i++)
        {
            var shopper = new ShopperScript($"cust-{i}", T0);
            shopper.Grant("email", T0 - Days(1));
            var s = shopper.Session("s1");
            s.Start();
            s.Add("shoes-0001", 40m);

            var scenario = Scenario.Play(shopper.Events, TwoVariants);

            var expected = TwoVariants.VariantFor(shopper.ShopperId);
            Assert.All(scenario.Reminders, t => Assert.Equal(expected, t.Variant));
            Assert.Equal(expected, scenario.Outcomes.Single().Variant);
        }
    }

    [Fact]
    public void A_variant_needs_a_positive_weight()
    {
        var json = Policies.EditedText(root => root["variants"] = new JsonArray(new JsonObject { ["name"] = "control", ["weight"] = 0 }));

        var error = Assert.Throws<Domain.Policy.PolicyValidationException>(() => Domain.Policy.PolicyFile.Parse(json));

        Assert.Contains("'variants[0].weight' must be > 0", error.Message);
    }
}
