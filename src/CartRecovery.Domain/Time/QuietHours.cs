namespace CartRecovery.Domain.Time;

/// <summary>Hours in the shopper's local time in which no message is sent; a step due inside them is
/// deferred to their end, never dropped. Local-time arithmetic goes through <see cref="TimeZoneInfo"/>,
/// so the end of quiet hours is right on DST change days.</summary>
public sealed record QuietHours(TimeOnly Start, TimeOnly End)
{
    public static readonly QuietHours None = new(TimeOnly.MinValue, TimeOnly.MinValue);

    public bool IsNone => Start == End;

    public bool Contains(TimeOnly local) =>
        !IsNone && (Start < End ? local >= Start && local < End : local >= Start || local < End);

    /// <summary>Returns null when <paramref name="at"/> is outside quiet hours, else the instant they end.</summary>
    public DateTimeOffset? DeferUntil(DateTimeOffset at, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var localTime = TimeOnly.FromDateTime(local.DateTime);
        if (!Contains(localTime)) return null;

        var endDate = DateOnly.FromDateTime(local.DateTime);
        if (localTime >= End) endDate = endDate.AddDays(1);
        var endLocal = endDate.ToDateTime(End, DateTimeKind.Unspecified);
        // A local end time that falls into a spring-forward gap does not exist: move past the gap.
        while (zone.IsInvalidTime(endLocal)) endLocal = endLocal.AddMinutes(30);
        var offset = zone.IsAmbiguousTime(endLocal) ? zone.GetAmbiguousTimeOffsets(endLocal).Max() : zone.GetUtcOffset(endLocal);
        return new DateTimeOffset(endLocal, offset).ToUniversalTime();
    }
}
