using System.Globalization;

namespace CartRecovery.Domain.Tests.Support;

public static class Times
{
    /// <summary>Monday 2026-11-02 09:00 UTC: daytime in UTC (the default policy zone), outside quiet hours.</summary>
    public static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    public static TimeSpan Min(double minutes) => TimeSpan.FromMinutes(minutes);
    public static TimeSpan Hours(double hours) => TimeSpan.FromHours(hours);
    public static TimeSpan Days(double days) => TimeSpan.FromDays(days);
    public static TimeSpan Sec(double seconds) => TimeSpan.FromSeconds(seconds);

    public static DateTimeOffset Utc(string iso) =>
        DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
