using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Cases;

/// <summary>One person, one sequence: carts of one shopper on two devices that share an item and are abandoned within
/// the policy's duplicate-case window are one recovery case, led by the cart abandoned first.</summary>
public class OneSequencePerShopperTests
{
    /// <summary>Case 13: the same lens on the laptop at 09:01 and on the phone <paramref name="phoneAfter"/> later.</summary>
    private static ShopperScript TwoDevices(TimeSpan phoneAfter, string phoneSku = "lens-13", bool phoneAlsoHasStrap = false)
    {
        var shopper = new ShopperScript("cust-1313", T0);
        shopper.Grant("email", T0 - Days(1));
        var laptop = shopper.Session("s-laptop");
        var phone = shopper.Session("s-phone", channel: "app");
        laptop.Start();
        laptop.Add("lens-13", 189m);
        shopper.At(T0 + Min(1) + phoneAfter - Min(1));
        phone.Start();
        phone.Add(phoneSku, 189m);
        if (phoneAlsoHasStrap) phone.Add("strap-13", 19m, at: shopper.Now - Min(1));
        return shopper;
    }

    [Theory]
    [InlineData(4)]
    [InlineData(0)]
    [InlineData(29)]
    public void Carts_sharing_an_item_abandoned_minutes_apart_get_one_message_per_step(int minutesApart)
    {
        var shopper = TwoDevices(Min(minutesApart), phoneAlsoHasStrap: true);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.All(scenario.Reminders, t => Assert.Equal("s-laptop", t.SessionId));
        var joined = scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.DuplicateCase);
        Assert.Equal([("s-phone", 1), ("s-phone", 2)], joined.Select(a => (a.SessionId, a.Step)));
        var leadAbandoned = Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned), a => a.SessionId == "s-laptop");
        Assert.All(joined, a => Assert.Equal(leadAbandoned.Evidence, a.Evidence));
    }

    [Fact]
    public void Carts_without_an_item_in_common_are_two_cases()
    {
        var shopper = TwoDevices(Min(4), phoneSku: "tripod-13");

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([("s-laptop", 1), ("s-phone", 1), ("s-laptop", 2)], scenario.Reminders.Select(t => (t.SessionId, t.Step)));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.DuplicateCase));
    }

    [Fact]
    public void Carts_abandoned_further_apart_than_the_window_are_two_cases()
    {
        var shopper = TwoDevices(Min(45));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.DuplicateCase));
        Assert.Contains(scenario.Reminders, t => t.SessionId == "s-phone");
    }

    [Fact]
    public void A_window_of_zero_turns_merging_off()
    {
        var shopper = TwoDevices(Min(4));

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout with { DuplicateCaseWindow = TimeSpan.Zero });

        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.DuplicateCase));
        Assert.Equal(2, scenario.Reminders.Count(t => t.Step == 1));
    }

    [Fact]
    public void The_case_is_the_same_whatever_order_the_devices_events_arrive_in()
    {
        var shopper = TwoDevices(Min(4));
        var expected = Decided(Scenario.Play(shopper.Events));

        // The phone's events delivered first (its producer flushed earlier; the laptop's then arrive late and are
        // audited as such): the laptop still leads, abandoned first.
        var phoneFirst = shopper.Events.OrderBy(e => e is Contracts.Events.SessionEvent { SessionId: "s-phone" } ? 0 : 1).ToList();

        Assert.Equal(expected, Decided(Scenario.Play(phoneFirst)));

        static List<string> Decided(Scenario scenario) =>
        [
            .. scenario.Triggers.Select(t => $"{t.TriggerId} {t.SessionId} {t.Step}"),
            .. scenario.AuditsOf(AuditDecisions.Suppressed).Select(a => $"{a.AuditId} {a.Reason}"),
        ];
    }

    [Fact]
    public void When_the_leading_cart_resumes_a_later_cart_starts_its_own_case()
    {
        var shopper = TwoDevices(Min(4));
        var laptop = shopper.Session("s-laptop");
        laptop.View("lens-13", at: T0 + Min(40)); // back on the laptop after both carts were abandoned, before any step

        var scenario = Scenario.Play(shopper.Events);

        // The phone had already joined the laptop's case (closed, suppressed); the laptop's new abandonment opens a new case.
        Assert.Equal(2, scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.DuplicateCase).Count);
        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.All(scenario.Reminders, t => Assert.Equal("s-laptop", t.SessionId));
    }
}
