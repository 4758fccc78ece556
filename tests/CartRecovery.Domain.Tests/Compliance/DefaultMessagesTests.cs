using System.Globalization;
using System.Text.Json.Nodes;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Compliance;

/// <summary>Every step × channel of the default policy (its incentive step switched on) renders a complete message from
/// the engine's own trigger: the cart's items, the offer by type and value with its expiry, the purpose statement and
/// both links. Steps and channels are read from the default policy file, so a step added without templates fails here.</summary>
public class DefaultMessagesTests
{
    /// <summary>The default policy file with every step enabled (the 72 h incentive step included), nothing else changed.</summary>
    private static RecoveryPolicy EveryStepOn(Action<JsonNode>? edit = null) => Policies.Edited(root =>
    {
        foreach (var step in root["defaults"]!["steps"]!.AsArray()) step!["enabled"] = true;
        foreach (var segment in root["segments"]!.AsArray())
            if (segment!["steps"] is JsonArray steps)
                foreach (var step in steps) step!["enabled"] = true;
        edit?.Invoke(root);
    }) with { HoldoutShare = 0 };

    private static int DefaultStepCount => Policies.DefaultJson()["defaults"]!["steps"]!.AsArray().Count;

    public static TheoryData<string> DefaultChannels()
    {
        var data = new TheoryData<string>();
        foreach (var channel in Policies.DefaultJson()["defaults"]!["channel_preference"]!.AsArray()) data.Add(channel!.GetValue<string>());
        return data;
    }

    /// <summary>A shopper who allows only <paramref name="channel"/>, leaves a cart of a kettle and two mugs, never returns.</summary>
    private static List<RecoveryTrigger> Reminders(RecoveryPolicy policy, string channel)
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant(channel, T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("kettle-06", 39.5m);
        s1.Add("mug-02", 8m, quantity: 2);
        return Scenario.Play(shopper.Events, policy).Reminders.ToList();
    }

    [Theory]
    [MemberData(nameof(DefaultChannels))]
    public void Every_step_on_every_channel_renders_items_offer_purpose_and_links(string channel)
    {
        var policy = EveryStepOn();
        var reminders = Reminders(policy, channel);

        Assert.Equal(Enumerable.Range(1, DefaultStepCount), reminders.Select(r => r.Step));
        foreach (var reminder in reminders)
        {
            var where = $"step {reminder.Step} on {channel}";
            Assert.Equal(channel, reminder.Channel);
            Assert.False(string.IsNullOrWhiteSpace(reminder.MessageBody), $"{where}: empty body");
            Assert.True(channel == "sms" || reminder.MessageSubject.Length > 0, $"{where}: empty subject");
            Assert.True(reminder.MessageBody.Contains("kettle-06 item") && reminder.MessageBody.Contains("mug-02 item"), $"{where}: items not named");
            Assert.True(reminder.MessageBody.Contains(reminder.ResumeUrl) && reminder.ResumeUrl.StartsWith("https://"), $"{where}: no resume link");
            Assert.True(reminder.MessageBody.Contains(reminder.UnsubscribeUrl) && reminder.UnsubscribeUrl.StartsWith("https://"), $"{where}: no unsubscribe link");
            Assert.True(reminder.MessageBody.Contains(policy.Messages.PurposeStatement), $"{where}: no purpose statement");
            Assert.DoesNotContain("{{", reminder.MessageBody);
        }

        // The incentive step names its offer by type and value, the code and when it expires.
        var incentive = Assert.Single(reminders, r => r.IncentiveCode.Length > 0);
        Assert.Equal(DefaultStepCount, incentive.Step);
        var expires = incentive.IncentiveExpiresAt!.Value.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        Assert.Contains($"10 % off with code {incentive.IncentiveCode}", incentive.MessageBody);
        Assert.Contains(expires, incentive.MessageBody);
        Assert.All(reminders.Where(r => r != incentive), r => Assert.DoesNotContain("code", r.MessageBody));
    }

    [Theory]
    [InlineData("fixed_amount", 5.0, "5.00 EUR off")]
    [InlineData("free_shipping", null, "free shipping")]
    [InlineData("percent", 12.5, "12.5 % off")]
    public void The_offer_is_named_by_its_type_and_value(string type, double? value, string named)
    {
        var policy = EveryStepOn(root =>
        {
            foreach (var steps in new[] { root["defaults"]!["steps"]!, root["segments"]![0]!["steps"]! })
            {
                var step = steps[2]!.AsObject();
                step["incentive_type"] = type;
                step.Remove("incentive_value");
                if (value is { } v) step["incentive_value"] = v;
            }
        });

        var incentive = Assert.Single(Reminders(policy, "email"), r => r.IncentiveCode.Length > 0);

        Assert.Contains($"{named} with code {incentive.IncentiveCode}", incentive.MessageBody);
        Assert.Contains(named, incentive.MessageSubject);
    }
}
