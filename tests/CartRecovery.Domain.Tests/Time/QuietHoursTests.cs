using CartRecovery.Domain.Time;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Time;

public class QuietHoursTests
{
    private static readonly QuietHours Night = new(new TimeOnly(21, 0), new TimeOnly(8, 0));
    private static readonly QuietHours Siesta = new(new TimeOnly(13, 0), new TimeOnly(15, 0));
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [Theory]
    [InlineData("20:59", false)]
    [InlineData("21:00", true)]
    [InlineData("23:59", true)]
    [InlineData("00:00", true)]
    [InlineData("07:59", true)]
    [InlineData("08:00", false)]
    [InlineData("12:00", false)]
    public void A_window_crossing_midnight_contains_its_start_and_not_its_end(string local, bool expected) =>
        Assert.Equal(expected, Night.Contains(TimeOnly.Parse(local, System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("12:59", false)]
    [InlineData("13:00", true)]
    [InlineData("14:59", true)]
    [InlineData("15:00", false)]
    [InlineData("23:00", false)]
    [InlineData("02:00", false)]
    public void A_window_within_one_day_contains_only_its_hours(string local, bool expected) =>
        Assert.Equal(expected, Siesta.Contains(TimeOnly.Parse(local, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void None_contains_nothing_and_defers_nothing()
    {
        Assert.True(QuietHours.None.IsNone);
        Assert.False(QuietHours.None.Contains(new TimeOnly(0, 0)));
        Assert.False(QuietHours.None.Contains(new TimeOnly(23, 0)));
        Assert.Null(QuietHours.None.DeferUntil(Utc("2026-11-02T23:00:00Z"), TimeZoneInfo.Utc));
    }

    [Theory]
    [InlineData("2026-11-02T22:00:00Z", "2026-11-03T08:00:00Z")] // evening: to tomorrow morning
    [InlineData("2026-11-02T21:00:00Z", "2026-11-03T08:00:00Z")]
    [InlineData("2026-11-03T03:00:00Z", "2026-11-03T08:00:00Z")] // after midnight: to this morning
    [InlineData("2026-12-31T23:30:00Z", "2027-01-01T08:00:00Z")] // across a year end
    public void A_time_in_quiet_hours_is_deferred_to_their_end(string at, string until) =>
        Assert.Equal(Utc(until), Night.DeferUntil(Utc(at), TimeZoneInfo.Utc));

    [Theory]
    [InlineData("2026-11-02T08:00:00Z")]
    [InlineData("2026-11-02T12:00:00Z")]
    [InlineData("2026-11-02T20:59:59Z")]
    public void A_time_outside_quiet_hours_is_not_deferred(string at) =>
        Assert.Null(Night.DeferUntil(Utc(at), TimeZoneInfo.Utc));

    [Theory]
    [InlineData("2026-11-02T13:00:00Z", "2026-11-02T15:00:00Z")]
    [InlineData("2026-11-02T14:59:00Z", "2026-11-02T15:00:00Z")]
    public void A_window_within_one_day_defers_to_its_end_the_same_day(string at, string until) =>
        Assert.Equal(Utc(until), Siesta.DeferUntil(Utc(at), TimeZoneInfo.Utc));

    [Theory]
    [InlineData("2026-11-02T12:59:00Z")]
    [InlineData("2026-11-02T15:00:00Z")]
    [InlineData("2026-11-02T22:00:00Z")]
    public void A_window_within_one_day_leaves_other_hours_alone(string at) =>
        Assert.Null(Siesta.DeferUntil(Utc(at), TimeZoneInfo.Utc));

    [Theory]
    // winter (CET, UTC+1): 22:35 local -> 08:00 local next day
    [InlineData("2026-11-02T21:35:00Z", "2026-11-03T07:00:00Z")]
    // summer (CEST, UTC+2)
    [InlineData("2026-07-01T20:35:00Z", "2026-07-02T06:00:00Z")]
    // spring forward in the night of 28/29 March 2026: 22:35 CET -> 08:00 CEST = 06:00 UTC
    [InlineData("2026-03-28T21:35:00Z", "2026-03-29T06:00:00Z")]
    // 01:30 CET that same night, before the change at 02:00
    [InlineData("2026-03-29T00:30:00Z", "2026-03-29T06:00:00Z")]
    // fall back in the night of 24/25 October 2026: 22:35 CEST -> 08:00 CET = 07:00 UTC
    [InlineData("2026-10-24T20:35:00Z", "2026-10-25T07:00:00Z")]
    // inside the repeated hour (02:30 CEST, then 02:30 CET)
    [InlineData("2026-10-25T00:30:00Z", "2026-10-25T07:00:00Z")]
    [InlineData("2026-10-25T01:30:00Z", "2026-10-25T07:00:00Z")]
    public void Quiet_hours_are_local_time_in_the_shopper_s_zone_across_DST_changes(string at, string until) =>
        Assert.Equal(Utc(until), Night.DeferUntil(Utc(at), Berlin));

    [Fact]
    public void An_end_of_quiet_hours_inside_the_spring_forward_gap_moves_past_the_gap()
    {
        var quiet = new QuietHours(new TimeOnly(21, 0), new TimeOnly(2, 30)); // 02:30 does not exist on 29 March
        Assert.Equal(Utc("2026-03-29T01:00:00Z"), quiet.DeferUntil(Utc("2026-03-28T21:00:00Z"), Berlin)); // 03:00 CEST
    }

    [Fact]
    public void An_end_of_quiet_hours_inside_the_repeated_autumn_hour_is_its_first_occurrence()
    {
        var quiet = new QuietHours(new TimeOnly(21, 0), new TimeOnly(2, 30)); // 02:30 happens twice on 25 October
        Assert.Equal(Utc("2026-10-25T00:30:00Z"), quiet.DeferUntil(Utc("2026-10-24T20:00:00Z"), Berlin)); // 02:30 CEST
    }
}
