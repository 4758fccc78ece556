using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;

namespace CartRecovery.Domain.Tests.ProfileTriggers;

/// <summary>The policy's <c>browse_abandonment</c> and <c>win_back</c> sections: off by default, validated, a bad value
/// names its key.</summary>
public sealed class ProfileTriggerPolicyTests
{
    [Fact]
    public void Both_sections_parse_and_are_off_in_the_default_policy()
    {
        var policy = Policies.Edited(root =>
        {
            root["browse_abandonment"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "enabled": true, "delay": "90m", "min_views": 3, "purpose": "browse_reminders" }""");
            root["win_back"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "enabled": true, "period": "60d" }""");
        });

        Assert.Equal(new BrowseAbandonmentPolicy(true, TimeSpan.FromMinutes(90), 3, "browse_reminders"), policy.BrowseAbandonment);
        Assert.Equal(new WinBackPolicy(true, TimeSpan.FromDays(60), "marketing"), policy.WinBack);
        Assert.Equal(BrowseAbandonmentPolicy.Off, PolicyFile.LoadDefault().BrowseAbandonment);
        Assert.Equal(WinBackPolicy.Off, PolicyFile.LoadDefault().WinBack);
    }

    public static TheoryData<string, string, string> BadSections => new()
    {
        { "browse_abandonment", """{ "enabled": true, "delay": "0s" }""", "'browse_abandonment.delay' must be a positive duration" },
        { "browse_abandonment", """{ "enabled": "yes" }""", "'browse_abandonment.enabled' must be true or false" },
        { "browse_abandonment", """{ "min_views": 0 }""", "'browse_abandonment.min_views' must be at least 1" },
        { "browse_abandonment", """{ "delai": "2h" }""", "'browse_abandonment.delai' is not a known key here" },
        { "browse_abandonment", """{ "purpose": "Marketing Mails" }""", "'browse_abandonment.purpose' must be a lower-case code" },
        { "win_back", """{ "period": "soon" }""", "'win_back.period' must be a duration like" },
        { "win_back", """{ "enabled": true, "segments": ["at_risk"] }""", "'win_back.segments' is not a known key here" },
        { "win_back", "[]", "'win_back' must be an object" },
    };

    [Theory]
    [MemberData(nameof(BadSections))]
    public void A_bad_section_names_the_key_and_the_problem(string section, string json, string message)
    {
        var text = Policies.EditedText(root => root[section] = System.Text.Json.Nodes.JsonNode.Parse(json));

        var error = Assert.Throws<PolicyValidationException>(() => PolicyFile.Parse(text));

        Assert.StartsWith($"policy: {message}", error.Message);
    }
}
