using System.Text.Json.Nodes;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using Xunit;

namespace CartRecovery.Domain.Tests.Compliance;

/// <summary>Messages carry their obligations: purpose and wording, signed links from the policy's templates, and the
/// subject and body rendered from the policy's Liquid template for the step and channel.</summary>
public class MessageTemplateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private static RecoveryPolicy WithMessages() => Policies.Edited(root => root["messages"] = JsonNode.Parse("""
        {
          "purpose_statement": "You get this because you asked for cart reminders.",
          "unsubscribe_link": "https://shop.example/unsubscribe?t={{ token }}",
          "resume_link": "https://shop.example/resume?t={{ token }}",
          "templates": [
            { "step": 1, "channel": "email", "subject": "{{ items | size }} items wait for you",
              "body": "{% for item in items %}{{ item.quantity }} x {{ item.name }} at {{ item.unit_price }} {{ currency }}\n{% endfor %}{% if has_incentive %}Code {{ incentive.code }}: {{ incentive.value }} {{ incentive.type }}\n{% endif %}{{ purpose_statement }}\nResume: {{ resume_url }}\nStop: {{ unsubscribe_url }}" }
          ]
        }
        """));

    private static RecoveryTrigger Reminder(int step, string channel) => new()
    {
        TriggerId = "trig-1", Kind = TriggerKinds.Reminder, ShopperId = "cust-1", SessionId = "s-1", Step = step, Channel = channel,
        Score = 0.5, Reason = "reminder_step", PolicyVersion = "p", EventTime = T0, DueTime = T0, Currency = "EUR",
        CartLines = [new CartLine { Sku = "kettle-06", Name = "Kettle", UnitPrice = 39.5m, Quantity = 2 }],
        IncentiveCode = "CR-ABC", IncentiveType = "percent", IncentiveValue = 10,
    };

    private static readonly ConsentRecord EmailConsent = new("cart_recovery", "email", true, "c-1", T0.AddDays(-1), "checkout_form", "w-2026-03", "granted", null);

    [Fact]
    public void A_reminder_carries_purpose_wording_signed_links_and_the_rendered_message()
    {
        var policy = WithMessages();
        var message = MessageObligations.Complete(Reminder(1, "email"), policy, EmailConsent, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));

        Assert.Equal(("cart_recovery", "w-2026-03"), (message.Purpose, message.ConsentWordingVersion));
        Assert.Equal($"https://shop.example/unsubscribe?t={message.UnsubscribeToken}", message.UnsubscribeUrl);
        Assert.Equal(("cust-1", "cart_recovery", "email"),
            MessageTokens.Verify(policy.Keys, message.UnsubscribeToken) is { } u ? (u.ShopperId, u.Purpose, u.Channel) : default);
        Assert.Equal("trig-1", MessageTokens.Verify(policy.Keys, message.ResumeToken)!.TriggerId);
        Assert.Equal("1 items wait for you", message.MessageSubject);
        Assert.Equal(
            $"2 x Kettle at 39.5 EUR\nCode CR-ABC: 10 percent\nYou get this because you asked for cart reminders.\nResume: {message.ResumeUrl}\nStop: {message.UnsubscribeUrl}",
            message.MessageBody);
        Assert.Equal(new DateTime(2026, 11, 2, 10, 0, 0), message.ShopperLocalTime);
        Assert.Equal("Europe/Berlin", message.ShopperTimeZone);
    }

    [Fact]
    public void Without_a_template_for_the_step_and_channel_the_links_still_go_and_no_message_is_rendered()
    {
        var message = MessageObligations.Complete(Reminder(2, "sms"), WithMessages(), EmailConsent with { Channel = "sms" }, TimeZoneInfo.Utc);
        Assert.NotEmpty(message.UnsubscribeUrl);
        Assert.Equal(("", ""), (message.MessageSubject, message.MessageBody));
    }

    [Theory]
    [InlineData("""{ "templates": [ { "step": 1, "channel": "email", "body": "{% for x in items %}" } ] }""", "messages.templates[0].body")]
    [InlineData("""{ "templates": [ { "step": 1, "channel": "fax", "body": "hi" } ] }""", "messages.templates[0].channel")]
    [InlineData("""{ "templates": [ { "step": 0, "channel": "sms", "body": "hi" } ] }""", "messages.templates[0].step")]
    [InlineData("""{ "unsubscribe_link": "{{ token " }""", "messages.unsubscribe_link")]
    [InlineData("""{ "subject": "x" }""", "messages.subject")]
    public void A_bad_messages_section_names_its_key(string messages, string key)
    {
        var error = Assert.Throws<PolicyValidationException>(() => Policies.Edited(root => root["messages"] = JsonNode.Parse(messages)));
        Assert.Equal(key, error.Key);
    }
}
