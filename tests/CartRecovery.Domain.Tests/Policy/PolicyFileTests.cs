using System.Text.Json.Nodes;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Policy;

public class PolicyFileTests
{
    [Fact]
    public void The_default_policy_parses_with_the_documented_defaults()
    {
        var policy = PolicyFile.LoadDefault();

        Assert.Equal("default-2026-11", policy.Version);
        Assert.Equal(Min(2), policy.AllowedLateness);
        Assert.Equal(Min(5), policy.PurchaseGrace);
        Assert.Equal(Days(5), policy.AttributionWindow);
        Assert.Equal(Days(30), policy.PurchaseMemory);
        Assert.Equal("UTC", policy.DefaultTimeZone);
        Assert.Equal("EUR", policy.DefaultCurrency);
        Assert.Equal(0.10, policy.HoldoutShare);
        Assert.Equal(["control"], policy.Variants.Select(v => v.Name));
        Assert.Equal(["high_value", "social", "default"], policy.Segments.Select(s => s.Name));

        var defaults = policy.Segments[^1];
        Assert.Equal(SegmentMatch.Any, defaults.Match);
        Assert.Equal(Min(30), defaults.InactivityTimeout);
        Assert.Equal([new ReminderStep(1, Hours(1)), new ReminderStep(2, Hours(24))], defaults.Steps.ToArray());
        Assert.Equal(["push", "sms", "email"], defaults.ChannelPreference.ToArray());
        Assert.Equal(new Caps(2, 3, Days(7), PerCartFromSteps: true), defaults.Caps);
        Assert.Equal(new TimeOnly(21, 0), defaults.QuietHours.Start);
        Assert.Equal(new TimeOnly(8, 0), defaults.QuietHours.End);
        // A chat holdout out of the box, so the abandonment chat prevents is measurable (docs/analytics.md).
        // A refused promo code is met with a chat from a typical checkout cart up (score 0.4).
        Assert.Equal(new ProactiveAssist(true, 150m, Min(3), 2, HoldoutShare: 0.10) { PromoCodeFailure = new PromoCodeAssist(true, 0.4) }, defaults.Assist);
        // Browse abandonment and win-back are off unless the policy turns them on.
        Assert.False(policy.BrowseAbandonment.Enabled);
        Assert.False(policy.WinBack.Enabled);

        Assert.Equal(-2.0, policy.Risk.Bias);
        Assert.Equal(80m, policy.Risk.TypicalCartValue);
        Assert.Equal(1.5, policy.Risk.Idle);
        Assert.Equal(0.9, policy.Risk.PaymentFailures);
        Assert.Equal(1.4, policy.Risk.FunnelStep["payment"]);
        Assert.Equal(-0.3, policy.Risk.OriginChannel["app"]);
    }

    [Fact]
    public void Segments_inherit_what_they_do_not_set_and_the_first_match_wins()
    {
        var policy = PolicyFile.LoadDefault();

        var social = policy.Segments.Single(s => s.Name == "social");
        Assert.Equal(Min(20), social.InactivityTimeout);
        Assert.Equal(policy.Segments[^1].Steps.ToArray(), social.Steps.ToArray());
        Assert.Equal(policy.Segments[^1].Caps, social.Caps);

        Assert.Equal("high_value", policy.SegmentFor(250m, "instagram").Name);
        Assert.Equal("social", policy.SegmentFor(249.99m, "instagram").Name);
        Assert.Equal("default", policy.SegmentFor(249.99m, "web").Name);
    }

    [Fact]
    public void An_enabled_incentive_step_is_parsed_with_its_number_and_percent()
    {
        var policy = Policies.ThreeSteps(perCart: 3);

        Assert.Equal(new ReminderStep(3, Hours(72), new IncentiveOffer(IncentiveTypes.Percent, 10m, Days(7))), policy.Segments[^1].Steps[2]);
        Assert.Equal(3, policy.Segments[^1].Caps.PerCart);
    }

    [Fact]
    public void Durations_accept_seconds_minutes_hours_and_days()
    {
        var policy = Policies.Edited(root =>
        {
            root["allowed_lateness"] = "90s";
            root["purchase_grace"] = "1.5m";
            root["attribution_window"] = "36h";
        });

        Assert.Equal(Sec(90), policy.AllowedLateness);
        Assert.Equal(Sec(90), policy.PurchaseGrace);
        Assert.Equal(Hours(36), policy.AttributionWindow);
    }

