using System.Collections.Immutable;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Profiles;

/// <summary>The customer segments a profile falls into; policies match on them (segment <c>match.shopper_segments</c>).</summary>
public static class ProfileSegments
{
    /// <summary>No order yet, or one order and not overdue (churn risk below 0.5).</summary>
    public const string New = "new";
    /// <summary>Ordered again, last order within its typical interval (churn risk below 0.5).</summary>
    public const string Active = "active";
    /// <summary>Overdue: longer since the last order than usual (churn risk 0.5 to 0.85).</summary>
    public const string AtRisk = "at_risk";
    /// <summary>Far overdue (churn risk 0.85 or more).</summary>
    public const string Lapsed = "lapsed";

    public static readonly IReadOnlyList<string> All = [New, Active, AtRisk, Lapsed];
}

/// <summary>
/// What the shopper's history says about them, kept in the shopper's state and written to <c>shopper_profiles</c>:
/// category interest (views 1, cart adds 3, orders 5 points per category), recency, frequency and monetary value
/// (orders in the policy currency), and from those a churn risk, a lifetime-value estimate and a segment.
/// Pure and small: a handful of numbers and at most <see cref="MaxCategories"/> categories per shopper.
/// </summary>
public sealed record ShopperProfile
{
    public const int MaxCategories = 8;
    public const int ViewPoints = 1;
    public const int CartPoints = 3;
    public const int OrderPoints = 5;

    public DateTimeOffset FirstSeen { get; init; }
    public DateTimeOffset LastSeen { get; init; }
    public DateTimeOffset? FirstOrderAt { get; init; }
    public DateTimeOffset? LastOrderAt { get; init; }
    public int OrderCount { get; init; }
    /// <summary>Sum of order values in the policy currency (orders in a currency without a rate are counted, not summed).</summary>
    public decimal Monetary { get; init; }
    /// <summary>Interest points by category code, the strongest <see cref="MaxCategories"/> kept.</summary>
    public ImmutableSortedDictionary<string, int> CategoryInterest { get; init; } = State.OrdinalEmpty.Sorted<int>();
    /// <summary>Skus seen with a category (views, cart adds), so an order's lines count for their categories; bounded.</summary>
    public ImmutableSortedDictionary<string, string> SkuCategories { get; init; } = State.OrdinalEmpty.Sorted<string>();

    public const int MaxSkuCategories = 32;

    /// <summary>The latest cart add of the shopper in any session: a browse-abandonment message is not sent once the
    /// shopper has put something in a cart since.</summary>
    public DateTimeOffset? LastCartAt { get; init; }
    /// <summary>The time zone the shopper's storefront last reported (empty: none yet): where quiet hours are kept for a
    /// message that belongs to no session (win-back).</summary>
    public string TimeZone { get; init; } = "";

    /// <summary>Churn risk from which a shopper is <see cref="ProfileSegments.AtRisk"/>.</summary>
    public const double AtRiskChurn = 0.5;
    /// <summary>How many typical intervals after the last order a shopper turns at risk: churn risk 1 - e^-(f - 1) reaches
    /// <see cref="AtRiskChurn"/> at f = 1 + ln 2 ≈ 1.69.</summary>
    public static readonly double AtRiskFactor = 1 - Math.Log(1 - AtRiskChurn);

    /// <summary>The event-time instant the shopper turns at risk unless they order again (null: no order yet). Rounded up to
    /// the next whole second, so the segment at that instant is at risk whatever the floating-point rounding.</summary>
    public DateTimeOffset? AtRiskFrom(TimeSpan fallbackInterval)
    {
        if (LastOrderAt is not { } last) return null;
        var ticks = (long)Math.Ceiling(TypicalInterval(fallbackInterval).Ticks * AtRiskFactor / TimeSpan.TicksPerSecond) * TimeSpan.TicksPerSecond;
        return last.Plus(TimeSpan.FromTicks(ticks));
    }

    public static ShopperProfile Start(DateTimeOffset at) => new() { FirstSeen = at, LastSeen = at };

    /// <summary>Activity at <paramref name="at"/>; the same profile when it falls inside what was seen (no copy per event).</summary>
    public ShopperProfile Seen(DateTimeOffset at) => at >= FirstSeen && at <= LastSeen ? this : this with
    {
        FirstSeen = at < FirstSeen ? at : FirstSeen,
        LastSeen = at > LastSeen ? at : LastSeen,
    };

    /// <summary>A view (<see cref="ViewPoints"/>) or cart add (<see cref="CartPoints"/>) of a sku in a category.</summary>
    public ShopperProfile Interest(string? category, string sku, int points, DateTimeOffset at)
    {
        if (string.IsNullOrEmpty(category)) return Seen(at);
        var skus = SkuCategories.SetItem(sku, category);
        if (skus.Count > MaxSkuCategories) skus = skus.Remove(FirstOther(skus, sku));
        // One copy: activity and interest together.
        return this with
        {
            FirstSeen = at < FirstSeen ? at : FirstSeen,
            LastSeen = at > LastSeen ? at : LastSeen,
            CategoryInterest = AddPoints(CategoryInterest, category, points),
            SkuCategories = skus,
        };
    }

    // Apart, so the lambda's closure is allocated only past the bound, not on every view.
    private static string FirstOther(ImmutableSortedDictionary<string, string> skus, string sku) => skus.Keys.First(k => k != sku);

