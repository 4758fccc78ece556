using System.Text.Json.Nodes;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using Xunit;

namespace CartRecovery.Domain.Tests.Compliance;

/// <summary>The links of a reminder: RFC 8058 headers on email, tokens that expire with the policy's validity, and the
/// checkout URL a resume token leads to.</summary>
public class MessageLinkTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly ConsentRecord Consent = new("cart_recovery", "email", true, "c-1", T0.AddDays(-1), "checkout_form", "w-1", "granted", null);

    private static RecoveryPolicy Policy(string unsubscribeLink = "https://links.shop.example/unsubscribe?token={{ token }}") =>
        Policies.Edited(root => root["messages"] = new JsonObject
        {
            ["unsubscribe_link"] = unsubscribeLink,
            ["resume_link"] = "https://links.shop.example/resume?token={{ token }}",
            ["unsubscribe_valid_for"] = "60d",
            ["resume_valid_for"] = "14d",
            ["checkout_url"] = "https://shop.example/checkout?cart={{ cart }}&step={{ step }}&ref={{ trigger }}",
        });

    private static RecoveryTrigger Reminder(string channel) => new()
    {
        TriggerId = "trig 1", Kind = TriggerKinds.Reminder, ShopperId = "cust-1", SessionId = "s-1", Step = 1, Channel = channel,
        Score = 0.5, Reason = "reminder_step", PolicyVersion = "p", EventTime = T0, DueTime = T0, Currency = "EUR", FunnelStep = "checkout",
        CartLines = [new CartLine { Sku = "kettle-06", UnitPrice = 39.5m, Quantity = 2 }, new CartLine { Sku = "mug&co,blue", UnitPrice = 5m, Quantity = 1 }],
    };

    private static RecoveryTrigger Complete(RecoveryPolicy policy, string channel) =>
        MessageObligations.Complete(Reminder(channel), policy, Consent with { Channel = channel }, TimeZoneInfo.Utc);

    [Fact]
    public void An_email_carries_the_one_click_unsubscribe_headers_of_RFC_8058()
    {
        var email = Complete(Policy(), "email");
        Assert.Equal($"<{email.UnsubscribeUrl}>", email.ListUnsubscribe);
        Assert.StartsWith("<https://links.shop.example/unsubscribe?token=unsubscribe.v2.", email.ListUnsubscribe);
        Assert.Equal("List-Unsubscribe=One-Click", email.ListUnsubscribePost);
    }

    [Fact]
    public void Other_channels_and_a_link_that_is_not_https_carry_no_unsubscribe_headers()
    {
        var sms = Complete(Policy(), "sms");
        Assert.NotEmpty(sms.UnsubscribeUrl);
        Assert.Equal(("", ""), (sms.ListUnsubscribe, sms.ListUnsubscribePost));
        var plain = Complete(Policy("http://links.local/unsubscribe?token={{ token }}"), "email");
        Assert.Equal(("", ""), (plain.ListUnsubscribe, plain.ListUnsubscribePost));
    }

    [Fact]
    public void Tokens_expire_after_the_policy_validity_counted_from_the_decision()
    {
        var policy = Policy();
        var email = Complete(policy, "email");
        Assert.Equal(T0.AddDays(60), MessageTokens.Verify(policy.Keys, email.UnsubscribeToken)!.ExpiresAt);
        Assert.Equal(T0.AddDays(14), MessageTokens.Verify(policy.Keys, email.ResumeToken)!.ExpiresAt);
        Assert.Equal(TokenStatus.Expired, MessageTokens.Check(policy.Keys, email.ResumeToken, T0.AddDays(14)).Status);
        Assert.Equal(TokenStatus.Valid, MessageTokens.Check(policy.Keys, email.UnsubscribeToken, T0.AddDays(59)).Status);
    }

    [Fact]
    public void Defaults_are_90_days_to_unsubscribe_and_30_days_to_resume()
    {
        var policy = Policies.Edited(root => root["messages"] = new JsonObject { ["unsubscribe_link"] = "https://l.example/u?t={{ token }}" });
        var email = Complete(policy, "email");
        Assert.Equal(T0.AddDays(90), MessageTokens.Verify(policy.Keys, email.UnsubscribeToken)!.ExpiresAt);
        Assert.Equal(T0.AddDays(30), MessageTokens.Verify(policy.Keys, email.ResumeToken)!.ExpiresAt);
        Assert.Null(MessageObligations.CheckoutUrl(policy.Messages, MessageTokens.Verify(policy.Keys, email.ResumeToken)!));
    }

    [Fact]
    public void The_resume_token_leads_to_the_checkout_url_with_the_cart_restored_and_skus_escaped()
    {
        var policy = Policy();
        var claims = MessageTokens.Verify(policy.Keys, Complete(policy, "email").ResumeToken)!;
        Assert.Equal("https://shop.example/checkout?cart=kettle-06:2,mug%26co%2Cblue:1&step=checkout&ref=trig%201",
            MessageObligations.CheckoutUrl(policy.Messages, claims));
    }

    [Fact]
    public void A_policy_with_a_bad_validity_is_refused_naming_the_key()
    {
        var error = Assert.Throws<PolicyValidationException>(() => Policies.Edited(root => root["messages"] = new JsonObject { ["resume_valid_for"] = "0s" }));
        Assert.Contains("resume_valid_for", error.Message);
    }
}
