using System.Text.Json.Nodes;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;

namespace CartRecovery.Domain.Tests.Policy;

/// <summary>check-policy's findings beyond key-by-key validation, each naming the JSON path to change.</summary>
public class PolicyCheckTests
{
    private static IReadOnlyList<PolicyFinding> Findings(Action<JsonNode> edit) => PolicyCheck.Findings(Policies.Edited(edit));

    private static void EnableIncentiveStep(JsonNode root)
    {
        root["defaults"]!["steps"]![2]!["enabled"] = true;
        root["segments"]![0]!["steps"]![2]!["enabled"] = true;
    }

    [Fact]
    public void The_default_policy_has_no_finding_with_or_without_its_incentive_step()
    {
        Assert.Empty(PolicyCheck.Findings(Policies.Default));
        Assert.Empty(Findings(EnableIncentiveStep));
    }

    [Fact]
    public void A_step_the_per_cart_cap_stops_every_time_is_an_error_at_the_step_s_path()
    {
        var findings = Findings(root =>
        {
            EnableIncentiveStep(root);
            root["defaults"]!["caps"]!["per_cart"] = 2;
        });

        Assert.Equal(["defaults.steps[2]", "segments[0].steps[2]"], findings.Select(f => f.Path).Order(StringComparer.Ordinal));
        Assert.All(findings, f => Assert.Equal(PolicyFinding.Error, f.Severity));
        Assert.Contains("'defaults.caps.per_cart' is 2", findings[0].Problem);
        Assert.Contains("cap_per_cart", findings[0].Problem);
    }

    [Fact]
    public void A_step_the_per_shopper_cap_stops_every_time_is_an_error()
    {
        var findings = Findings(root => root["defaults"]!["caps"]!["per_shopper"] = 1);

        Assert.Equal(["defaults.steps[1]", "segments[0].steps[1]"], findings.Select(f => f.Path).Order(StringComparer.Ordinal));
        Assert.All(findings, f => Assert.Equal(PolicyFinding.Error, f.Severity));
        Assert.Contains("'defaults.caps.per_shopper' is 1", findings[0].Problem);
        // A step inherited by two segments is one finding naming both.
        Assert.EndsWith("(segments social, default)", findings.Single(f => f.Path == "defaults.steps[1]").Problem);
    }

    [Fact]
    public void A_variant_s_steps_are_checked_at_the_variant_s_path()
    {
        var findings = Findings(root =>
        {
            root["defaults"]!["caps"]!["per_cart"] = 2;
            root["variants"] = JsonNode.Parse("""
                [ { "name": "control", "weight": 1 },
                  { "name": "three", "weight": 1, "steps": [ { "delay": "1h" }, { "delay": "24h" }, { "delay": "48h" } ] } ]
                """);
        });

        Assert.Equal(["variants[1].steps[2]"], findings.Select(f => f.Path).Distinct());
    }

    [Fact]
    public void An_enabled_step_without_a_template_for_one_of_its_channels_is_a_warning()
    {
        var findings = Findings(root =>
        {
            var templates = root["messages"]!["templates"]!.AsArray();
            templates.Remove(templates.Single(t => (int)t!["step"]! == 2 && (string)t["channel"]! == "sms"));
        });

        Assert.Equal(
            [
                "warning: 'messages.templates' has no template for step 2 on sms (enabled at 'defaults.steps[1]'): its reminders would go out with an empty message_body (segments social, default)",
                "warning: 'messages.templates' has no template for step 2 on sms (enabled at 'segments[0].steps[1]'): its reminders would go out with an empty message_body (segment high_value)",
            ],
            findings.Select(f => f.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_step_s_own_channel_needs_its_template()
    {
        var findings = Findings(root =>
        {
            root["defaults"]!["steps"]![0]!["channel"] = "email";
            root["messages"]!["templates"]!.AsArray().RemoveAt(0); // step 1 email
        });

        Assert.Contains(findings, f => f.Problem.StartsWith("has no template for step 1 on email"));
        Assert.DoesNotContain(findings, f => f.Problem.StartsWith("has no template for step 1 on sms"));
    }

    [Theory]
    [InlineData("Use code {{ incentive_code }} now", "incentive_code")]
    [InlineData("{{ items | shout }}", "shout")]
    [InlineData("{% if has_incentive %}{{ incentive.code }}{% endif %}", "empty body")]
    public void A_template_that_does_not_render_for_a_sample_reminder_is_an_error_at_its_path(string body, string named)
    {
        var findings = Findings(root => root["messages"]!["templates"]![4]!["body"] = body);

        var finding = Assert.Single(findings);
        Assert.Equal((PolicyFinding.Error, "messages.templates[4].body"), (finding.Severity, finding.Path));
        Assert.Contains(named, finding.Problem);
    }
}
