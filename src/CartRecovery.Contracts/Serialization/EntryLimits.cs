namespace CartRecovery.Contracts.Serialization;

/// <summary>
/// Bounds every value of an input event at entry (docs/events.md, "Limits"): a value past one is dead-lettered as
/// <c>invalid_field</c> naming the field and the limit, so nothing a later computation does with it (a deadline an event
/// time plus a policy delay, a cart total, a string copied into a trigger) can overflow or grow without bound. Each
/// limit is far beyond any real storefront's values.
/// </summary>
public static class EntryLimits
{
    /// <summary>The earliest event time (and consent <c>valid_until</c>) accepted, inclusive.</summary>
    public static readonly DateTimeOffset EarliestTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The end of the accepted window, exclusive: policy delays of years still fit in <see cref="DateTimeOffset"/>.</summary>
    public static readonly DateTimeOffset TimeWindowEnd = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Ids, skus, order ids, free codes (error_code, consent source and wording version): characters.</summary>
    public const int MaxIdLength = 256;

    /// <summary>A product name: characters.</summary>
    public const int MaxNameLength = 1024;

    /// <summary>A unit price or a viewed product's price, in the event's currency.</summary>
    public const decimal MaxUnitPrice = 1_000_000_000m;

    /// <summary>An order total or a payment amount.</summary>
    public const decimal MaxAmount = 1_000_000_000_000m;

    /// <summary>Units of one line (added, updated, ordered).</summary>
    public const int MaxQuantity = 100_000;

    /// <summary>Lines of one order.</summary>
    public const int MaxOrderLines = 1_000;

    public static string TimeWindow => $"between {EarliestTime:yyyy-MM-dd} and {TimeWindowEnd:yyyy-MM-dd} (UTC, end exclusive)";

    public static bool InTimeWindow(DateTimeOffset at) => at >= EarliestTime && at < TimeWindowEnd;
}
