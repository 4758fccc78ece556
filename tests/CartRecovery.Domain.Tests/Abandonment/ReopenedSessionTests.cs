using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Abandonment;

/// <summary>A session that ended (ordered, or its reminder sequence finished) and sees new activity under the same
/// session id within the attribution window is reopened with what it keeps of its past.</summary>
public class ReopenedSessionTests
{
    [Fact]
    public void A_session_reopened_after_an_order_can_be_abandoned_again_with_fresh_trigger_ids()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var push = shopper.Grant("push", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);
        s1.Order();                                      // 09:02: closed as ordered
        shopper.At(T0 + Hours(2));
        var add = s1.Add("lamps-0002", 25m);             // 11:00: same session id, reopened

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([Outcomes.Ordered, Outcomes.Abandoned], scenario.Outcomes.Select(o => o.Outcome));
        Assert.True(scenario.Outcomes.All(o => o.SessionId == "s1"));
        var step1 = scenario.Reminders[0];
        Assert.Equal(add.EventTime + Min(30) + Hours(1) + Min(5), step1.EventTime);
        Assert.Equal(["lamps-0002"], step1.CartLines.Select(l => l.Sku));
        Assert.Equal(push.EventId, step1.ConsentEventId);
        Assert.Equal(DeterministicId.From("trigger", TriggerKinds.Reminder, "default-2026-11", "cust-1", "s1", SessionStarts.Key(shopper.Events, "s1"), "1", "1"), step1.TriggerId);
    }

    [Fact]
    public void A_reopened_session_keeps_the_shopper_s_time_zone_for_quiet_hours()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start(timeZone: "Europe/Berlin");
        s1.Add("shoes-0001", 40m);
        s1.Order();                                      // closed as ordered
        shopper.At(Utc("2026-11-02T19:00:00Z"));
        s1.Add("lamps-0002", 25m);                       // 20:00 in Berlin: abandoned 20:30 CET, step 1 fires 21:35 CET

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal(Utc("2026-11-03T07:00:00Z"), scenario.Reminders[0].EventTime); // 08:00 CET, not 20:35 UTC
    }

    [Fact]
    public void Every_trigger_of_a_reopened_session_has_its_own_id()
    {
        var shopper = new ShopperScript("cust-1", T0);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("books-0001", 50m);
        s1.Checkout();
        s1.PaymentFailed("card_declined");
        s1.PaymentFailed("card_declined");               // chat 1
        s1.Order();                                      // closed as ordered
        shopper.At(T0 + Days(1));
        s1.Add("books-0002", 30m);                       // reopened
        s1.Checkout();
        s1.PaymentFailed("expired_card");
        s1.PaymentFailed("expired_card");                // chat 2

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal(2, scenario.Chats.Count);
        Assert.Equal(scenario.Triggers.Count, scenario.Triggers.Select(t => t.TriggerId).Distinct().Count());
    }
}
