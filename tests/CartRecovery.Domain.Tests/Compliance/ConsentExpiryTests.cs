using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Compliance;

/// <summary>A consent may carry valid_until: once it has passed, the grant is no consent, with its own reason.
/// cust-7007 adds a kettle at 09:01; step 1 is sent at 10:36, step 2 the next day at 09:36.</summary>
public class ConsentExpiryTests
{
    private static readonly DateTimeOffset Step1Fires = T0 + Min(31) + Hours(1) + Min(5);

    private static (ShopperScript Shopper, ConsentGranted Grant) Kettle(DateTimeOffset validUntil)
    {
        var shopper = new ShopperScript("cust-7007", T0);
        var grant = shopper.Emit((id, t) => new ConsentGranted
        {
            EventId = id, ShopperId = shopper.ShopperId, EventTime = t, Purpose = "cart_recovery", Channel = "email",
            Source = "checkout_form", WordingVersion = "v4-limited", ValidUntil = validUntil,
        }, T0 - Days(1));
        var s = shopper.Session("s-7007");
        s.Start();
        s.Add("kettle-07", 39m);
        return (shopper, grant);
    }

    [Fact]
    public void A_grant_that_expires_between_the_steps_covers_step_1_only_and_step_2_is_suppressed_as_expired()
    {
        var (shopper, grant) = Kettle(validUntil: Step1Fires + Hours(3));

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        var reminder = Assert.Single(scenario.Reminders);
        Assert.Equal((1, grant.EventId, "v4-limited"), (reminder.Step, reminder.ConsentEventId, reminder.ConsentWordingVersion));
        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed));
        Assert.Equal((SuppressionReason.ConsentExpired, 2, grant.EventId), (suppressed.Reason, suppressed.Step, suppressed.Evidence.Single()));
    }

    [Fact]
    public void Expiry_is_exclusive_a_grant_ending_exactly_at_the_send_instant_no_longer_holds()
    {
        var (shopper, _) = Kettle(validUntil: Step1Fires);

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Empty(scenario.Reminders);
        Assert.All(scenario.AuditsOf(AuditDecisions.Suppressed), a => Assert.Equal(SuppressionReason.ConsentExpired, a.Reason));
    }

    [Fact]
    public void A_new_grant_after_expiry_counts_again_and_the_audit_row_records_the_expiry()
    {
        var (shopper, grant) = Kettle(validUntil: Step1Fires - Min(10));
        var renewed = shopper.Grant("email", at: Step1Fires + Hours(2));

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Equal([2], scenario.Reminders.Select(r => r.Step));
        Assert.Equal(renewed.EventId, scenario.Reminders[0].ConsentEventId);
        var ledger = scenario.AuditsOf(AuditDecisions.ConsentChanged).Single(a => a.Evidence.Single() == grant.EventId);
        Assert.Contains($"valid_until={(Step1Fires - Min(10)).UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}", ledger.Detail);
    }

    [Fact]
    public void An_opt_out_still_wins_over_an_expired_grant_as_the_reason()
    {
        var (shopper, _) = Kettle(validUntil: Step1Fires - Min(10));
        var optOut = shopper.Unsubscribe("email", at: Step1Fires - Min(5));

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.Empty(scenario.Reminders);
        Assert.All(scenario.AuditsOf(AuditDecisions.Suppressed), a => Assert.Equal((SuppressionReason.ConsentWithdrawn, optOut.EventId), (a.Reason, a.Evidence.Single())));
    }
}
