namespace CartRecovery.Domain.Time;

/// <summary>Event-time arithmetic that stops at the ends of <see cref="DateTimeOffset"/> instead of throwing. Entry
/// bounds every event time to a window (EntryLimits), so a real deadline never gets near either end; this keeps a
/// deadline computed from a restored or handed-over state, or with a policy delay of centuries, from failing a decision.</summary>
public static class SaturatingTime
{
    public static DateTimeOffset Plus(this DateTimeOffset at, TimeSpan by)
    {
        var utc = at.UtcTicks;
        if (by.Ticks > 0 && by.Ticks > DateTimeOffset.MaxValue.UtcTicks - utc) return DateTimeOffset.MaxValue;
        if (by.Ticks < 0 && by.Ticks < DateTimeOffset.MinValue.UtcTicks - utc) return DateTimeOffset.MinValue;
        return at.Add(by);
    }

    public static DateTimeOffset Minus(this DateTimeOffset at, TimeSpan by) =>
        by == TimeSpan.MinValue ? at.Plus(TimeSpan.MaxValue) : at.Plus(-by);
}
