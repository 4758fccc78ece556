using System.Text.Json.Nodes;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Abandonment;

/// <summary>A step may name its own channel (or channel order): a sequence goes email → SMS → push, and consent, caps,
/// quiet hours and fallback apply to each step as to any other.</summary>
public class ChannelSequenceTests
{
    /// <summary>The default policy, incentive step on, steps 1-3 on email, sms and push in that order.</summary>
    private static RecoveryPolicy EmailSmsPush(Action<JsonNode>? edit = null) => Policies.Edited(root =>
    {
        foreach (var steps in new[] { root["defaults"]!["steps"]!, root["segments"]![0]!["steps"]! })
        {
            steps[2]!["enabled"] = true;
            steps[0]!["channel"] = "email";
            steps[1]!["channel"] = "sms";
            steps[2]!["channel"] = "push";
        }
        edit?.Invoke(root);
    }) with { HoldoutShare = 0 };

    private static ShopperScript Cart(Action<ShopperScript> consents)
    {
        var shopper = new ShopperScript("cust-1", T0);
        consents(shopper);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("kettle-06", 40m);
        return shopper;
    }

    [Fact]
    public void A_sequence_goes_email_then_sms_then_push()
    {
        var scenario = Scenario.Play(Cart(s => s.GrantAll()).Events, EmailSmsPush());

        Assert.Equal([(1, "email"), (2, "sms"), (3, "push")], scenario.Reminders.Select(r => (r.Step, r.Channel)));
        Assert.All(scenario.Reminders, r => Assert.Contains(r.UnsubscribeUrl, r.MessageBody));
    }

    [Fact]
    public void Consent_is_per_step_a_withdrawn_sms_stops_step_2_only()
    {
        var shopper = Cart(s => s.GrantAll());
        shopper.Withdraw("sms", T0 + Hours(2));

        var scenario = Scenario.Play(shopper.Events, EmailSmsPush());

        Assert.Equal([(1, "email"), (3, "push")], scenario.Reminders.Select(r => (r.Step, r.Channel)));
        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ConsentWithdrawn));
        Assert.Equal(2, suppressed.Step);
    }

    [Fact]
    public void A_step_s_channel_order_falls_back_to_its_next_channel()
    {
        var policy = Policies.Edited(root =>
        {
            foreach (var steps in new[] { root["defaults"]!["steps"]!, root["segments"]![0]!["steps"]! })
                steps[1]!["channels"] = new JsonArray("sms", "email");
        }) with { HoldoutShare = 0 };

        // No SMS consent: step 2 goes on email, the next channel its order names.
        var scenario = Scenario.Play(Cart(s => s.GrantAll("email", "push")).Events, policy);

        Assert.Equal([(1, "push"), (2, "email")], scenario.Reminders.Select(r => (r.Step, r.Channel)));
    }

    [Fact]
    public void Quiet_hours_and_caps_apply_to_each_step()
    {
        // Per-cart cap 2: the push step is capped whatever its channel.
        var scenario = Scenario.Play(Cart(s => s.GrantAll()).Events,
            EmailSmsPush(root => root["defaults"]!["caps"]!["per_cart"] = 2));

        Assert.Equal(["email", "sms"], scenario.Reminders.Select(r => r.Channel));
        Assert.Equal(3, Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.CapPerCart)).Step);

        // A shopper in Tokyo (UTC+9) leaves the cart at 12:31 UTC: every step falls due at 22:36 or 21:36 local, in quiet
        // hours (21:00-08:00), and each is deferred to 08:00 local on its own channel.
        var late = new ShopperScript("cust-2", T0 + Hours(3));
        late.GrantAll();
        var s2 = late.Session("s2");
        s2.Start(timeZone: "Asia/Tokyo");
        s2.Add("kettle-06", 40m);
        var deferred = Scenario.Play(late.Events, EmailSmsPush());
        Assert.Equal(["email", "sms", "push"], deferred.Reminders.Select(r => r.Channel));
        Assert.All(deferred.Reminders, r => Assert.InRange(r.ShopperLocalTime!.Value.Hour, 8, 20));
        Assert.Equal(3, deferred.AuditsOf(AuditDecisions.Deferred, DecisionReason.QuietHours).Count);
    }

    [Theory]
    [InlineData("""{ "delay": "1h", "channel": "fax" }""", "defaults.steps[0].channel")]
    [InlineData("""{ "delay": "1h", "channel": "sms", "channels": ["sms"] }""", "defaults.steps[0].channel")]
    [InlineData("""{ "delay": "1h", "channels": ["sms", "sms"] }""", "defaults.steps[0].channels")]
    [InlineData("""{ "delay": "1h", "channels": [] }""", "defaults.steps[0].channels")]
    public void A_bad_step_channel_names_its_key(string step, string key)
    {
        var error = Assert.Throws<PolicyValidationException>(() => Policies.Edited(root => root["defaults"]!["steps"]![0] = JsonNode.Parse(step)));
        Assert.Equal(key, error.Key);
    }
}