    public static TheoryData<string, string, string> BadFiles => new()
    {
        { "unknown key", Policies.EditedText(r => Rename(r["defaults"]!.AsObject(), "steps", "stepz")), "'defaults.stepz' is not a known key" },
        { "bad duration", Policies.EditedText(r => r["defaults"]!["inactivity_timeout"] = "30x"), "'defaults.inactivity_timeout' must be a duration" },
        { "negative holdout", Policies.EditedText(r => r["holdout_share"] = -0.1), "'holdout_share' must be between 0 and 1" },
        { "holdout above 1", Policies.EditedText(r => r["holdout_share"] = 1.5), "'holdout_share' must be between 0 and 1" },
        { "unknown time zone", Policies.EditedText(r => r["default_time_zone"] = "Mars/Olympus_Mons"), "'default_time_zone' is not a known IANA time zone: 'Mars/Olympus_Mons'" },
        {
            "steps out of order",
            Policies.EditedText(r => r["defaults"]!["steps"] = new JsonArray(new JsonObject { ["delay"] = "24h" }, new JsonObject { ["delay"] = "1h" })),
            "'defaults.steps[1].delay' must be later than the previous step's delay"
        },
        { "unknown top-level key", Policies.EditedText(r => r["holdout"] = 0.1), "'holdout' is not a known key" },
        { "unknown channel", Policies.EditedText(r => r["defaults"]!["channel_preference"] = new JsonArray("push", "fax")), "'defaults.channel_preference[1]' must be one of push, sms, email" },
        { "bad clock", Policies.EditedText(r => r["defaults"]!["quiet_hours"]!["start"] = "9pm"), "'defaults.quiet_hours.start' must be a local time" },
        { "negative cap", Policies.EditedText(r => r["defaults"]!["caps"]!["per_cart"] = -1), "'defaults.caps.per_cart' must be a whole number >= 0" },
        { "zero timeout", Policies.EditedText(r => r["defaults"]!["inactivity_timeout"] = "0m"), "'defaults.inactivity_timeout' must be a positive duration" },
        { "bad segment key", Policies.EditedText(r => r["segments"]![1]!["inactivity_timeout"] = "twenty minutes"), "'segments[1].inactivity_timeout' must be a duration" },
        { "missing risk weight", Policies.EditedText(r => r["risk"]!["weights"]!.AsObject().Remove("idle")), "'risk.weights.idle' is required" },
        { "missing version", Policies.EditedText(r => r.AsObject().Remove("version")), "'version' is required" },
        { "not JSON", "{ \"version\": ", "'(file)' is not valid JSON" },
        { "unknown incentive type", Policies.EditedText(r => r["defaults"]!["steps"]![2]!["incentive_type"] = "voucher"), "'defaults.steps[2].incentive_type' must be one of percent, fixed_amount, free_shipping (got 'voucher')" },
        { "percent above 100", Policies.EditedText(r => r["defaults"]!["steps"]![2]!["incentive_value"] = 150), "'defaults.steps[2].incentive_value' must be a percent above 0 and at most 100" },
        {
            "fixed amount of zero",
            Policies.EditedText(r => { r["defaults"]!["steps"]![2]!["incentive_type"] = "fixed_amount"; r["defaults"]!["steps"]![2]!["incentive_value"] = 0; }),
            "'defaults.steps[2].incentive_value' must be an amount above 0"
        },
        {
            "free shipping with a value",
            Policies.EditedText(r => r["defaults"]!["steps"]![2]!["incentive_type"] = "free_shipping"),
            "'defaults.steps[2].incentive_value' must not be set for incentive_type free_shipping"
        },
        { "zero validity", Policies.EditedText(r => r["defaults"]!["steps"]![2]!["incentive_valid_for"] = "0d"), "'defaults.steps[2].incentive_valid_for' must be a positive duration" },
        {
            "two spellings of the value",
            Policies.EditedText(r => r["defaults"]!["steps"]![2]!["incentive_percent"] = 10),
            "'defaults.steps[2].incentive_percent' and incentive_value are two spellings of one value"
        },
        { "dedup horizon below the lateness", Policies.EditedText(r => r["dedup_horizon"] = "1m"), "'dedup_horizon' must be at least allowed_lateness" },
        { "bad duplicate-case window", Policies.EditedText(r => r["duplicate_case_window"] = "soon"), "'duplicate_case_window' must be a duration" },
        { "zero payment hold", Policies.EditedText(r => r["payment_pending_hold"] = "0h"), "'payment_pending_hold' must be a positive duration" },
    };

    [Theory]
    [InlineData("free_shipping", null, 0.0)]
    [InlineData("fixed_amount", 15.5, 15.5)]
    [InlineData("percent", 20.0, 20.0)]
    public void Every_incentive_type_is_accepted_with_its_value_and_validity(string type, double? value, double expected)
    {
        var policy = Policies.Edited(r =>
        {
            var step = r["defaults"]!["steps"]![2]!.AsObject();
            step["enabled"] = true;
            step["incentive_type"] = type;
            step.Remove("incentive_value");
            if (value is not null) step["incentive_value"] = value;
            step["incentive_valid_for"] = "48h";
        });

        var offer = policy.Segments[^1].Steps[2].Incentive;

        Assert.Equal(new IncentiveOffer(type, (decimal)expected, Hours(48)), offer);
    }

    [Fact]
    public void An_incentive_step_without_type_or_validity_is_a_percent_valid_for_seven_days()
    {
        var policy = Policies.Edited(r => r["defaults"]!["steps"] = new JsonArray(
            new JsonObject { ["delay"] = "1h" },
            new JsonObject { ["delay"] = "72h", ["incentive"] = true, ["incentive_percent"] = 10 }));

        Assert.Equal(new IncentiveOffer(IncentiveTypes.Percent, 10m, Days(7)), policy.Segments[^1].Steps[1].Incentive);
        Assert.Null(policy.Segments[^1].Steps[0].Incentive);
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_policy_file_is_rejected_with_a_message_naming_the_key(string problem, string json, string message)
    {
        var error = Assert.Throws<PolicyValidationException>(() => PolicyFile.Parse(json));

        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{problem}: got \"{error.Message}\"");
        Assert.StartsWith("policy: '", error.Message);
    }

    [Fact]
    public void The_exception_exposes_the_bad_key()
    {
        var json = Policies.EditedText(r => r["defaults"]!["inactivity_timeout"] = "30x");

        var error = Assert.Throws<PolicyValidationException>(() => PolicyFile.Parse(json));

        Assert.Equal("defaults.inactivity_timeout", error.Key);
        Assert.Equal("policy: 'defaults.inactivity_timeout' must be a duration like \"30m\", \"1h\" or \"7d\" (got '30x')", error.Message);
    }

    private static void Rename(JsonObject node, string from, string to)
    {
        var value = node[from];
        node.Remove(from);
        node[to] = value;
    }
}
