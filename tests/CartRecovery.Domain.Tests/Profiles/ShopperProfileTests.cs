using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Profiles;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Tests.Profiles;

/// <summary>A scripted shopper history: views and cart adds build category interest, orders build RFM; churn risk, the
/// lifetime-value estimate and the segment follow the shopper's own rhythm of ordering.</summary>
public sealed class ShopperProfileTests
{
    private static readonly RecoveryPolicy Policy = PolicyFile.LoadDefault();
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 10, 0, 0, TimeSpan.Zero);

    private static ShopperState Apply(ShopperState shopper, params ShopperEvent[] events) =>
        events.Aggregate(shopper, (s, e) => ProfileRows.Observe(s, e, Policy));

    private static ProductViewed View(string sku, string? category, DateTimeOffset at) =>
        new() { EventId = $"v-{sku}-{at.Ticks}", ShopperId = "c1", SessionId = "s", EventTime = at, Sku = sku, Category = category };

    private static CartLineAdded Add(string sku, string category, DateTimeOffset at) => new()
    {
        EventId = $"a-{sku}-{at.Ticks}", ShopperId = "c1", SessionId = "s", EventTime = at, Category = category,
        Line = new CartLine { Sku = sku, UnitPrice = 40, Quantity = 1 },
    };

    private static OrderPlaced Order(decimal total, DateTimeOffset at, string currency = "EUR", params string[] skus) => new()
    {
        EventId = $"o-{at.Ticks}", ShopperId = "c1", SessionId = "s", EventTime = at, OrderId = $"o-{at.Ticks}", Total = total, Currency = currency,
        Lines = [.. skus.Select(s => new CartLine { Sku = s, UnitPrice = total, Quantity = 1 })],
    };

    [Fact]
    public void A_shopper_who_only_browsed_is_new_with_interest_in_what_they_viewed_and_carted()
    {
        var shopper = Apply(ShopperState.New("c1"),
            View("lamp-1", "home.lamps", T0), View("lamp-2", "home.lamps", T0.AddMinutes(1)), View("shoe-1", "shoes", T0.AddMinutes(2)),
            Add("shoe-1", "shoes", T0.AddMinutes(3)), View("x", null, T0.AddMinutes(4)));

        var row = ProfileRows.Row(shopper, Policy, T0.AddDays(1))!;

        Assert.Equal(ProfileSegments.New, row.Segment);
        Assert.Equal(0, row.ChurnRisk);
        Assert.Equal(0, row.OrderCount);
        Assert.Null(row.RecencyDays);
        Assert.Equal(0m, row.LifetimeValue);
        // shoes: 1 view + 1 cart add = 1 + 3 points; lamps: 2 views = 2 points.
        Assert.Equal(new Dictionary<string, int> { ["home.lamps"] = 2, ["shoes"] = 4 }, row.CategoryInterest);
        Assert.Equal(["shoes", "home.lamps"], row.TopCategories);
        Assert.Equal(T0, row.FirstSeen);
    }

    [Fact]
    public void Orders_give_rfm_and_the_segment_follows_the_shoppers_own_interval()
    {
        // Three orders 10 days apart: typical interval 10 days; 120 EUR spent; the shoes ordered were carted before.
        var shopper = Apply(ShopperState.New("c1"),
            Add("shoe-1", "shoes", T0.AddMinutes(-5)), Order(30, T0, "EUR", "shoe-1"), Order(40, T0.AddDays(10)), Order(50, T0.AddDays(20)));

        var justAfter = ProfileRows.Row(shopper, Policy, T0.AddDays(21))!;
        var overdue = ProfileRows.Row(shopper, Policy, T0.AddDays(20 + 18))!;
        var gone = ProfileRows.Row(shopper, Policy, T0.AddDays(20 + 40))!;

        Assert.Equal((3, 120m, 10.0), (justAfter.OrderCount, justAfter.Monetary, justAfter.TypicalIntervalDays));
        Assert.Equal(1.0, justAfter.RecencyDays);
        Assert.Equal(ProfileSegments.Active, justAfter.Segment);
        Assert.Equal(0, justAfter.ChurnRisk);
        // Within the interval: average order 40 × 36.5 orders a year × (1 - 0).
        Assert.Equal(Math.Round(40m * 36.5m, 2), justAfter.LifetimeValue);
        // 18 days since the last order against a 10-day rhythm: overdue 0.8 → churn 1 - e^-0.8 = 0.5507: at risk.
        Assert.Equal(Math.Round(1 - Math.Exp(-0.8), 4), overdue.ChurnRisk);
        Assert.Equal(ProfileSegments.AtRisk, overdue.Segment);
        Assert.Equal(ProfileSegments.Lapsed, gone.Segment);
        Assert.True(gone.LifetimeValue < overdue.LifetimeValue);
        // The ordered shoes count 5 more points for their category (1 cart add: 3, order: 5).
        Assert.Equal(8, justAfter.CategoryInterest["shoes"]);
    }

    [Fact]
    public void A_single_order_uses_the_policy_interval_and_an_order_without_a_rate_adds_no_money()
    {
        var shopper = Apply(ShopperState.New("c1"), Order(99, T0), Order(10_000, T0.AddDays(1), "JPY"));
        var once = Apply(ShopperState.New("c1"), Order(99, T0));

        Assert.Equal(99m, ProfileRows.Row(shopper, Policy, T0.AddDays(2))!.Monetary);
        Assert.Equal(ProfileSegments.New, ProfileRows.Row(once, Policy, T0.AddDays(5))!.Segment);
        Assert.Equal(30.0, ProfileRows.Row(once, Policy, T0.AddDays(5))!.TypicalIntervalDays);
        Assert.Equal(ProfileSegments.New, ProfileRows.Row(once, Policy, T0.AddDays(35))!.Segment);
        Assert.Equal(ProfileSegments.AtRisk, ProfileRows.Row(once, Policy, T0.AddDays(55))!.Segment);
    }

    [Fact]
    public void Category_interest_stays_small()
    {
        var events = Enumerable.Range(0, 20).Select(i => (ShopperEvent)View($"sku-{i}", $"cat-{i:D2}", T0.AddMinutes(i))).ToArray();
        var shopper = Apply(ShopperState.New("c1"), events);

        Assert.Equal(ShopperProfile.MaxCategories, shopper.Profile!.CategoryInterest.Count);
        Assert.True(shopper.Profile.SkuCategories.Count <= ShopperProfile.MaxSkuCategories);
    }

    [Fact]
    public void Segments_of_the_policy_can_match_on_the_profile_segment()
    {
        var policy = PolicyFile.Parse(PolicyFile.DefaultText().Replace("\"segments\": [", """
            "segments": [
                { "name": "win_back", "match": { "shopper_segments": [ "at_risk", "lapsed" ] }, "steps": [ { "delay": "30m" } ] },
            """));

        Assert.Equal("win_back", policy.SegmentFor(50m, "web", ProfileSegments.AtRisk).Name);
        Assert.Equal("default", policy.SegmentFor(50m, "web", ProfileSegments.Active).Name);
        var bad = Assert.Throws<PolicyValidationException>(() => PolicyFile.Parse(PolicyFile.DefaultText().Replace("\"segments\": [", """
            "segments": [ { "name": "x", "match": { "shopper_segments": [ "vip" ] } },
            """)));
        Assert.Contains("shopper_segments", bad.Message);
    }
}

public sealed class ShopperProfileIntervalTests
{
    [Fact]
    public void Orders_days_apart_are_one_spree_not_a_daily_habit()
    {
        var t0 = new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero);
        var profile = ShopperProfile.Start(t0).Ordered(t0, 50, []).Ordered(t0.AddHours(3), 50, []);

        Assert.Equal(ShopperProfile.ShortestInterval, profile.TypicalInterval(TimeSpan.FromDays(30)));
    }
}