    /// <summary>An order: frequency, recency, monetary value (null: not in the policy currency) and the categories of its lines.</summary>
    public ShopperProfile Ordered(DateTimeOffset at, decimal? valueInPolicyCurrency, IEnumerable<string> skus)
    {
        var interest = CategoryInterest;
        foreach (var category in skus.Select(s => SkuCategories.GetValueOrDefault(s)).OfType<string>().Distinct(StringComparer.Ordinal))
            interest = AddPoints(interest, category, OrderPoints);
        return Seen(at) with
        {
            OrderCount = OrderCount + 1,
            FirstOrderAt = FirstOrderAt is { } first && first <= at ? first : at,
            LastOrderAt = LastOrderAt is { } last && last >= at ? last : at,
            Monetary = Monetary + (valueInPolicyCurrency ?? 0),
            CategoryInterest = interest,
        };
    }

    /// <summary>The shopper's own typical time between orders (first to last order over the gaps), or the policy's
    /// <paramref name="fallback"/> with fewer than two orders. At least <see cref="ShortestInterval"/>: orders days apart
    /// are one shopping spree, not a weekly habit (a 1-day interval would make a 365-orders-a-year customer of anyone).</summary>
    public TimeSpan TypicalInterval(TimeSpan fallback) =>
        OrderCount >= 2 && FirstOrderAt is { } first && LastOrderAt is { } last && last > first
            ? TimeSpan.FromTicks(Math.Max((last - first).Ticks / (OrderCount - 1), ShortestInterval.Ticks))
            : fallback;

    public static readonly TimeSpan ShortestInterval = TimeSpan.FromDays(7);

    /// <summary>Churn risk at <paramref name="at"/>: 1 - exp(-overdue), overdue = time since the last order over the typical
    /// interval minus one (0 while within the interval). No order yet: 0 (a prospect, not a churning customer).</summary>
    public double ChurnRisk(DateTimeOffset at, TimeSpan fallbackInterval) => Math.Round(ExactChurnRisk(at, fallbackInterval), 4);

    private double ExactChurnRisk(DateTimeOffset at, TimeSpan fallbackInterval)
    {
        if (LastOrderAt is not { } last) return 0;
        var overdue = (at - last) / TypicalInterval(fallbackInterval) - 1;
        return overdue <= 0 ? 0 : 1 - Math.Exp(-overdue);
    }

    /// <summary>The segment at <paramref name="at"/>, from the unrounded churn risk: the shopper turns at risk exactly at
    /// <see cref="AtRiskFrom"/>, the instant a win-back is decided.</summary>
    public string Segment(DateTimeOffset at, TimeSpan fallbackInterval)
    {
        var churn = ExactChurnRisk(at, fallbackInterval);
        if (churn >= 0.85) return ProfileSegments.Lapsed;
        if (churn >= AtRiskChurn) return ProfileSegments.AtRisk;
        return OrderCount >= 2 ? ProfileSegments.Active : ProfileSegments.New;
    }

    /// <summary>Lifetime value over <paramref name="horizon"/>: average order value × expected orders in the horizon (one
    /// per typical interval) × (1 - churn risk). No order yet: 0.</summary>
    public decimal LifetimeValue(DateTimeOffset at, TimeSpan fallbackInterval, TimeSpan horizon)
    {
        if (OrderCount == 0) return 0;
        var average = Monetary / OrderCount;
        var expectedOrders = horizon / TypicalInterval(fallbackInterval);
        return Math.Round(average * (decimal)(expectedOrders * (1 - ChurnRisk(at, fallbackInterval))), 2);
    }

    /// <summary>Two ids found to be one person (identity linking): one history, counts and money added, interests pooled.</summary>
    public static ShopperProfile? Merge(ShopperProfile? a, ShopperProfile? b)
    {
        if (a is null || b is null) return a ?? b;
        var interest = a.CategoryInterest;
        foreach (var (category, points) in b.CategoryInterest) interest = AddPoints(interest, category, points);
        var skus = a.SkuCategories.SetItems(b.SkuCategories);
        while (skus.Count > MaxSkuCategories) skus = skus.Remove(skus.Keys.First());
        return new ShopperProfile
        {
            FirstSeen = a.FirstSeen < b.FirstSeen ? a.FirstSeen : b.FirstSeen,
            LastSeen = a.LastSeen > b.LastSeen ? a.LastSeen : b.LastSeen,
            FirstOrderAt = Earliest(a.FirstOrderAt, b.FirstOrderAt),
            LastOrderAt = a.LastOrderAt is null ? b.LastOrderAt : b.LastOrderAt is null ? a.LastOrderAt : a.LastOrderAt > b.LastOrderAt ? a.LastOrderAt : b.LastOrderAt,
            OrderCount = a.OrderCount + b.OrderCount,
            Monetary = a.Monetary + b.Monetary,
            CategoryInterest = interest,
            SkuCategories = skus,
            LastCartAt = Latest(a.LastCartAt, b.LastCartAt),
            // The newer visit's zone: where the person is now.
            TimeZone = a.LastSeen >= b.LastSeen ? (a.TimeZone.Length > 0 ? a.TimeZone : b.TimeZone) : (b.TimeZone.Length > 0 ? b.TimeZone : a.TimeZone),
        };
    }

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;

    /// <summary>Categories by interest, strongest first (ties by name).</summary>
    public IEnumerable<string> TopCategories => CategoryInterest.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key);

    private static ImmutableSortedDictionary<string, int> AddPoints(ImmutableSortedDictionary<string, int> interest, string category, int points)
    {
        var updated = interest.SetItem(category, interest.GetValueOrDefault(category) + points);
        if (updated.Count <= MaxCategories) return updated;
        // Forget the weakest interest (ties: the last by name) so a long-lived shopper's profile stays small.
        var weakest = updated.OrderBy(c => c.Value).ThenByDescending(c => c.Key, StringComparer.Ordinal).First().Key;
        return updated.Remove(weakest);
    }
}
