namespace CartRecovery.Domain.Time;

/// <summary>
/// Event-time progress of one input partition. <see cref="Settled"/> (max event time seen minus the allowed
/// lateness) drives reminder timers and decides lateness: an event at or after it is applied in order; an
/// earlier one is late. <see cref="Eager"/> (max event time seen) drives proactive assist, which must reach a
/// shopper within seconds and is harmless if a late event later shows activity.
/// A timer due at T fires once the watermark is strictly after T, so an on-time event at T is always applied
/// before a timer at T (an opt-out at the same instant wins).
/// </summary>
public readonly record struct Watermark(DateTimeOffset Eager, DateTimeOffset Settled)
{
    public static readonly Watermark Start = new(DateTimeOffset.MinValue, DateTimeOffset.MinValue);

    /// <summary>End of input treated as end of event time: every pending timer fires (drain, replay end).</summary>
    public static readonly Watermark EndOfTime = new(DateTimeOffset.MaxValue, DateTimeOffset.MaxValue);

    public bool IsEndOfTime => Settled == DateTimeOffset.MaxValue;

    /// <summary>Advances with an observed event time; never goes back.</summary>
    public Watermark Observe(DateTimeOffset eventTime, TimeSpan allowedLateness)
    {
        if (eventTime <= Eager) return this;
        var settled = eventTime.Minus(allowedLateness); // a first event near DateTimeOffset.MinValue must not underflow
        return new Watermark(eventTime, settled > Settled ? settled : Settled);
    }

    /// <summary>Live mode only: an idle partition advances with the wall clock (never used in replay).</summary>
    public Watermark AdvanceTo(DateTimeOffset wallClock, TimeSpan allowedLateness) => Observe(wallClock, allowedLateness);

    public bool IsLate(DateTimeOffset eventTime) => eventTime < Settled;

    public bool HasPassed(DateTimeOffset deadline, bool eager) => eager ? deadline < Eager : deadline < Settled;
}
