using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Time;

public class LateEventTests
{
    [Fact]
    public void An_event_older_than_the_settled_watermark_is_audited_as_late_and_still_applied()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();                                                  // 09:00
        s1.Add("shoes-0001", 40m);                                   // 09:01
        shopper.At(T0 + Min(11));
        var view = s1.View("shoes-0002");                            // 09:11: settled watermark 09:09
        var late = s1.Add("lamps-0003", 15m, at: T0 + Min(2));       // 09:02 arrives after it

        var scenario = Scenario.Play(shopper.Events);

        var audit = Assert.Single(scenario.AuditsOf(AuditDecisions.LateEvent));
        Assert.Equal(DecisionReason.BeyondAllowedLateness, audit.Reason);
        Assert.Equal([late.EventId], audit.Evidence);
        Assert.Equal(late.EventTime, audit.EventTime);
        Assert.Equal("s1", audit.SessionId);
        Assert.Equal($"event time before watermark {T0 + Min(9):O}", audit.Detail);

        // Applied: the late line is in the cart; the late event does not move the last activity back.
        var step1 = scenario.Reminders[0];
        Assert.Equal(["lamps-0003", "shoes-0001"], step1.CartLines.Select(l => l.Sku));
        Assert.Equal(55m, step1.CartValue);
        Assert.Equal(view.EventTime + Min(30) + Hours(1) + Min(5), step1.EventTime);
    }

    [Fact]
    public void An_out_of_order_event_within_the_allowed_lateness_is_not_late()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        shopper.At(T0 + Min(10));
        s1.View("shoes-0002");
        s1.Add("lamps-0003", 15m, at: T0 + Min(8)); // exactly at the settled watermark

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.AuditsOf(AuditDecisions.LateEvent));
        Assert.Equal(15m, scenario.Outcomes.Single().CartValue);
    }

    [Fact]
    public void A_late_consent_event_is_audited_and_still_applied()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        shopper.At(T0 + Min(10));
        s1.View("shoes-0002");
        var grant = shopper.Grant("email", T0 + Min(3)); // 7 minutes behind the newest event

        var scenario = Scenario.Play(shopper.Events);

        var late = Assert.Single(scenario.AuditsOf(AuditDecisions.LateEvent));
        Assert.Equal([grant.EventId], late.Evidence);
        Assert.Equal("", late.SessionId);
        Assert.Equal("email", scenario.Reminders[0].Channel);
        Assert.Equal(grant.EventId, scenario.Reminders[0].ConsentEventId);
    }
}
