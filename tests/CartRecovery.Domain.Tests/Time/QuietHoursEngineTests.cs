using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Time;

/// <summary>A reminder step due in quiet hours (21:00-08:00 in the shopper's zone) is deferred to their end, never dropped.</summary>
public class QuietHoursEngineTests
{
    /// <summary>A push-consented cart in <paramref name="zone"/> whose step 1 is due at <paramref name="stepDueUtc"/>
    /// (abandoned an hour earlier, last activity 30 min before that).</summary>
    private static ShopperScript CartWithStep1DueAt(DateTimeOffset stepDueUtc, string? zone)
    {
        var lastActivity = stepDueUtc - Hours(1) - Min(30);
        var shopper = new ShopperScript("cust-1", lastActivity - Min(1));
        shopper.Grant("push", lastActivity - Days(2));
        var s1 = shopper.Session("s1");
        s1.Start(timeZone: zone);
        var add = s1.Add("shoes-0001", 40m);
        Assert.Equal(lastActivity, add.EventTime);
        return shopper;
    }

    [Theory]
    // 22:30 local in winter (CET): sent 08:00 CET next morning
    [InlineData("2026-11-02T21:30:00Z", "2026-11-03T07:00:00Z")]
    // 22:30 local the evening before spring forward: sent 08:00 CEST on 29 March = 06:00 UTC
    [InlineData("2026-03-28T21:30:00Z", "2026-03-29T06:00:00Z")]
    // 22:30 local the evening before fall back: sent 08:00 CET on 25 October = 07:00 UTC
    [InlineData("2026-10-24T20:30:00Z", "2026-10-25T07:00:00Z")]
    public void A_step_due_at_22_30_Berlin_time_is_deferred_and_sent_at_08_00_local(string dueUtc, string sentUtc)
    {
        var due = Utc(dueUtc);
        var shopper = CartWithStep1DueAt(due, "Europe/Berlin");

        var scenario = Scenario.Play(shopper.Events);

        var deferred = scenario.AuditsOf(AuditDecisions.Deferred, DecisionReason.QuietHours).First();
        Assert.Equal(1, deferred.Step);
        Assert.Equal(due + Min(5), deferred.EventTime);
        Assert.Equal("push", deferred.Channel);
        Assert.Equal($"until {Utc(sentUtc):O} (Europe/Berlin)", deferred.Detail);

        var step1 = scenario.Reminders[0];
        Assert.Equal(1, step1.Step);
        Assert.Equal(due, step1.DueTime);
        Assert.Equal(Utc(sentUtc), step1.EventTime);
        var local = TimeZoneInfo.ConvertTime(step1.EventTime, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));
        Assert.Equal(new TimeOnly(8, 0), TimeOnly.FromDateTime(local.DateTime));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed));
    }

    [Fact]
    public void A_step_due_in_the_shopper_s_daytime_is_sent_after_the_grace_only()
    {
        var due = Utc("2026-11-02T09:00:00Z"); // 10:00 in Berlin
        var scenario = Scenario.Play(CartWithStep1DueAt(due, "Europe/Berlin").Events);

        Assert.Equal(due + Min(5), scenario.Reminders[0].EventTime);
        Assert.DoesNotContain(scenario.Audits, a => a.Decision == AuditDecisions.Deferred && a.Step == 1);
    }

    [Fact]
    public void Quiet_hours_follow_the_shopper_s_zone_not_UTC()
    {
        // 13:30 UTC is daytime in UTC but 22:30 in Tokyo: deferred to 08:00 JST = 23:00 UTC.
        var due = Utc("2026-11-02T13:30:00Z");
        var scenario = Scenario.Play(CartWithStep1DueAt(due, "Asia/Tokyo").Events);

        Assert.Equal(Utc("2026-11-02T23:00:00Z"), scenario.Reminders[0].EventTime);

        // The same cart with no zone uses the policy's default zone (UTC): sent at once.
        var utcShopper = CartWithStep1DueAt(due, zone: null);
        Assert.Equal(due + Min(5), Scenario.Play(utcShopper.Events).Reminders[0].EventTime);
    }

    [Fact]
    public void An_opt_out_during_the_deferral_still_stops_the_deferred_step()
    {
        var due = Utc("2026-11-02T21:30:00Z"); // 22:30 Berlin
        var shopper = CartWithStep1DueAt(due, "Europe/Berlin");
        var optOut = shopper.Unsubscribe("push", Utc("2026-11-02T23:00:00Z")); // midnight in Berlin

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        var suppressed = scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ConsentWithdrawn);
        Assert.Equal(Utc("2026-11-03T07:00:00Z"), suppressed[0].EventTime);
        Assert.Equal([optOut.EventId], suppressed[0].Evidence);
    }
}
