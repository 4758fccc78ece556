using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Suppression;

/// <summary>Purposes nest: an opt-out from <c>marketing</c> or from everything (<c>all</c>) covers cart recovery, on the
/// channel it names (or on every channel with <c>all</c>). A grant must name cart recovery itself.
/// cust-6006 grants cart_recovery email at 09:00 the day before, adds a kettle at 09:01; step 1 goes 10:36.</summary>
public class ConsentScopeTests
{
    private static readonly DateTimeOffset Step1Fires = T0 + Min(31) + Hours(1) + Min(5);

    private static ShopperScript Kettle()
    {
        var shopper = new ShopperScript("cust-6006", T0);
        shopper.Grant("email", T0 - Days(1));
        var s = shopper.Session("s-6006");
        s.Start();
        s.Add("kettle-06", 39m);
        return shopper;
    }

    private static ShopperEvent OptOut(ShopperScript shopper, string purpose, string channel, DateTimeOffset at, bool unsubscribe = true) =>
        shopper.Emit<ShopperEvent>((id, t) => unsubscribe
            ? new Unsubscribed { EventId = id, ShopperId = shopper.ShopperId, EventTime = t, Purpose = purpose, Channel = channel, Source = "email_link" }
            : new ConsentWithdrawn { EventId = id, ShopperId = shopper.ShopperId, EventTime = t, Purpose = purpose, Channel = channel, Source = "preference_center" },
            at);

    [Theory]
    [InlineData("marketing", "email", true)]   // case 90
    [InlineData("marketing", "email", false)]
    [InlineData("all", "email", true)]
    [InlineData("marketing", "all", true)]
    [InlineData("all", "all", false)]
    public void An_opt_out_from_a_purpose_containing_cart_recovery_suppresses_the_next_step(string purpose, string channel, bool unsubscribe)
    {
        var shopper = Kettle();
        var optOut = OptOut(shopper, purpose, channel, Step1Fires + Min(94), unsubscribe);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1], scenario.Reminders.Select(t => t.Step));
        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed));
        Assert.Equal((SuppressionReason.ConsentWithdrawn, 2, optOut.EventId), (suppressed.Reason, suppressed.Step, suppressed.Evidence.Single()));
    }

    [Theory]
    [InlineData("marketing", "sms")]        // another channel
    [InlineData("newsletter", "email")]     // a purpose that does not contain cart recovery
    public void An_opt_out_outside_the_scope_changes_nothing(string purpose, string channel)
    {
        var shopper = Kettle();
        OptOut(shopper, purpose, channel, Step1Fires + Min(94));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
    }

    [Fact]
    public void A_newer_cart_recovery_grant_after_a_marketing_opt_out_counts_again()
    {
        var shopper = Kettle();
        OptOut(shopper, "marketing", "email", Step1Fires + Min(94));
        var grant = shopper.Grant("email", at: Step1Fires + Hours(3));

        var scenario = Scenario.Play(shopper.Events);

        Assert.Equal([1, 2], scenario.Reminders.Select(t => t.Step));
        Assert.Equal(grant.EventId, scenario.Reminders[1].ConsentEventId);
    }

    [Fact]
    public void A_marketing_grant_alone_is_not_consent_to_cart_recovery()
    {
        var shopper = new ShopperScript("cust-6007", T0);
        shopper.Grant("email", T0 - Days(1), purpose: "marketing");
        var s = shopper.Session("s-6007");
        s.Start();
        s.Add("kettle-06", 39m);

        var scenario = Scenario.Play(shopper.Events);

        Assert.Empty(scenario.Reminders);
        Assert.All(scenario.AuditsOf(AuditDecisions.Suppressed), a => Assert.Equal(SuppressionReason.NoConsent, a.Reason));
    }
}
